"""API tokens, stored hashed: a key is shown once when issued; the database holds only its SHA-256 digest.

Keys are 40 hex characters (160 random bits), the format DRF's plaintext tokens had, so keys issued before the
digests (migration projects 0003) keep working. A plain SHA-256 suffices: the keys are random, not passwords."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from projects.models import ApiToken

MAX_KEY_CHARS = 128  # longer keys are never ours: refused without hashing
LAST_USED_EVERY = timedelta(hours=1)  # last_used_at is refreshed at most this often (no write per request)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def issue_token(*, user) -> str:
    """A new API token for `user`, replacing any old one (which stops working at once); returns the key, once."""
    ApiToken.objects.filter(user=user).delete()
    key = secrets.token_hex(20)
    token = ApiToken.objects.create(user=user, digest=key_digest(key), prefix=key[:6])
    token.key = key  # on this instance only (user.auth_token of the caller's user object): never saved
    return key


def revoke_token(*, user) -> bool:
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return deleted > 0


def rotate_token(*, user) -> str:
    """Replace the user's API token with a new one (the old one stops working at once)."""
    return issue_token(user=user)


def token_for_key(*, key: str) -> ApiToken | None:
    """The token (with its user, active or not) whose key this is, or None; marks it used (at most hourly)."""
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_CHARS:
        return None
    token = ApiToken.objects.select_related("user").filter(digest=key_digest(key)).first()
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_EVERY:
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_EVERY)
        ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now)
    return token


def is_current_key(*, user, key: str | None) -> bool:
    """Whether `key` is the user's API token now (e.g. a key saved earlier that has not been replaced since)."""
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_CHARS:
        return False
    return ApiToken.objects.filter(user=user, digest=key_digest(key)).exists()
