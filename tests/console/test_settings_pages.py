"""Project settings from the console, for a project admin who is not staff: members (invite, change role, remove;
never demote the last admin), their own API token, and the project's LLM endpoints (an
allowed host, a key variable under the project's prefix, never another endpoint's name; site-wide ones read-only)."""

from django.contrib.auth import get_user_model

from llm.models import EndpointCheck, LLMEndpoint
from llm.services import create_endpoint
from projects.models import ApiToken, Invitation, Membership


def test_members_are_invited_changed_and_removed_but_the_last_admin_is_never_demoted(client, cast, project):
    admin = cast["project_admin"]
    client.force_login(admin)
    page = client.get("/console/alpha/members/").content.decode()
    assert 'data-user="padmin"' in page and 'data-user="beta-admin"' not in page
    for name in ("nobody", cast["other_labeler"].username):  # the same answer: an invitation link, shown once
        invited = client.post("/console/alpha/members/", {"username": name, "role": "labeler"})
        assert invited.status_code == 200 and 'id="shown-link"' in invited.content.decode()
    assert "shown-link" not in client.get("/console/alpha/members/").content.decode()  # shown once
    made = client.post("/console/alpha/members/", {"username": "reader", "role": "consumer", "create": "on"})
    assert made.status_code == 200 and not get_user_model().objects.filter(username="reader").exists()  # staff only
    other = cast["other_labeler"]
    assert not Membership.objects.filter(user=other, project=project).exists()  # until they accept
    client.force_login(other)
    client.post(f"/invitations/{Invitation.objects.get(user=other).pk}/accept")
    client.force_login(admin)
    assert Membership.objects.get(user=other, project=project).role == "labeler"
    client.post(f"/console/alpha/members/{other.pk}/role", {"role": "admin"})
    assert Membership.objects.get(user=other, project=project).role == "admin"
    client.post(f"/console/alpha/members/{other.pk}/remove")
    assert not Membership.objects.filter(user=other, project=project).exists()
    last = client.post(f"/console/alpha/members/{admin.pk}/role", {"role": "labeler"}, follow=True)
    assert "at least one admin" in last.content.decode()
    assert Membership.objects.get(user=admin, project=project).role == "admin"
    bad = client.post(f"/console/alpha/members/{admin.pk}/role", {"role": "staff"}, follow=True)
    assert "role: one of" in bad.content.decode()
    foreign = cast["other_admin"]
    client.post(f"/console/alpha/members/{foreign.pk}/remove")  # a beta member, not alpha's: nothing to remove
    assert Membership.objects.filter(user=foreign).exists()
    token = client.post("/console/alpha/token", {"action": "rotate"}).content.decode()
    assert ApiToken.objects.get(user=admin).prefix in token and 'id="shown-token"' in token
    client.post("/console/alpha/token", {"action": "revoke"})
    assert not ApiToken.objects.filter(user=admin).exists()


def test_project_endpoints_are_bounded_and_scoped(client, cast, project, settings):
    settings.PROJECT_ENDPOINT_HOSTS = ["127.0.0.1", ".models.internal"]
    create_endpoint(name="shared", base_url="http://10.0.0.1/v1", model="big")
    create_endpoint(
        name="beta-own", base_url="http://127.0.0.1:9/v1", model="m", project=cast["other_admin"].projects.get()
    )
    client.force_login(cast["project_admin"])
    page = client.get("/console/alpha/endpoints/").content.decode()
    assert 'data-endpoint="shared"' in page and "beta-own" not in page
    assert f"must start with LLM_KEY_P{project.pk}_" in page  # the id-scoped prefix (issue 34, finding 1)
    assert 'href="/console/alpha/endpoints/shared/"' not in page  # site-wide: read-only (a check is fine)
    base = {
        "model": "m",
        "api_style": "chat",
        "max_concurrency": 2,
        "request_timeout_s": 30,
        "max_retries": 1,
        "price_input_per_1k": 0,
        "price_output_per_1k": 0,
        "is_active": "on",
    }
    cases = [
        ({"name": "mine", "base_url": "http://169.254.169.254/v1"}, "base_url", "not one a site admin allowed"),
        (
            {"name": "mine", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "OPENAI_API_KEY"},
            "api_key_env",
            f"LLM_KEY_P{project.pk}_",
        ),
        ({"name": "shared", "base_url": "http://127.0.0.1:9/v1"}, "name", "is taken"),
        ({"name": "beta-own", "base_url": "http://127.0.0.1:9/v1"}, "name", "is taken"),
        ({"name": "mine", "base_url": "http://127.0.0.1:9/v1", "max_concurrency": 10_000}, "max_concurrency", "64"),
    ]
    for fields, field, words in cases:
        answer = client.post("/console/alpha/endpoints/", {**base, **fields})
        assert answer.status_code == 400 and words in answer.content.decode(), field
    assert LLMEndpoint.objects.get(name="shared").project is None and LLMEndpoint.objects.count() == 2
    own_key = f"LLM_KEY_P{project.pk}_GPU"  # new endpoints take the id form (issue 34 re-test, C)
    ok = client.post(
        "/console/alpha/endpoints/",
        {**base, "name": "mine", "base_url": "http://gpu1.models.internal:8000/v1", "api_key_env": own_key},
    )
    mine = LLMEndpoint.objects.get(name="mine")
    assert ok.status_code == 302 and mine.project == project and mine.api_key_env == own_key
    client.post("/console/alpha/endpoints/mine/", {**base, "name": "renamed", "base_url": mine.base_url, "model": "m2"})
    mine.refresh_from_db()
    assert mine.model == "m2" and mine.is_active and not LLMEndpoint.objects.filter(name="renamed").exists()
    client.post("/console/alpha/endpoints/mine/check")
    assert EndpointCheck.objects.get().endpoint == mine
    page = client.get("/console/alpha/endpoints/").content.decode()
    assert 'hx-trigger="every 2s"' in page  # a queued check: the list refreshes itself
    assert client.get("/console/alpha/endpoints/shared/").status_code == 404
    assert client.get("/console/alpha/endpoints/beta-own/").status_code == 404


def test_the_project_and_its_guidelines_are_edited_and_labelers_see_them(client, cast, project):
    client.force_login(cast["project_admin"])
    long = client.post("/console/alpha/project", {"name": "A", "guidelines": "x" * 20_001})
    assert long.status_code == 400 and "20000" in long.content.decode().replace(",", "")
    blank = client.post("/console/alpha/project", {"name": "  "})
    assert blank.status_code == 400
    saved = client.post("/console/alpha/project", {"name": "Alpha two", "guidelines": "Prefer **short** answers."})
    assert saved.status_code == 302
    project.refresh_from_db()
    assert (project.name, project.slug, project.guidelines) == ("Alpha two", "alpha", "Prefer **short** answers.")
    client.force_login(cast["other_admin"])
    assert client.get("/console/alpha/project").status_code == 404
