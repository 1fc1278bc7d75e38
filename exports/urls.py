"""Dataset versions' API routes (mounted under /api/v1/ by config.urls)."""

from django.urls import path

from exports import api

api_urlpatterns = [
    path("datasets", api.DatasetListCreateApi.as_view(), name="dataset-list"),
    path("datasets/<int:version_id>", api.DatasetDetailApi.as_view(), name="dataset-detail"),
    path("datasets/<int:version_id>/download", api.DatasetDownloadApi.as_view(), name="dataset-download"),
]
