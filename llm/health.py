"""How an endpoint's health reads wherever one is picked or listed: "zh-teacher · qwen2 · ok 420 ms, 3 minutes ago",
"never checked", "failed 2 hours ago" — translated, with human times (the reads are llm.selectors.endpoint_health)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from core.templatetags.numbers import format_number
from llm.selectors import EndpointHealth, endpoint_health


def when_text(at) -> str:
    if timezone.now() - at < timedelta(minutes=1):
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(at, depth=1)}


def health_text(health: EndpointHealth | None) -> str:
    if health is None or health.at is None:
        if health is not None and health.stale_check:
            return _("not checked since the last edit")
        return _("never checked")
    when = when_text(health.at)
    if not health.ok:
        return _("failed %(when)s") % {"when": when}
    if health.latency_ms is None:
        return _("ok, %(when)s") % {"when": when}
    return _("ok %(latency)s ms, %(when)s") % {"latency": format_number(health.latency_ms), "when": when}


def health_detail(health: EndpointHealth | None) -> str:
    """The endpoints page's Health column: the same word as the pickers', saying what it rests on — the last check
    ("check ok · 420 ms · 3 minutes ago") or the last request a run made ("ok · 9,719 ms · last request just
    now")."""
    if health is None or health.at is None:
        return health_text(health)
    when = when_text(health.at)
    latency = format_number(health.latency_ms) if health.latency_ms is not None else None
    if health.source == "check":
        if not health.ok:
            return _("check failed · %(when)s") % {"when": when}
        if latency is None:
            return _("check ok · %(when)s") % {"when": when}
        return _("check ok · %(latency)s ms · %(when)s") % {"latency": latency, "when": when}
    if not health.ok:
        return _("failed · last request %(when)s") % {"when": when}
    if latency is None:
        return _("ok · last request %(when)s") % {"when": when}
    return _("ok · %(latency)s ms · last request %(when)s") % {"latency": latency, "when": when}


def endpoint_label(endpoint, health: EndpointHealth | None) -> str:
    """An option's text in every endpoint picker."""
    return f"{endpoint.name} · {endpoint.model} · {health_text(health)}"


def with_health(endpoints) -> list:
    """The endpoints as a list, each with `.health`, `.health_text`, `.health_detail` and `.health_label` (for
    templates: `{{ e.health_label }}`)."""
    endpoints = list(endpoints)
    health = endpoint_health(endpoints=endpoints)
    for endpoint in endpoints:
        endpoint.health = health.get(endpoint.pk)
        endpoint.health_text = health_text(endpoint.health)
        endpoint.health_detail = health_detail(endpoint.health)
        endpoint.health_label = endpoint_label(endpoint, endpoint.health)
    return endpoints


def endpoint_choices(endpoints) -> list[tuple[str, str]]:
    """(name, label with health) for a ChoiceField of endpoints."""
    return [(e.name, e.health_label) for e in with_health(endpoints)]
