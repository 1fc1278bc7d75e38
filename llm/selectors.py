"""Reads for LLM endpoints and their usage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext as _

from llm.models import EndpointCheck, LLMEndpoint, LLMRequest

CHECK_PURPOSE = "endpoint-check"  # the purpose of a check's request (llm.services.run_endpoint_check)


def get_endpoint(*, name: str) -> LLMEndpoint | None:
    return LLMEndpoint.objects.filter(name=name).first()


def endpoints_for_project(*, project) -> QuerySet[LLMEndpoint]:
    """The endpoints a project's runs may use: active, and global or the project's own."""
    return LLMEndpoint.objects.filter(Q(project__isnull=True) | Q(project=project), is_active=True)


def require_usable_endpoint(endpoint: LLMEndpoint, *, project, field: str, error: type[Exception]) -> LLMEndpoint:
    """The endpoint, if a run of `project` may use it; else `error` naming `field`. Another project's endpoint is
    answered exactly like one that does not exist; a switched-off one is named as such."""
    if endpoint.project_id is not None and endpoint.project_id != project.pk:
        raise error(f"{field}: " + _("no endpoint named %(name)r") % {"name": endpoint.name})
    if not endpoint.is_active:
        raise error(
            f"{field}: "
            + _("endpoint %(name)r is switched off (inactive); a site admin can turn it on") % {"name": endpoint.name}
        )
    return endpoint


def endpoints_of_project(*, project) -> QuerySet[LLMEndpoint]:
    """The endpoints a project's admins see and manage: the site-wide ones (read-only to them) and the project's
    own, switched-off ones too."""
    return LLMEndpoint.objects.filter(Q(project__isnull=True) | Q(project=project))


def endpoints_administered_by(*, user) -> QuerySet[LLMEndpoint]:
    """The endpoints `user` may see and manage through the API, switched off ones too: every one for site admins;
    for an admin of some project the site-wide ones (read-only) and their projects' own; none for anyone else."""
    from projects.models import Role
    from projects.selectors import projects_for_user

    if user.is_staff:
        return LLMEndpoint.objects.all()
    administered = projects_for_user(user=user, roles=(Role.ADMIN,))
    if not administered.exists():
        return LLMEndpoint.objects.none()
    return LLMEndpoint.objects.filter(Q(project__isnull=True) | Q(project__in=administered))


def project_endpoint_lists(*, project) -> tuple[QuerySet[LLMEndpoint], QuerySet[LLMEndpoint]]:
    """(the project's own endpoints, switched off ones too; the global ones every project may use)."""
    return (
        LLMEndpoint.objects.filter(project=project).order_by("name"),
        LLMEndpoint.objects.filter(project__isnull=True).order_by("name"),
    )


def get_project_endpoint(*, project, name: str) -> LLMEndpoint | None:
    return LLMEndpoint.objects.filter(project=project, name=name).first()


def latest_checks(*, endpoint_ids: list[int]) -> dict[int, EndpointCheck]:
    """Each endpoint's most recent check (one query)."""
    latest: dict[int, EndpointCheck] = {}
    for check in EndpointCheck.objects.filter(endpoint_id__in=endpoint_ids).order_by("endpoint_id", "-id"):
        latest.setdefault(check.endpoint_id, check)
    return latest


@dataclass(frozen=True)
class EndpointHealth:
    """The most recent word on an endpoint since its configuration last changed: its last finished check or its
    last request, whichever is newer. `stale_check` says a check exists but predates the last edit."""

    at: datetime | None = None
    ok: bool | None = None
    latency_ms: int | None = None
    source: str = ""  # "check" or "request"; empty: nothing since the last edit
    stale_check: bool = False


def endpoint_health(*, endpoints) -> dict[int, EndpointHealth]:
    """{endpoint id: its health} for `endpoints` (model instances), in two queries however many there are."""
    endpoints = list(endpoints)
    ids = [e.pk for e in endpoints]
    checks: dict[int, EndpointCheck] = {}
    finished = EndpointCheck.objects.filter(endpoint_id__in=ids, finished_at__isnull=False)
    for check in finished.order_by("endpoint_id", "-finished_at").only(
        "endpoint_id", "status", "latency_ms", "created_at", "finished_at"
    ):
        checks.setdefault(check.endpoint_id, check)
    # each correlated subquery walks the (endpoint, -created_at) index to its endpoint's first row
    latest = LLMRequest.objects.filter(endpoint_id=OuterRef("pk")).order_by("-created_at")
    rows = LLMEndpoint.objects.filter(pk__in=ids).values_list(
        "pk",
        Subquery(latest.values("ok")[:1]),
        Subquery(latest.values("latency_ms")[:1]),
        Subquery(latest.values("created_at")[:1]),
    )
    requests = {pk: (ok, latency, at) for pk, ok, latency, at in rows if at is not None}
    return {e.pk: _health(e, checks.get(e.pk), requests.get(e.pk)) for e in endpoints}


def _health(endpoint: LLMEndpoint, check: EndpointCheck | None, request) -> EndpointHealth:
    since = endpoint.config_changed_at
    stale = check is not None and since is not None and check.created_at < since
    if stale:
        check = None
    if request is not None and since is not None and request[2] < since:
        request = None
    if check is not None and (request is None or check.finished_at >= request[2]):
        return EndpointHealth(check.finished_at, check.status == "succeeded", check.latency_ms, "check")
    if request is not None:
        return EndpointHealth(request[2], request[0], request[1], "request", stale_check=stale)
    return EndpointHealth(stale_check=stale)


def endpoint_references(*, endpoint: LLMEndpoint) -> dict[str, int]:
    """What names `endpoint` besides its own checks and their requests: {"generation batches": 2, …} (runs of every
    app, found through the foreign keys to it, so no app below knows of the apps above)."""
    found: dict[str, int] = {}
    for relation in LLMEndpoint._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete and (relation.one_to_many or relation.one_to_one)):
            continue
        model = relation.related_model
        if model is EndpointCheck:
            continue
        rows = model._default_manager.filter(**{relation.field.name: endpoint})
        if model is LLMRequest:
            rows = rows.exclude(purpose=CHECK_PURPOSE)
        count = rows.count()
        if count:
            label = str(model._meta.verbose_name_plural)
            found[label] = found.get(label, 0) + count
    return found
