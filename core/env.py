"""Strict readers for settings that come from environment variables.

A value that is present but malformed raises ImproperlyConfigured naming the variable, so a typo in a
deployment fails at start-up instead of silently falling back to a default.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


# Every variable the platform's own settings read (filled as config.settings loads): never a valid place for an
# LLM endpoint's API key (llm.models.validate_key_variable), so no endpoint can send SECRET_KEY or DATABASE_URL.
SETTINGS_VARIABLES: set[str] = set()


def _raw(name: str) -> str | None:
    SETTINGS_VARIABLES.add(name)
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str | None = None) -> str | None:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of {sorted(_TRUE | _FALSE)}, got {value!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise ImproperlyConfigured(f"{name} must be a comma-separated list without empty items, got {value!r}")
    return items


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    value = _raw(name)
    if value is None:
        return default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def env_url(name: str, schemes: tuple[str, ...]) -> str | None:
    value = _raw(name)
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in schemes:
        raise ImproperlyConfigured(f"{name} must be a URL with scheme {' or '.join(schemes)}, got {value!r}")
    return value


def env_storage(data_dir) -> dict:
    """The `artifacts` storage (Django STORAGES entry) for files one machine writes and another reads.

    STORAGE_URL=s3://BUCKET[/PREFIX][?endpoint_url=URL&region=NAME&addressing_style=path|virtual] puts them in an
    S3-compatible bucket (AWS S3, MinIO, Ceph RGW, OSS, COS); the usual AWS_STORAGE_BUCKET_NAME / AWS_S3_ENDPOINT_URL
    / AWS_S3_REGION_NAME / AWS_LOCATION do the same without the URL. Keys come from the environment only
    (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the machine's role), never from the URL. Unset: the local
    filesystem under DATA_DIR (one machine, the embedded default), keeping the paths files always had there."""
    from urllib.parse import parse_qs

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        _raw(name)  # settings variables: never an LLM endpoint's key variable
    url = env_url("STORAGE_URL", ("s3", "file"))
    options: dict = {}
    if url:
        parsed = urlparse(url)
        if parsed.username or parsed.password:
            raise ImproperlyConfigured(
                "STORAGE_URL must not carry keys; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead"
            )
        if parsed.scheme == "file":
            return {"BACKEND": "core.storage.LocalStorage", "OPTIONS": {"location": parsed.path or str(data_dir)}}
        query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        unknown = sorted(set(query) - {"endpoint_url", "region", "addressing_style"})
        if unknown or not parsed.hostname:
            raise ImproperlyConfigured(
                f"STORAGE_URL must look like s3://bucket/prefix?endpoint_url=…&region=…&addressing_style=path, "
                f"got {url!r}" + (f" (unknown: {unknown})" if unknown else "")
            )
        options = {
            "bucket_name": parsed.netloc,
            "location": parsed.path.strip("/"),
            "endpoint_url": query.get("endpoint_url"),
            "region_name": query.get("region"),
            "addressing_style": query.get("addressing_style"),
        }
    elif _raw("AWS_STORAGE_BUCKET_NAME"):
        options = {
            "bucket_name": _raw("AWS_STORAGE_BUCKET_NAME"),
            "location": (_raw("AWS_LOCATION") or "").strip("/"),
            "endpoint_url": _raw("AWS_S3_ENDPOINT_URL"),
            "region_name": _raw("AWS_S3_REGION_NAME"),
            "addressing_style": _raw("AWS_S3_ADDRESSING_STYLE"),
        }
    else:
        return {"BACKEND": "core.storage.LocalStorage", "OPTIONS": {"location": str(data_dir)}}
    return {
        "BACKEND": "core.storage.ObjectStorage",
        "OPTIONS": {
            **{key: value for key, value in options.items() if value},
            "file_overwrite": True,
            "default_acl": None,
            "querystring_expire": env_int("STORAGE_URL_EXPIRE_SECONDS", 300, minimum=10),
            "signature_version": "s3v4",
            "max_attempts": env_int("STORAGE_MAX_ATTEMPTS", 5, minimum=1),
        },
    }


def private_data_dir(path: Path, *, files: tuple[str, ...] = ()) -> Path:
    """Make `path` (DATA_DIR) private to this process's user and everything the process creates from now on too.

    DATA_DIR holds the SQLite database (sessions, API tokens), the secret key and the demo logins, so another local
    user must not read it. The umask (0o077, set here because settings load first in every platform process: web,
    workers, commands) makes every file and folder created after this owner-only, whichever library writes it
    (SQLite, the embedded broker, the cache, trainers). A folder or listed file from an older install is tightened
    too; one this user does not own (a mount point) is left as it is."""
    os.umask(0o077)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(path, 0o700)
    for name in files:
        _tighten(path / name, 0o600)
    return path


def private_file(path: Path) -> None:
    """Tighten one existing file (the SQLite database wherever DATABASE_URL puts it, with its -wal and -shm)."""
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        _tighten(candidate, 0o600)


def _tighten(path: Path, mode: int) -> None:
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(mode)
    except (FileNotFoundError, PermissionError):
        pass  # absent, or not ours to change
