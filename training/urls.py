"""Training's API routes (mounted under /api/v1/ by config.urls): each at `projects/<slug>/<path>` (named
`project-<name>`) and at its deprecated flat path under its old name (projects.endpoints.project_routes)."""

from projects.endpoints import project_routes
from training import api, compare_api, difficulty_api, serving_api

scoped, flat = project_routes(
    ("training-jobs", api.JobListCreateApi.as_view(), "training-job-list"),
    ("training-jobs/<int:job_id>", api.JobDetailApi.as_view(), "training-job-detail"),
    ("training-jobs/<int:job_id>/metrics", api.JobMetricsApi.as_view(), "training-job-metrics"),
    ("training-jobs/<int:job_id>/cancel", api.JobCancelApi.as_view(), "training-job-cancel"),
    ("training-jobs/<int:job_id>/scoring", api.JobScoringApi.as_view(), "training-job-scoring"),
    ("training-jobs/<int:job_id>/artifacts/<path:name>", api.JobArtifactApi.as_view(), "training-job-artifact"),
    ("training-jobs/<int:job_id>/win-rate", api.JobWinRateApi.as_view(), "training-job-win-rate"),
    ("training-jobs/<int:job_id>/serve", serving_api.JobServeApi.as_view(), "training-job-serve"),
    ("serving-runs", serving_api.ServingRunListApi.as_view(), "serving-run-list"),
    ("serving-runs/<int:run_id>", serving_api.ServingRunDetailApi.as_view(), "serving-run-detail"),
    ("serving-runs/<int:run_id>/cancel", serving_api.ServingRunCancelApi.as_view(), "serving-run-cancel"),
    ("training/compare", compare_api.TrainingCompareApi.as_view(), "training-compare"),
    ("evaluations", api.EvaluationListCreateApi.as_view(), "evaluation-list"),
    ("evaluations/<int:run_id>", api.EvaluationDetailApi.as_view(), "evaluation-detail"),
    ("difficulty-runs", difficulty_api.DifficultyRunListCreateApi.as_view(), "difficulty-run-list"),
    ("difficulty-runs/<int:run_id>", difficulty_api.DifficultyRunDetailApi.as_view(), "difficulty-run-detail"),
    ("difficulty-runs/<int:run_id>/cancel", difficulty_api.DifficultyRunCancelApi.as_view(), "difficulty-run-cancel"),
    ("difficulty", difficulty_api.DifficultyDistributionApi.as_view(), "difficulty-distribution"),
)
api_urlpatterns = scoped + flat
