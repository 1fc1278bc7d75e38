"""Sign-in lock-outs with django-axes, plus the one thing it leaves open: concurrent guesses.

Policy (settings LOGIN_FAILURE_LIMIT, LOGIN_ADDRESS_FAILURE_LIMIT, LOGIN_FAILURE_WINDOW_SECONDS, TRUSTED_PROXY_COUNT):
- LOGIN_FAILURE_LIMIT failed attempts for one username *from one client address* lock that combination for the
  window: an attacker elsewhere cannot lock a user out, and the user's own address is unaffected by others;
- LOGIN_ADDRESS_FAILURE_LIMIT (higher) failures from one address, whatever the usernames, lock the address;
- LOGIN_USERNAME_FAILURE_LIMIT failures for one username summed over *every* address (a distributed guess) slow
  that username down rather than lock it: past the ceiling, one attempt per LOGIN_USERNAME_SLOW_SECONDS is checked
  (over all addresses: at most one guess a minute for the attacker, and the owner trying a few times gets in), the
  others are refused unchecked with 429 and Retry-After (when the next slot opens, or the oldest failures age out of
  the window, whichever comes first). Exempt from the ceiling (only the per-address limits apply):
  - addresses the username signed in from before (axes' access log, within LOGIN_KNOWN_ADDRESS_DAYS);
  - browsers presenting a device cookie for that username (OWASP, "Slow Down Online Guessing Attacks with Device
    Cookies"): every successful sign-in sets DEVICE_COOKIE — signed (django.core.signing, its own salt), HttpOnly,
    SameSite=Lax, Secure where the session cookie is, for LOGIN_DEVICE_COOKIE_DAYS (0: none are set or honoured)
    — naming the username and a random nonce. Failures presented with a cookie still count everywhere, and a cookie
    that failed LOGIN_FAILURE_LIMIT times (counted per nonce in the cache, until a window passes without one) is
    ignored, so a stolen cookie gives no unlimited guesses;
- a successful sign-in forgives that username's failures from that address (not the address's count);
- the client address is the connecting address, or — behind TRUSTED_PROXY_COUNT proxies that each append to
  X-Forwarded-For — the N-th entry from the right, the one the outermost trusted proxy saw (`client_address`;
  django-ipware's proxy_count instead expects exactly N+1 entries and returns the leftmost, which the client
  writes itself, so it is not used).

Axes counts a failure after the password check, so N guesses sent at once would all be checked before any was
counted. `serialized` closes that: attempts for one username (from any address) run one after another, each inside
a transaction holding that username's lock (PostgreSQL: a transaction-level advisory lock on its hash; SQLite:
the write lock every transaction takes at BEGIN IMMEDIATE), so the (limit+1)-th waits for the limit-th to be
counted and is refused unchecked — for the per-username ceiling too.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import math
import secrets
from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Max, QuerySet, Sum
from django.utils import timezone


def failure_limit(request=None, credentials=None) -> int:  # AXES_FAILURE_LIMIT
    return settings.LOGIN_FAILURE_LIMIT


def cool_off(request=None) -> timedelta:  # AXES_COOLOFF_TIME
    return timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)


class SignInHandler(AxesDatabaseHandler):
    """Axes' database handler with two limits (lockout parameters: [username, address], then address alone)."""

    def get_failures(self, request, credentials=None) -> int:
        combination, address = (
            attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        if address >= settings.LOGIN_ADDRESS_FAILURE_LIMIT or username_ceiling_reached(request, credentials):
            return max(combination, settings.LOGIN_FAILURE_LIMIT)  # locked for this attempt whatever the combination
        return combination

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        """A checked failure presented with a device cookie counts against that cookie too (before axes decides
        whether this failure locks: a cookie at its limit no longer exempts from the ceiling)."""
        if request is not None and not getattr(request, "axes_locked_out", False):
            nonce = _device_nonce(request, get_client_username(request, credentials))
            if nonce:
                key = _device_failures_key(nonce)
                cache.set(key, (cache.get(key) or 0) + 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)
        return super().user_login_failed(sender, credentials, request, **kwargs)

    def reset_user_attempts(self, request, credentials=None) -> int:
        """On success: forget this username's failures from this address only (the address's count stays)."""
        combination = self.filter_user_attempts(request, credentials)[0]
        count, _ = combination.delete()
        return count


def _recent(attempts: QuerySet) -> QuerySet:
    return attempts.filter(attempt_time__gte=timezone.now() - cool_off())


def _address(request) -> str:
    return getattr(request, "axes_ip_address", None) or client_address(request)


def _username_failures(username: str) -> QuerySet:
    # Case folded: "LAB" and "lab" are one account to a guesser even where the sign-in lookup is exact.
    return _recent(AccessAttempt.objects.filter(username__iexact=username))


def _known_address(username: str, address: str) -> bool:
    days = settings.LOGIN_KNOWN_ADDRESS_DAYS
    if not days or not address:
        return False
    since = timezone.now() - timedelta(days=days)
    return AccessLog.objects.filter(username__iexact=username, ip_address=address, attempt_time__gte=since).exists()


def username_ceiling_reached(request, credentials=None) -> bool:
    """Whether the per-username ceiling refuses this attempt: LOGIN_USERNAME_FAILURE_LIMIT recent failures over all
    addresses, no exemption (known address, valid device cookie), and this username's slow slot not open."""
    username = get_client_username(request, credentials)
    if not username:
        return False
    failures = _username_failures(username).aggregate(n=Sum("failures_since_start"))["n"] or 0
    if failures < settings.LOGIN_USERNAME_FAILURE_LIMIT or _exempt_from_ceiling(request, username):
        return False
    return _seconds_until_slot(username) > 0


def _exempt_from_ceiling(request, username: str) -> bool:
    return _known_address(username, _address(request)) or trusted_device(request, username)


def _seconds_until_slot(username: str) -> int:
    """Seconds until the next attempt past the ceiling may be checked: LOGIN_USERNAME_SLOW_SECONDS after this
    username's last checked failure (axes moves a row's attempt_time to each failure it counts)."""
    last = _username_failures(username).aggregate(t=Max("attempt_time"))["t"]
    if last is None:
        return 0
    left = (last + timedelta(seconds=settings.LOGIN_USERNAME_SLOW_SECONDS) - timezone.now()).total_seconds()
    return max(0, math.ceil(left))


DEVICE_COOKIE = "signin_device"
_DEVICE_SALT = "projects.signin.device-cookie"
_MAX_DEVICE_COOKIE_CHARS = 512  # a signed username (≤150 characters) and nonce; longer is not ours


def remember_device(response, *, username: str) -> None:
    """After a successful sign-in: a fresh device cookie for this username (a new nonce, so no failures)."""
    days = settings.LOGIN_DEVICE_COOKIE_DAYS
    if not days:
        return
    value = signing.dumps({"u": username.casefold(), "n": secrets.token_urlsafe(16)}, salt=_DEVICE_SALT)
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=days * 86400,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def _device_nonce(request, username: str | None) -> str | None:
    """The nonce of this request's device cookie when it is ours, unexpired and issued for `username`."""
    days = settings.LOGIN_DEVICE_COOKIE_DAYS
    raw = request.COOKIES.get(DEVICE_COOKIE, "")
    if not days or not username or not raw or len(raw) > _MAX_DEVICE_COOKIE_CHARS:
        return None
    try:
        data = signing.loads(raw, salt=_DEVICE_SALT, max_age=timedelta(days=days))
    except signing.BadSignature:  # forged, damaged or expired
        return None
    if not isinstance(data, dict) or data.get("u") != username.casefold() or not isinstance(data.get("n"), str):
        return None
    return data["n"]


def _device_failures_key(nonce: str) -> str:
    return f"signin-device-failures:{hashlib.sha256(nonce.encode()).hexdigest()}"


def trusted_device(request, username: str) -> bool:
    """A valid device cookie for `username` that has not failed LOGIN_FAILURE_LIMIT times."""
    nonce = _device_nonce(request, username)
    return bool(nonce) and (cache.get(_device_failures_key(nonce)) or 0) < settings.LOGIN_FAILURE_LIMIT


def _seconds_until_below(attempts: QuerySet, limit: int) -> int:
    """Seconds until the oldest of these recent failures have aged out of the window far enough that fewer than
    `limit` remain (0: already fewer)."""
    attempts = _recent(attempts)
    left = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
    if left < limit:
        return 0
    window, now = cool_off(), timezone.now()
    for attempt_time, failures in attempts.order_by("attempt_time").values_list("attempt_time", "failures_since_start"):
        left -= failures
        if left < limit:
            return max(1, math.ceil((attempt_time + window - now).total_seconds()))
    return int(window.total_seconds())  # not reached: the rows above sum to at least `left`


def retry_after_seconds(request, credentials=None) -> int:
    """For a refused attempt's Retry-After: when every lock that holds it has lifted (at least one second)."""
    username, address = get_client_username(request, credentials), _address(request)
    waits = [
        _seconds_until_below(AccessAttempt.objects.filter(ip_address=address), settings.LOGIN_ADDRESS_FAILURE_LIMIT)
    ]
    if username:
        combination = AccessAttempt.objects.filter(username=username, ip_address=address)
        waits.append(_seconds_until_below(combination, settings.LOGIN_FAILURE_LIMIT))
        if not _exempt_from_ceiling(request, username):
            below = _seconds_until_below(_username_failures(username), settings.LOGIN_USERNAME_FAILURE_LIMIT)
            waits.append(min(below, _seconds_until_slot(username)) if below else 0)
    return max(1, *waits)


def client_address(request) -> str:
    """AXES_CLIENT_IP_CALLABLE: REMOTE_ADDR, or behind N trusted proxies the N-th X-Forwarded-For entry from the
    right (entries left of it were written by the client and are ignored)."""
    count = settings.TRUSTED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR", "") or ""
    if not count:
        return remote[:64]
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < count:
        return remote[:64]
    try:
        return str(ipaddress.ip_address(forwarded[-count]))  # axes stores it in an IP address column
    except ValueError:
        return remote[:64]


@contextlib.contextmanager
def serialized(*, username: str, request):
    """Run one sign-in attempt while holding its username's lock (whatever the address: the ceiling over all
    addresses is counted exactly too)."""
    digest = hashlib.sha256(f"{username.strip().casefold()}".encode()).digest()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)])
        yield
