"""Generation's API routes (mounted under /api/v1/ by config.urls)."""

from django.urls import path

from selfinstruct import api, curation_api, rating_api

api_urlpatterns = [
    path("projects/<slug:slug>/seeds", api.SeedImportApi.as_view(), name="project-seeds"),
    path("projects/<slug:slug>/seeds/bulk", curation_api.SeedBulkApi.as_view(), name="project-seeds-bulk"),
    path("projects/<slug:slug>/seeds/<int:item_id>", curation_api.SeedItemApi.as_view(), name="project-seed"),
    path(
        "projects/<slug:slug>/instructions/bulk",
        curation_api.InstructionBulkApi.as_view(),
        name="project-instructions-bulk",
    ),
    path(
        "projects/<slug:slug>/instructions/<int:item_id>",
        curation_api.InstructionItemApi.as_view(),
        name="project-instruction",
    ),
    path("projects/<slug:slug>/taxonomy", rating_api.TaxonomyApi.as_view(), name="project-taxonomy"),
    path("generation-batches", api.BatchListCreateApi.as_view(), name="batch-list"),
    path("generation-batches/<int:batch_id>", api.BatchDetailApi.as_view(), name="batch-detail"),
    path("generation-batches/<int:batch_id>/pause", api.BatchPauseApi.as_view(), name="batch-pause"),
    path("generation-batches/<int:batch_id>/resume", api.BatchResumeApi.as_view(), name="batch-resume"),
    path("generation-batches/<int:batch_id>/cancel", api.BatchCancelApi.as_view(), name="batch-cancel"),
    path("rating-runs", rating_api.RatingRunListCreateApi.as_view(), name="rating-run-list"),
    path("rating-runs/<int:run_id>", rating_api.RatingRunDetailApi.as_view(), name="rating-run-detail"),
    path("rating-runs/<int:run_id>/cancel", rating_api.RatingRunCancelApi.as_view(), name="rating-run-cancel"),
    path("diversity", rating_api.DiversityApi.as_view(), name="diversity"),
]
