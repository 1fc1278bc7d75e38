"""Accounts and roles: create_user, login/logout, and a home page scoped to the user's projects."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from projects.models import ApiToken, Membership

User = get_user_model()


def test_create_user_roles_tokens_and_membership(db, project, capsys):
    call_command("create_user", "ann", "--role", "consumer", "--project", "alpha", "--token")
    out = capsys.readouterr().out
    user = User.objects.get(username="ann")
    assert f"token: {ApiToken.objects.get(user=user).prefix}" in out
    assert "password: " in out and not user.is_staff
    assert Membership.objects.get(user=user).role == "consumer"
    call_command("create_user", "boss", "--role", "admin")
    boss = User.objects.get(username="boss")
    assert boss.is_staff and boss.is_superuser and not ApiToken.objects.filter(user=boss).exists()


def test_create_user_errors_are_clear_and_write_nothing(db, project, monkeypatch):
    with pytest.raises(CommandError, match="no project with slug 'nope'"):
        call_command("create_user", "x", "--role", "labeler", "--project", "nope")
    monkeypatch.setenv("WEAK_PW", "12345")
    with pytest.raises(CommandError, match="too short"):
        call_command("create_user", "x", "--role", "labeler", "--password-env", "WEAK_PW")
    with pytest.raises(CommandError, match="UNSET_PW is not set"):
        call_command("create_user", "x", "--role", "labeler", "--password-env", "UNSET_PW")
    assert not User.objects.filter(username="x").exists()
    call_command("create_user", "x", "--role", "labeler")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_user", "x", "--role", "labeler")


def test_login_page_home_and_logout(client, cast, project, other_project):
    page = client.get("/")
    assert page.status_code == 302 and page["Location"].startswith("/accounts/login/")
    login = client.get("/accounts/login/")
    assert login.status_code == 200 and b"csrfmiddlewaretoken" in login.content
    bad = client.post("/accounts/login/", {"username": "lab", "password": "wrong"})
    assert bad.status_code == 200 and b"Please try again" in bad.content
    ok = client.post("/accounts/login/", {"username": "lab", "password": "a-long-test-password-1"})
    assert ok.status_code == 302
    home = client.get("/").content.decode()
    assert "Alpha" in home and "Beta" not in home  # only the labeler's own project
    assert "/admin/" not in home  # no admin link for a labeler
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_admin_site_is_for_staff_only(client, cast):
    client.force_login(cast["labeler"])
    assert client.get("/admin/").status_code == 302  # redirected to the admin login
    client.force_login(cast["admin"])
    assert client.get("/admin/").status_code == 200
    for url in (
        "/admin/projects/project/",
        "/admin/llm/llmendpoint/",
        "/admin/llm/llmrequest/",
        "/admin/selfinstruct/seedtask/",
        "/admin/llm/endpointcheck/",
    ):
        assert client.get(url).status_code == 200, url


def test_login_form_enforces_csrf(cast):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/accounts/login/", {"username": "lab", "password": "a-long-test-password-1"})
    assert response.status_code == 403
