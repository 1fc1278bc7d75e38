"""Reads for LLM endpoints and their usage."""

from __future__ import annotations

from llm.models import EndpointCheck, LLMEndpoint


def get_endpoint(*, name: str) -> LLMEndpoint | None:
    return LLMEndpoint.objects.filter(name=name).first()


def get_check(*, check_id: int) -> EndpointCheck:
    return EndpointCheck.objects.select_related("endpoint").get(pk=check_id)
