"""LLM endpoints' and the playground's API routes (mounted under /api/v1/ by config.urls).

A project's endpoints (the site-wide ones it may use and its own) are at `projects/<slug>/endpoints…`; the site-level
`endpoints…` routes list and manage every endpoint the caller administers, the site-wide ones included (site admins
manage those there), so they are not deprecated. The playground takes a project: `projects/<slug>/llm/playground`,
with its deprecated flat twin `llm/playground` (projects.endpoints.project_routes)."""

from django.urls import path

from llm import api, playground_api
from projects.endpoints import SCOPED_NAME, SCOPED_PREFIX, project_routes

scoped, flat = project_routes(("llm/playground", playground_api.PlaygroundApi.as_view(), "llm-playground"))
api_urlpatterns = [
    path(
        SCOPED_PREFIX + "endpoints",
        api.ProjectEndpointListCreateApi.as_view(),
        name=SCOPED_NAME.format("endpoint-list"),
    ),
    path(
        SCOPED_PREFIX + "endpoints/<slug:name>",
        api.ProjectEndpointDetailApi.as_view(),
        name=SCOPED_NAME.format("endpoint-detail"),
    ),
    path("endpoints", api.EndpointListCreateApi.as_view(), name="endpoint-list"),
    path("endpoints/<slug:name>", api.EndpointDetailApi.as_view(), name="endpoint-detail"),
    *scoped,
    *flat,
]
