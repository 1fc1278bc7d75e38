"""Generation's API routes (mounted under /api/v1/ by config.urls). Project-owned resources answer at
`projects/<slug>/…`; the older flat routes of batches, rating runs and the diversity report still answer, deprecated
(projects/endpoints.py)."""

from django.urls import path

from projects.endpoints import project_routes
from selfinstruct import api, curation_api, diversity_api, rating_api, taxonomy_api

scoped, flat = project_routes(
    ("generation-batches", api.BatchListCreateApi.as_view(), "batch-list"),
    ("generation-batches/<int:batch_id>", api.BatchDetailApi.as_view(), "batch-detail"),
    ("generation-batches/<int:batch_id>/pause", api.BatchPauseApi.as_view(), "batch-pause"),
    ("generation-batches/<int:batch_id>/resume", api.BatchResumeApi.as_view(), "batch-resume"),
    ("generation-batches/<int:batch_id>/cancel", api.BatchCancelApi.as_view(), "batch-cancel"),
    ("rating-runs", rating_api.RatingRunListCreateApi.as_view(), "rating-run-list"),
    ("rating-runs/<int:run_id>", rating_api.RatingRunDetailApi.as_view(), "rating-run-detail"),
    ("rating-runs/<int:run_id>/cancel", rating_api.RatingRunCancelApi.as_view(), "rating-run-cancel"),
    ("diversity", diversity_api.DiversityApi.as_view(), "diversity"),
)

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
    path("projects/<slug:slug>/taxonomy", taxonomy_api.TaxonomyApi.as_view(), name="project-taxonomy"),
    *scoped,
    *flat,
]
