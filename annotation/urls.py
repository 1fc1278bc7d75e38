"""Ranking's API routes (mounted under /api/v1/; each at `projects/<slug>/…`, and at its deprecated flat path:
projects/endpoints.py) and labeler pages (mounted under /label/) for config.urls."""

from django.urls import path

from annotation import agreement_api, api, guardrails_api, review_api, review_views, runs_api, settings_api, views
from projects.endpoints import project_routes

scoped, flat = project_routes(
    ("annotation/next", api.NextTaskApi.as_view(), "annotation-next"),
    ("annotation/undo", api.UndoApi.as_view(), "annotation-undo"),
    ("annotation/rankings", api.RankingListApi.as_view(), "annotation-rankings"),
    ("annotation/stats", api.StatsApi.as_view(), "annotation-stats"),
    ("annotation/judge-runs", runs_api.JudgeListCreateApi.as_view(), "annotation-judge-runs"),
    ("annotation/judge-runs/<int:run_id>", runs_api.JudgeDetailApi.as_view(), "annotation-judge-run"),
    ("annotation/tasks/<int:task_id>/ranking", api.SubmitRankingApi.as_view(), "annotation-task-ranking"),
    ("annotation/tasks/<int:task_id>/skip", api.TaskSkipApi.as_view(), "annotation-task-skip"),
    ("annotation/tasks/<int:task_id>/heartbeat", api.TaskHeartbeatApi.as_view(), "annotation-task-heartbeat"),
    ("sampling-runs", runs_api.SamplingListCreateApi.as_view(), "sampling-list"),
    ("sampling-runs/<int:run_id>", runs_api.SamplingDetailApi.as_view(), "sampling-detail"),
)
api_urlpatterns = [
    *scoped,
    *flat,
    *review_api.api_urlpatterns,
    *agreement_api.api_urlpatterns,
    *guardrails_api.api_urlpatterns,
    *settings_api.api_urlpatterns,
]

label_urlpatterns = [
    path("", views.label_home, name="label-home"),
    path("<slug:slug>/", views.label_next, name="label-next"),
    path("<slug:slug>/tasks/<int:task_id>/submit", views.label_submit, name="label-submit"),
    path("<slug:slug>/tasks/<int:task_id>/skip", views.label_skip, name="label-skip"),
    path("<slug:slug>/undo", views.label_undo, name="label-undo"),
    path("<slug:slug>/dashboard/", views.dashboard, name="label-dashboard"),
    path("<slug:slug>/review/", review_views.review_next, name="label-review"),
    path("<slug:slug>/review/tasks/<int:task_id>/", review_views.review_task, name="label-review-task"),
    path("<slug:slug>/review/tasks/<int:task_id>/decide", review_views.review_decide, name="label-review-decide"),
]
