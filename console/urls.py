"""The console's pages (mounted under /console/ by config.urls)."""

from django.urls import path

from console import views

urlpatterns = [
    path("<slug:slug>/", views.overview, name="console-overview"),
    path("<slug:slug>/running", views.running_now, name="console-running"),
]
