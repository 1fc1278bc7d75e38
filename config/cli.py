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
