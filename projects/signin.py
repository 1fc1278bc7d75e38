"""Sign-in lock-outs with django-axes, plus the one thing it leaves open: concurrent guesses.

Policy (settings LOGIN_FAILURE_LIMIT, LOGIN_ADDRESS_FAILURE_LIMIT, LOGIN_FAILURE_WINDOW_SECONDS, TRUSTED_PROXY_COUNT):
- LOGIN_FAILURE_LIMIT failed attempts for one username *from one client address* lock that combination for the
  window: an attacker elsewhere cannot lock a user out, and the user's own address is unaffected by others;
- LOGIN_ADDRESS_FAILURE_LIMIT (higher) failures from one address, whatever the usernames, lock the address;
- a successful sign-in forgives that username's failures from that address (not the address's count);
- the client address is the connecting address, or — behind TRUSTED_PROXY_COUNT proxies that each append to
  X-Forwarded-For — the N-th entry from the right, the one the outermost trusted proxy saw (`client_address`;
  django-ipware's proxy_count instead expects exactly N+1 entries and returns the leftmost, which the client
  writes itself, so it is not used).

Axes counts a failure after the password check, so N guesses sent at once would all be checked before any was
counted. `serialized` closes that: attempts for one username from one address run one after another, each inside
a transaction holding that combination's lock (PostgreSQL: a transaction-level advisory lock on its hash; SQLite:
the write lock every transaction takes at BEGIN IMMEDIATE), so the (limit+1)-th waits for the limit-th to be
counted and is refused unchecked.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum


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
        if address >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            return max(combination, settings.LOGIN_FAILURE_LIMIT)  # the address is locked: so is every username
        return combination

    def reset_user_attempts(self, request, credentials=None) -> int:
        """On success: forget this username's failures from this address only (the address's count stays)."""
        combination = self.filter_user_attempts(request, credentials)[0]
        count, _ = combination.delete()
        return count


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
    """Run one sign-in attempt while holding the lock of its (username, address) combination."""
    digest = hashlib.sha256(f"{username.strip().casefold()}\x00{client_address(request)}".encode()).digest()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)])
        yield
