"""The projects app's API routes (mounted under /api/v1/ by config.urls). No trailing slashes: see core.middleware."""

from django.urls import path

from projects import api

api_urlpatterns = [
    path("me", api.MeApi.as_view(), name="me"),
    path("me/token", api.MyTokenApi.as_view(), name="me-token"),
    path("projects", api.ProjectListApi.as_view(), name="project-list"),
    path("projects/<slug:slug>", api.ProjectDetailApi.as_view(), name="project-detail"),
]
