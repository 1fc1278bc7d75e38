"""LLM endpoints' API routes (mounted under /api/v1/ by config.urls)."""

from django.urls import path

from llm import api

api_urlpatterns = [
    path("endpoints", api.EndpointListCreateApi.as_view(), name="endpoint-list"),
    path("endpoints/<slug:name>", api.EndpointDetailApi.as_view(), name="endpoint-detail"),
]
