"""The project-scoped view base: the project resolved once from the URL, the role checked once by method, and the
deprecated flat twin of each route (same answers, plus Deprecation / Sunset / successor Link headers)."""

from __future__ import annotations

import pytest
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.test import APIClient

from projects.endpoints import DATA, ProjectEndpoint, admins, project_routes
from projects.models import Membership


class MembershipsApi(ProjectEndpoint):
    scopes = {"GET": DATA, "POST": admins("add members")}
    flat_lists_all = True

    def get(self, request):
        return Response(sorted(self.in_project(Membership.objects.all()).values_list("user__username", flat=True)))

    def post(self, request):
        return Response({"project": self.project.slug}, status=201)


class MembershipDetailApi(ProjectEndpoint):
    flat_object = (Membership, "membership_id", "project")

    def get(self, request, membership_id: int):
        return Response({"user": self.object_or_404(Membership.objects.all(), membership_id).user.username})


scoped, flat = project_routes(
    ("memberships", MembershipsApi.as_view(), "test-memberships"),
    ("memberships/<int:membership_id>", MembershipDetailApi.as_view(), "test-membership"),
)
urlpatterns = [path("api/v1/", include(scoped + flat))]


def client_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.urls(__name__)
def test_roles_by_method_on_scoped_routes(cast, project, other_project):
    consumer, labeler = client_as(cast["consumer"]), client_as(cast["labeler"])
    listed = consumer.get(f"/api/v1/projects/{project.slug}/memberships")
    assert listed.status_code == 200 and "padmin2" not in listed.json() and "con" in listed.json()
    assert "Deprecation" not in listed
    assert labeler.get(f"/api/v1/projects/{project.slug}/memberships").status_code == 404  # not a data role
    assert consumer.get(f"/api/v1/projects/{other_project.slug}/memberships").status_code == 404
    refused = consumer.post(f"/api/v1/projects/{project.slug}/memberships", {}, format="json")
    assert refused.status_code == 403 and "add members" in refused.json()["detail"]
    admin = client_as(cast["project_admin"])
    assert admin.post(f"/api/v1/projects/{project.slug}/memberships", {}, format="json").status_code == 201
    mismatch = admin.post(
        f"/api/v1/projects/{project.slug}/memberships", {"project": other_project.slug}, format="json"
    )
    assert mismatch.status_code == 400 and "project" in mismatch.json()["detail"]
    # an object of another project is not found through this project's route
    foreign = Membership.objects.get(user=cast["other_admin"])
    assert admin.get(f"/api/v1/projects/{project.slug}/memberships/{foreign.pk}").status_code == 404
    site = client_as(cast["admin"])
    assert site.get(f"/api/v1/projects/{other_project.slug}/memberships/{foreign.pk}").json() == {"user": "padmin2"}


@pytest.mark.urls(__name__)
def test_flat_twins_answer_the_same_with_deprecation_headers(cast, project, other_project):
    admin = client_as(cast["project_admin"])
    own = Membership.objects.get(user=cast["consumer"])
    flat = admin.get(f"/api/v1/memberships/{own.pk}")
    assert flat.status_code == 200 and flat.json() == {"user": "con"}
    assert flat["Deprecation"].startswith("@") and "GMT" in flat["Sunset"]
    assert flat["Link"] == f'</api/v1/projects/{project.slug}/memberships/{own.pk}>; rel="successor-version"'
    foreign = Membership.objects.get(user=cast["other_admin"])
    hidden, missing = admin.get(f"/api/v1/memberships/{foreign.pk}"), admin.get("/api/v1/memberships/999999")
    assert hidden.status_code == missing.status_code == 404 and hidden.json() == missing.json()  # nothing leaks
    # the successor is the same request on the new route: its query kept, less `project`
    listed = admin.get(f"/api/v1/memberships?project={project.slug}&limit=5")
    assert f'</api/v1/projects/{project.slug}/memberships?limit=5>; rel="successor-version"' in listed["Link"]
    mismatch = admin.get(f"/api/v1/projects/{project.slug}/memberships?project={other_project.slug}")
    assert mismatch.status_code == 400 and "project" in mismatch.json()["detail"]
    assert admin.post(f"/api/v1/memberships?project={project.slug}", {}, format="json").status_code == 201
    # a flat list without a project spans the caller's projects; with one it is that project's
    site = client_as(cast["admin"])
    assert {"padmin", "padmin2"} <= set(site.get("/api/v1/memberships").json())
    assert "padmin2" not in site.get(f"/api/v1/memberships?project={project.slug}").json()
    created = admin.post("/api/v1/memberships", {"project": project.slug}, format="json")
    assert created.status_code == 201 and created["Link"].startswith(f"</api/v1/projects/{project.slug}/")
    missing = admin.post("/api/v1/memberships", {}, format="json")
    assert missing.status_code == 400 and missing.json()["detail"].startswith("project:")
    assert admin.post("/api/v1/memberships", {"project": other_project.slug}, format="json").status_code == 404
