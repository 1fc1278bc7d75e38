"""Training's API routes (mounted under /api/v1/ by config.urls)."""

from django.urls import path

from training import api, compare_api, difficulty_api, serving_api

api_urlpatterns = [
    path("training-jobs", api.JobListCreateApi.as_view(), name="training-job-list"),
    path("training-jobs/<int:job_id>", api.JobDetailApi.as_view(), name="training-job-detail"),
    path("training-jobs/<int:job_id>/metrics", api.JobMetricsApi.as_view(), name="training-job-metrics"),
    path("training-jobs/<int:job_id>/cancel", api.JobCancelApi.as_view(), name="training-job-cancel"),
    path("training-jobs/<int:job_id>/scoring", api.JobScoringApi.as_view(), name="training-job-scoring"),
    path(
        "training-jobs/<int:job_id>/artifacts/<path:name>", api.JobArtifactApi.as_view(), name="training-job-artifact"
    ),
    path("training-jobs/<int:job_id>/win-rate", api.JobWinRateApi.as_view(), name="training-job-win-rate"),
    path("training-jobs/<int:job_id>/serve", serving_api.JobServeApi.as_view(), name="training-job-serve"),
    path("serving-runs", serving_api.ServingRunListApi.as_view(), name="serving-run-list"),
    path("serving-runs/<int:run_id>", serving_api.ServingRunDetailApi.as_view(), name="serving-run-detail"),
    path("serving-runs/<int:run_id>/cancel", serving_api.ServingRunCancelApi.as_view(), name="serving-run-cancel"),
    path("training/compare", compare_api.TrainingCompareApi.as_view(), name="training-compare"),
    path("evaluations", api.EvaluationListCreateApi.as_view(), name="evaluation-list"),
    path("difficulty-runs", difficulty_api.DifficultyRunListCreateApi.as_view(), name="difficulty-run-list"),
    path("difficulty-runs/<int:run_id>", difficulty_api.DifficultyRunDetailApi.as_view(), name="difficulty-run-detail"),
    path(
        "difficulty-runs/<int:run_id>/cancel",
        difficulty_api.DifficultyRunCancelApi.as_view(),
        name="difficulty-run-cancel",
    ),
    path("difficulty", difficulty_api.DifficultyDistributionApi.as_view(), name="difficulty-distribution"),
    path("evaluations/<int:run_id>", api.EvaluationDetailApi.as_view(), name="evaluation-detail"),
]
