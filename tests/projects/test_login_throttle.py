"""Sign-in lock-outs (django-axes): per username+address, a higher per-address limit, behind a trusted proxy,
under concurrent guesses; API tokens can be rotated and revoked."""

from datetime import timedelta

import pytest
from django.utils import timezone


def _login(client, username, password, url="/accounts/login/", ip="10.0.0.1", **extra):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_failures_lock_one_username_from_one_address_only(client, cast, settings, url):
    """Finding 3: the lock is per username+address, so an attacker elsewhere cannot lock a user out."""
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(2):
        assert _login(client, "root", "wrong-password", url).status_code == 200  # form shown again with an error
    assert _login(client, "root", "wrong-password", url).status_code == 429  # the third failure locks
    refused = _login(client, "root", "a-long-test-password-1", url)  # even the right password, from there
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    elsewhere = _login(client, "root", "a-long-test-password-1", url, ip="10.0.0.2")  # the real user, elsewhere
    assert elsewhere.status_code == 302
    other = _login(client, "lab", "a-long-test-password-1", url, ip="10.0.0.1")
    assert other.status_code == (200 if url.startswith("/admin") else 302)  # not locked (the admin wants staff)


def test_guessing_usernames_from_one_address_has_its_own_higher_limit(client, cast, settings):
    settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_ADDRESS_FAILURE_LIMIT = 3, 6
    for name in ("a", "b", "c", "d", "e"):  # five failures with usernames that do not exist
        _login(client, name, "nope", ip="10.9.9.9")
    assert _login(client, "lab", "a-long-test-password-1", ip="10.9.9.9").status_code == 302  # still allowed
    client.logout()
    _login(client, "f", "nope", ip="10.9.9.9")  # the sixth: the address is locked for every username
    assert _login(client, "con", "a-long-test-password-1", ip="10.9.9.9").status_code == 429
    assert _login(client, "con", "a-long-test-password-1", ip="10.9.9.8").status_code == 302


def test_the_window_passes_and_success_forgives_the_username(client, cast, settings):
    from axes.models import AccessAttempt

    settings.LOGIN_FAILURE_LIMIT = 2
    _login(client, "lab", "wrong", ip="10.0.0.5")
    assert _login(client, "lab", "a-long-test-password-1", ip="10.0.0.5").status_code == 302
    client.logout()
    _login(client, "lab", "wrong", ip="10.0.0.5")  # one failure after the success: still allowed
    assert _login(client, "lab", "a-long-test-password-1", ip="10.0.0.5").status_code == 302
    client.logout()
    _login(client, "lab", "wrong", ip="10.0.0.5")
    _login(client, "lab", "wrong", ip="10.0.0.5")
    assert _login(client, "lab", "a-long-test-password-1", ip="10.0.0.5").status_code == 429
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS + 1)
    )
    assert _login(client, "lab", "a-long-test-password-1", ip="10.0.0.5").status_code == 302


def test_behind_a_trusted_proxy_the_proxys_view_of_the_client_counts(client, cast, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.254"  # everyone arrives from the proxy
    for _ in range(2):  # an attacker behind the proxy, writing a fake address into the header itself
        _login(client, "lab", "wrong", ip=proxy, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    assert (
        _login(
            client, "lab", "a-long-test-password-1", ip=proxy, HTTP_X_FORWARDED_FOR="9.9.9.9, 198.51.100.7"
        ).status_code
        == 429
    )
    assert (
        _login(client, "lab", "a-long-test-password-1", ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.8").status_code
        == 302
    )
    settings.TRUSTED_PROXY_COUNT = 0  # no trusted proxy: the header is ignored, the connecting address counts
    client.logout()
    assert (
        _login(
            client, "lab", "a-long-test-password-1", ip="198.51.100.9", HTTP_X_FORWARDED_FOR="198.51.100.7"
        ).status_code
        == 302
    )  # the locked address, only claimed


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_are_counted_before_the_next_is_checked(live_server, cast, settings):
    """Finding 3: 20 wrong passwords for one user sent at once were all checked (limit 5)."""
    import threading
    import urllib.error
    import urllib.parse
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    from django.contrib.auth.base_user import AbstractBaseUser

    settings.LOGIN_FAILURE_LIMIT = 5
    checked, lock = [0], threading.Lock()
    original = AbstractBaseUser.check_password

    def counting(self, raw_password):
        with lock:
            checked[0] += 1
        return original(self, raw_password)

    def attempt(n):
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        page = opener.open(f"{live_server.url}/accounts/login/", timeout=30).read().decode()
        token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        body = urllib.parse.urlencode({"username": "lab", "password": f"wrong-{n}", "csrfmiddlewaretoken": token})
        request = urllib.request.Request(
            f"{live_server.url}/accounts/login/", data=body.encode(), headers={"Referer": live_server.url}
        )
        try:
            return opener.open(request, timeout=60).status
        except urllib.error.HTTPError as exc:
            return exc.code

    AbstractBaseUser.check_password = counting
    try:
        with ThreadPoolExecutor(20) as pool:
            statuses = list(pool.map(attempt, range(20)))
    finally:
        AbstractBaseUser.check_password = original
    assert checked[0] == 5, statuses
    assert sorted(statuses) == [200] * 4 + [429] * 16  # the fifth failure is answered with the lock-out


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
