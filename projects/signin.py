"""Sign-in lock-outs with django-axes, plus the one thing it leaves open: concurrent guesses.

Policy (settings LOGIN_FAILURE_LIMIT, LOGIN_ADDRESS_FAILURE_LIMIT, LOGIN_FAILURE_WINDOW_SECONDS, TRUSTED_PROXY_COUNT):
- LOGIN_FAILURE_LIMIT failed attempts for one username *from one client address* lock that combination for the
  window: an attacker elsewhere cannot lock a user out, and the user's own address is unaffected by others;
- LOGIN_ADDRESS_FAILURE_LIMIT (higher) failures from one address, whatever the usernames, lock the address;
- LOGIN_USERNAME_FAILURE_LIMIT failures for one username summed over *every* address (a distributed guess) slow
  that username down: further attempts are refused (429 with Retry-After) until the window lets the oldest failures
  age out — never a permanent lock. Addresses the username signed in from before (axes' access log, within
  LOGIN_KNOWN_ADDRESS_DAYS) are exempt from this one, so the owner is not locked out at home by strangers;
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
from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet, Sum
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
    """Whether this username has LOGIN_USERNAME_FAILURE_LIMIT recent failures over all addresses (and this attempt
    does not come from an address the username signed in from before)."""
    username = get_client_username(request, credentials)
    if not username:
        return False
    failures = _username_failures(username).aggregate(n=Sum("failures_since_start"))["n"] or 0
    return failures >= settings.LOGIN_USERNAME_FAILURE_LIMIT and not _known_address(username, _address(request))


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
        if not _known_address(username, address):
            waits.append(_seconds_until_below(_username_failures(username), settings.LOGIN_USERNAME_FAILURE_LIMIT))
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
