"""Generation's API routes (mounted under /api/v1/ by config.urls)."""

from django.urls import path

from selfinstruct import api

api_urlpatterns = [
    path("projects/<slug:slug>/seeds", api.SeedImportApi.as_view(), name="project-seeds"),
    path("generation-batches", api.BatchListCreateApi.as_view(), name="batch-list"),
    path("generation-batches/<int:batch_id>", api.BatchDetailApi.as_view(), name="batch-detail"),
    path("generation-batches/<int:batch_id>/pause", api.BatchPauseApi.as_view(), name="batch-pause"),
    path("generation-batches/<int:batch_id>/resume", api.BatchResumeApi.as_view(), name="batch-resume"),
    path("generation-batches/<int:batch_id>/cancel", api.BatchCancelApi.as_view(), name="batch-cancel"),
]
