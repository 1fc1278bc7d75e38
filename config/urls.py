from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotation import api as annotation_api
from annotation import views as annotation_views
from core.api import HealthApi
from exports import api as exports_api
from projects import api as projects_api
from projects import views as projects_views
from selfinstruct import api as selfinstruct_api
from training import api as training_api

api_v1 = [
    path("health/", HealthApi.as_view(), name="health"),
    path("me/", projects_api.MeApi.as_view(), name="me"),
    path("me/token", projects_api.MyTokenApi.as_view(), name="me-token"),
    path("projects/", projects_api.ProjectListApi.as_view(), name="project-list"),
    path("projects/<slug:slug>/", projects_api.ProjectDetailApi.as_view(), name="project-detail"),
    path("projects/<slug:slug>/seeds", selfinstruct_api.SeedImportApi.as_view(), name="project-seeds"),
    path("generation-batches/", selfinstruct_api.BatchListCreateApi.as_view(), name="batch-list"),
    path("generation-batches/<int:batch_id>/", selfinstruct_api.BatchDetailApi.as_view(), name="batch-detail"),
    path("generation-batches/<int:batch_id>/pause", selfinstruct_api.BatchPauseApi.as_view(), name="batch-pause"),
    path("generation-batches/<int:batch_id>/resume", selfinstruct_api.BatchResumeApi.as_view(), name="batch-resume"),
    path("generation-batches/<int:batch_id>/cancel", selfinstruct_api.BatchCancelApi.as_view(), name="batch-cancel"),
    path("annotation/next", annotation_api.NextTaskApi.as_view(), name="annotation-next"),
    path("annotation/undo", annotation_api.UndoApi.as_view(), name="annotation-undo"),
    path("annotation/rankings", annotation_api.RankingListApi.as_view(), name="annotation-rankings"),
    path("annotation/stats", annotation_api.StatsApi.as_view(), name="annotation-stats"),
    path("annotation/judge-runs", annotation_api.JudgeListCreateApi.as_view(), name="annotation-judge-runs"),
    path("annotation/judge-runs/<int:run_id>", annotation_api.JudgeDetailApi.as_view(), name="annotation-judge-run"),
    path(
        "annotation/tasks/<int:task_id>/ranking",
        annotation_api.SubmitRankingApi.as_view(),
        name="annotation-task-ranking",
    ),
    path("annotation/tasks/<int:task_id>/skip", annotation_api.TaskSkipApi.as_view(), name="annotation-task-skip"),
    path(
        "annotation/tasks/<int:task_id>/heartbeat",
        annotation_api.TaskHeartbeatApi.as_view(),
        name="annotation-task-heartbeat",
    ),
    path("datasets/", exports_api.DatasetListCreateApi.as_view(), name="dataset-list"),
    path("datasets/<int:version_id>/", exports_api.DatasetDetailApi.as_view(), name="dataset-detail"),
    path("datasets/<int:version_id>/download", exports_api.DatasetDownloadApi.as_view(), name="dataset-download"),
    path("training-jobs/", training_api.JobListCreateApi.as_view(), name="training-job-list"),
    path("training-jobs/<int:job_id>/", training_api.JobDetailApi.as_view(), name="training-job-detail"),
    path("training-jobs/<int:job_id>/metrics", training_api.JobMetricsApi.as_view(), name="training-job-metrics"),
    path("training-jobs/<int:job_id>/cancel", training_api.JobCancelApi.as_view(), name="training-job-cancel"),
    path("evaluations/", training_api.EvaluationListCreateApi.as_view(), name="evaluation-list"),
    path("evaluations/<int:run_id>", training_api.EvaluationDetailApi.as_view(), name="evaluation-detail"),
    path("training-jobs/<int:job_id>/scoring", training_api.JobScoringApi.as_view(), name="training-job-scoring"),
    path(
        "training-jobs/<int:job_id>/artifacts/<path:name>",
        training_api.JobArtifactApi.as_view(),
        name="training-job-artifact",
    ),
    path("sampling-runs/", annotation_api.SamplingListCreateApi.as_view(), name="sampling-list"),
    path("sampling-runs/<int:run_id>/", annotation_api.SamplingDetailApi.as_view(), name="sampling-detail"),
]

label_urls = [
    path("", annotation_views.label_home, name="label-home"),
    path("<slug:slug>/", annotation_views.label_next, name="label-next"),
    path("<slug:slug>/tasks/<int:task_id>/submit", annotation_views.label_submit, name="label-submit"),
    path("<slug:slug>/tasks/<int:task_id>/skip", annotation_views.label_skip, name="label-skip"),
    path("<slug:slug>/undo", annotation_views.label_undo, name="label-undo"),
    path("<slug:slug>/dashboard/", annotation_views.dashboard, name="label-dashboard"),
]

urlpatterns = [
    path("", projects_views.home, name="home"),
    path("accounts/login/", projects_views.ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "admin/login/",
        projects_views.ThrottledLoginView.as_view(
            template_name="admin/login.html",
            authentication_form=AdminAuthenticationForm,
            extra_context={"site_header": admin.site.site_header, "site_title": admin.site.site_title},
        ),
        name="admin-login",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("label/", include(label_urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # the split view serves Swagger UI's start-up script as a file: the pages carry no inline script (CSP)
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
handler404 = "core.api.not_found"
