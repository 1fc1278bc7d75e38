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


def _addresses(count, start=1):
    return [f"198.18.{n // 250}.{n % 250 + 1}" for n in range(start, start + count)]


def test_a_distributed_guess_against_one_username_is_slowed_across_all_addresses(client, cast, settings):
    """Decision: 60 addresses guessing one username were never refused (each stayed under the per-address limits).
    Failures for one username are summed over every address; at LOGIN_USERNAME_FAILURE_LIMIT (50) further attempts
    are answered 429 with Retry-After, unchecked, until the window lets the oldest failures age out."""
    from axes.models import AccessAttempt
    from django.contrib.auth.base_user import AbstractBaseUser

    assert settings.LOGIN_USERNAME_FAILURE_LIMIT == 50
    addresses = _addresses(60)
    for n, ip in enumerate(addresses[:49]):
        assert _login(client, "lab", f"wrong-{n}", ip=ip).status_code == 200, n
    assert _login(client, "lab", "wrong-49", ip=addresses[49]).status_code == 429  # the 50th failure: the ceiling
    checked = []
    original = AbstractBaseUser.check_password
    AbstractBaseUser.check_password = lambda self, raw: checked.append(raw) or original(self, raw)
    try:
        for ip in addresses[50:]:
            refused = _login(client, "lab", "wrong-again", ip=ip)  # the 51st… 60th guess, each from a new address
            assert refused.status_code == 429
            assert 0 < int(refused["Retry-After"]) <= settings.LOGIN_FAILURE_WINDOW_SECONDS
        owner = _login(client, "lab", "a-long-test-password-1", ip="198.51.100.77")  # the owner, somewhere new
        assert owner.status_code == 429 and "_auth_user_id" not in client.session
    finally:
        AbstractBaseUser.check_password = original
    assert checked == []  # refused before any password was checked
    assert "Too many failed sign-in attempts for this account" in owner.content.decode()
    zh = _login(client, "lab", "x", ip="198.51.100.78", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert zh.status_code == 429 and "此账号登录失败次数过多" in zh.content.decode()
    assert _login(client, "con", "a-long-test-password-1", ip=addresses[59]).status_code == 302  # others unaffected
    refused_uncounted = AccessAttempt.objects.filter(username="lab").values_list("failures_since_start", flat=True)
    assert sum(refused_uncounted) == 50  # refused attempts do not push the lock further out

    AccessAttempt.objects.update(  # the window passes: the oldest failures age out, attempts are checked again
        attempt_time=timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS + 1)
    )
    client.logout()
    assert _login(client, "lab", "a-long-test-password-1", ip="198.51.100.77").status_code == 302


def test_the_owners_known_address_is_not_held_by_the_username_ceiling(client, cast, settings):
    """A distributed guess must not lock the owner out: an address this username signed in from before (axes'
    access log, LOGIN_KNOWN_ADDRESS_DAYS) keeps only the per-address limits."""
    settings.LOGIN_USERNAME_FAILURE_LIMIT = 5
    assert _login(client, "lab", "a-long-test-password-1", ip="192.0.2.10").status_code == 302  # the owner, at home
    client.logout()
    for ip in _addresses(5):
        _login(client, "lab", "wrong", ip=ip)
    assert _login(client, "lab", "a-long-test-password-1", ip="192.0.2.11").status_code == 429  # a new address
    assert _login(client, "lab", "a-long-test-password-1", ip="192.0.2.10").status_code == 302  # home still works
    client.logout()
    settings.LOGIN_KNOWN_ADDRESS_DAYS = 0  # the exemption switched off
    assert _login(client, "lab", "a-long-test-password-1", ip="192.0.2.10").status_code == 429


def test_the_username_ceiling_ignores_case(client, cast, settings):
    settings.LOGIN_USERNAME_FAILURE_LIMIT = 4
    for ip, name in zip(_addresses(4), ("lab", "LAB", "Lab", "lAb"), strict=True):
        _login(client, name, "wrong", ip=ip)
    assert _login(client, "lab", "a-long-test-password-1", ip="192.0.2.20").status_code == 429


# Device cookies and the slow ceiling (OWASP "Slow Down Online Guessing Attacks with Device Cookies"): 50 failures
# per window from anywhere kept the owner out of a new address for good; now a browser the owner signed in with
# gets past the ceiling, and anyone else gets one checked attempt per LOGIN_USERNAME_SLOW_SECONDS.
OWNER_PASSWORD = "a-long-test-password-1"


def _spread_failures(client, username, count, start=1):
    for n, ip in enumerate(_addresses(count, start)):
        _login(client, username, f"wrong-{n}", ip=ip)


def _advance(seconds):
    """Move every recorded failure `seconds` into the past: time goes on, as far as the throttle can tell."""
    from axes.models import AccessAttempt

    for attempt in AccessAttempt.objects.all():
        AccessAttempt.objects.filter(pk=attempt.pk).update(
            attempt_time=attempt.attempt_time - timedelta(seconds=seconds)
        )


def _device_cookie(client):
    from projects.signin import DEVICE_COOKIE

    assert _login(client, "lab", OWNER_PASSWORD, ip="192.0.2.10").status_code == 302
    cookie = client.cookies[DEVICE_COOKIE]
    client.logout()  # forgets every cookie, the device one too
    return cookie


def test_a_browser_with_the_owners_device_cookie_gets_past_the_ceiling_from_a_new_address(client, cast, settings):
    from django.test import Client

    from projects.signin import DEVICE_COOKIE

    settings.LOGIN_USERNAME_FAILURE_LIMIT = 5
    cookie = _device_cookie(client)
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"]  # Secure in production
    assert int(cookie["max-age"]) == settings.LOGIN_DEVICE_COOKIE_DAYS * 86400 == 180 * 86400
    _spread_failures(Client(), "lab", 5)  # the ceiling, from strangers without the cookie
    stranger = Client()
    assert _login(stranger, "lab", OWNER_PASSWORD, ip="203.0.113.5").status_code == 429  # a new browser: held
    client.cookies[DEVICE_COOKIE] = cookie.value
    assert _login(client, "lab", OWNER_PASSWORD, ip="203.0.113.6").status_code == 302  # the owner's browser: in
    client.logout()
    client.cookies[DEVICE_COOKIE] = cookie.value[:-2] + "xx"  # a forged or damaged cookie counts for nothing
    assert _login(client, "lab", OWNER_PASSWORD, ip="203.0.113.7").status_code == 429
    client.cookies[DEVICE_COOKIE] = cookie.value  # the cookie names its username: no exemption for another one
    _spread_failures(Client(), "con", 5, start=100)
    assert _login(client, "con", OWNER_PASSWORD, ip="203.0.113.8").status_code == 429


def test_wrong_passwords_with_a_device_cookie_count_and_lock_the_cookie(client, cast, settings):
    from axes.models import AccessAttempt
    from django.test import Client

    from projects.signin import DEVICE_COOKIE

    settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_USERNAME_FAILURE_LIMIT = 3, 5
    cookie = _device_cookie(client)
    client.cookies[DEVICE_COOKIE] = cookie.value
    for _ in range(2):  # still limited per username+address
        assert _login(client, "lab", "wrong", ip="203.0.113.20").status_code == 200
    assert _login(client, "lab", "wrong", ip="203.0.113.20").status_code == 429
    assert AccessAttempt.objects.get(username="lab", ip_address="203.0.113.20").failures_since_start == 3
    _spread_failures(Client(), "lab", 2)  # the ceiling (5) reached; the cookie has failed LOGIN_FAILURE_LIMIT times
    client.cookies[DEVICE_COOKIE] = cookie.value
    stolen = _login(client, "lab", OWNER_PASSWORD, ip="203.0.113.21")  # a stolen cookie gives no unlimited guesses
    assert stolen.status_code == 429 and "_auth_user_id" not in client.session


def test_past_the_ceiling_one_attempt_per_slow_interval_is_checked(client, cast, settings):
    from django.contrib.auth.base_user import AbstractBaseUser

    settings.LOGIN_USERNAME_FAILURE_LIMIT = 5
    assert settings.LOGIN_USERNAME_SLOW_SECONDS == 60
    _spread_failures(client, "lab", 5)
    checked = []
    original = AbstractBaseUser.check_password
    AbstractBaseUser.check_password = lambda self, raw: checked.append(raw) or original(self, raw)
    try:
        held = _login(client, "lab", "guess-1", ip="203.0.113.30")
        assert held.status_code == 429 and checked == []  # the slot is not open yet: refused unchecked
        assert 0 < int(held["Retry-After"]) <= 60
        _advance(61)
        slot = _login(client, "lab", "guess-2", ip="203.0.113.31")  # one attempt is checked (and fails)
        assert slot.status_code == 429 and checked == ["guess-2"]
        assert 55 <= int(slot["Retry-After"]) <= 60
        assert _login(client, "lab", "guess-3", ip="203.0.113.32").status_code == 429  # the next waits again
        assert checked == ["guess-2"]
        _advance(61)
        owner = _login(client, "lab", OWNER_PASSWORD, ip="203.0.113.33")  # the owner, a minute later: in
    finally:
        AbstractBaseUser.check_password = original
    assert owner.status_code == 302 and checked == ["guess-2", OWNER_PASSWORD]
