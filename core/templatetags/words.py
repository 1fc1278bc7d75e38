"""Values in words on every page: `{% load words %}{{ at|ago }}` ("just now", "3 minutes ago", never "0 minutes
ago") and `{{ flag|yes_no }}` (a translated yes or no, never Python's True/False)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext, pgettext

register = template.Library()

JUST_NOW = timedelta(minutes=1)  # younger than this reads "just now": timesince would say "0 minutes"


def ago_text(at: datetime | None) -> str:
    """How long ago `at` was, in words: "just now" under a minute, else "3 minutes ago" (the largest unit only)."""
    if at is None:
        return "—"
    if timezone.now() - at < JUST_NOW:
        return gettext("just now")
    return gettext("%(time)s ago") % {"time": timesince(at, depth=1)}


def yes_no_text(value) -> str:
    """A boolean as a translated "yes" or "no"."""
    return pgettext("boolean", "yes") if value else pgettext("boolean", "no")


@register.filter
def ago(at):
    """{{ run.heartbeat_at|ago }}: "just now" or "5 minutes ago"; anything not a time as it is."""
    return ago_text(at) if at is None or isinstance(at, datetime) else at


@register.filter
def yes_no(value):
    """{{ flag|yes_no }}: a translated yes or no."""
    return yes_no_text(value)
