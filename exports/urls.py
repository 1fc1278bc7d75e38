"""Dataset versions' API routes (mounted under /api/v1/ by config.urls): each at `projects/<slug>/<path>` (named
`project-<name>`) and at its deprecated flat path under its old name (projects.endpoints.project_routes)."""

from exports import api
from projects.endpoints import project_routes

scoped, flat = project_routes(
    ("datasets", api.DatasetListCreateApi.as_view(), "dataset-list"),
    ("datasets/<int:version_id>", api.DatasetDetailApi.as_view(), "dataset-detail"),
    ("datasets/<int:version_id>/download", api.DatasetDownloadApi.as_view(), "dataset-download"),
)
api_urlpatterns = scoped + flat
