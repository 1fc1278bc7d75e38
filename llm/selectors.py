"""Reads for LLM endpoints and their usage."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum

from llm.models import EndpointCheck, LLMEndpoint, LLMRequest


def get_endpoint(*, name: str) -> LLMEndpoint | None:
    return LLMEndpoint.objects.filter(name=name).first()


def get_check(*, check_id: int) -> EndpointCheck:
    return EndpointCheck.objects.select_related("endpoint").get(pk=check_id)


def usage_summary(*, requests: QuerySet[LLMRequest] | None = None) -> dict:
    """Attempts, failures by kind, tokens and cost over the given requests (all by default)."""
    requests = LLMRequest.objects.all() if requests is None else requests
    totals = requests.aggregate(
        attempts=Count("id"),
        ok=Count("id", filter=Q(ok=True)),
        prompt_tokens=Sum("prompt_tokens"),
        completion_tokens=Sum("completion_tokens"),
        cost=Sum("cost"),
    )
    failures = dict(
        requests.filter(ok=False).values_list("error_kind").annotate(n=Count("id")).values_list("error_kind", "n")
    )
    return {**{k: v or 0 for k, v in totals.items()}, "failures": failures}
