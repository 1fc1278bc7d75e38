"""Reads for LLM endpoints and their usage."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from llm.models import EndpointCheck, LLMEndpoint


def get_endpoint(*, name: str) -> LLMEndpoint | None:
    return LLMEndpoint.objects.filter(name=name).first()


def endpoints_for_project(*, project) -> QuerySet[LLMEndpoint]:
    """The endpoints a project's runs may use: active, and global or the project's own."""
    return LLMEndpoint.objects.filter(Q(project__isnull=True) | Q(project=project), is_active=True)


def require_usable_endpoint(endpoint: LLMEndpoint, *, project, field: str, error: type[Exception]) -> LLMEndpoint:
    """The endpoint, if a run of `project` may use it; else `error` naming `field`. Another project's endpoint is
    answered exactly like one that does not exist; a switched-off one is named as such."""
    if endpoint.project_id is not None and endpoint.project_id != project.pk:
        raise error(f"{field}: no endpoint named {endpoint.name!r}")
    if not endpoint.is_active:
        raise error(f"{field}: endpoint {endpoint.name!r} is switched off (inactive); a site admin can turn it on")
    return endpoint


def get_check(*, check_id: int) -> EndpointCheck:
    return EndpointCheck.objects.select_related("endpoint").get(pk=check_id)


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
