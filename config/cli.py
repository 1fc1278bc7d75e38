"""Small parsers shared by management commands."""

import json

from django.core.management.base import CommandError


def key_value_arg(value: str, *, option: str, example: str) -> tuple[str, object]:
    """`key=value` with the value read as JSON when it parses (numbers, lists, true/false), else as a string."""
    key, sep, raw = value.partition("=")
    if not sep:
        raise CommandError(f"{option} {value!r}: use key=value, e.g. {example}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def wait_until(read, done, *, timeout: float | None, what: str, hint: str = "is a worker running?", every=0.5):
    """Poll `read()` until `done(value)`; CommandError naming `what` when `timeout` seconds pass first."""
    import time

    deadline = time.monotonic() + timeout if timeout else None
    while True:
        value = read()
        if done(value):
            return value
        if deadline and time.monotonic() > deadline:
            raise CommandError(f"{what} still not finished after {timeout:.0f}s — {hint}")
        time.sleep(every)
