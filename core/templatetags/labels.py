"""Translated labels for codes pages show: `{% load labels %}{{ run.status|status_label }}` (a run's or a dataset
version's status), so that no raw code (`succeeded`, `building`) reaches a page in another language."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy as _

from core.lifecycle import RunStatus

register = template.Library()

# Statuses beside the run lifecycle's: a dataset version builds, then is ready (or failed, a RunStatus too).
OTHER_STATUSES = {"building": _("Building"), "ready": _("Ready")}


@register.filter
def status_label(value):
    """The status's translated label; an unknown code as it is."""
    if value in RunStatus.values:
        return RunStatus(value).label
    return OTHER_STATUSES.get(value, value)
