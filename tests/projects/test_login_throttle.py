"""Sign-in is throttled per username and per client address; API tokens can be rotated and revoked."""

import pytest


@pytest.fixture(autouse=True)
def _empty_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def _login(client, username, password, url="/accounts/login/", ip="10.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_failed_sign_ins_are_throttled_per_username(client, cast, settings, url):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        assert _login(client, "root", "wrong-password", url).status_code == 200  # form shown again with an error
    refused = _login(client, "root", "a-long-test-password-1", url, ip="10.0.0.2")  # even the right password
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    other = _login(client, "lab", "a-long-test-password-1", url, ip="10.0.0.3")
    assert other.status_code == (200 if url.startswith("/admin") else 302)  # not throttled (the admin wants staff)


def test_one_address_guessing_many_usernames_is_throttled(client, cast, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for name in ("a", "b", "c"):
        _login(client, name, "nope", ip="10.9.9.9")
    assert _login(client, "lab", "a-long-test-password-1", ip="10.9.9.9").status_code == 429
    assert _login(client, "lab", "a-long-test-password-1", ip="10.9.9.8").status_code == 302


def test_throttle_window_passes_and_success_forgives(client, cast, settings):
    from django.core.cache import cache

    settings.LOGIN_FAILURE_LIMIT = 2
    _login(client, "lab", "wrong", ip="10.0.0.5")
    assert _login(client, "lab", "a-long-test-password-1", ip="10.0.0.6").status_code == 302
    client.logout()
    _login(client, "lab", "wrong", ip="10.0.0.7")  # one failure after the success: still allowed
    assert _login(client, "lab", "a-long-test-password-1", ip="10.0.0.8").status_code == 302
    client.logout()
    _login(client, "lab", "wrong", ip="10.0.0.9")
    _login(client, "lab", "wrong", ip="10.0.0.9")
    assert _login(client, "lab", "a-long-test-password-1", ip="10.0.0.10").status_code == 429
    cache.clear()  # what the window's expiry does
    assert _login(client, "lab", "a-long-test-password-1", ip="10.0.0.10").status_code == 302


def test_csrf_is_enforced_on_the_sign_in_form(cast):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/accounts/login/", {"username": "lab", "password": "a-long-test-password-1"}).status_code == 403


def test_a_token_can_be_rotated_and_revoked_by_its_owner(api, cast):
    old = cast["consumer"].auth_token.key
    api.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    response = api.post("/api/v1/me/token")
    assert response.status_code == 201
    new = response.json()["token"]
    assert new != old
    assert api.get("/api/v1/me/").status_code == 401  # the old token stopped working
    api.credentials(HTTP_AUTHORIZATION=f"Token {new}")
    assert api.get("/api/v1/me/").json()["username"] == "con"
    assert api.delete("/api/v1/me/token").status_code == 204
    assert api.get("/api/v1/me/").status_code == 401


def test_token_rotation_needs_authentication_and_csrf_for_sessions(cast):
    from rest_framework.test import APIClient

    assert APIClient().post("/api/v1/me/token").status_code == 401
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(cast["labeler"])
    assert browser.post("/api/v1/me/token").status_code == 403  # a session write without the CSRF token


def test_weak_passwords_are_refused(db):
    from django.core.exceptions import ValidationError

    from projects.services import create_user

    for weak in ("short", "password123", "1234567890123"):
        with pytest.raises(ValidationError):
            create_user(username="weak", role="labeler", password=weak)
