"""The projects app's pages beside the home page (mounted at the site root by config.urls): invitations, leaving."""

from django.urls import path

from projects import views

urlpatterns = [
    path("invitations/join/<str:link>", views.join_by_link, name="invitation-join"),
    path("invitations/<int:invitation_id>/<str:action>", views.respond_to_invitation, name="invitation-respond"),
    path("projects/<slug:slug>/leave", views.leave, name="project-leave"),
]
