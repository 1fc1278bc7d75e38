"""The chat playground: one turn of a conversation with any active endpoint a project may use (its served models
first), through the platform's one client — egress rules, key scope, the endpoint's concurrency slot, and an
LLMRequest row (purpose "playground") for every call.

The call is made in the web request, not by a worker: a person waits for this one reply and the row records it, so
there is no run state to keep. It is bounded so the request cannot outlive the web server's own timeout: one try (a
person sends again), at most PLAYGROUND_TIMEOUT_SECONDS. A completions-style endpoint (every served model) gets the
conversation as a sampling run sends it (`llm.client.build_payload`: the messages' text in order, blank lines
between), the plain transcript the SFT rows were trained on.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Case, IntegerField, QuerySet, Value, When

from core.errors import ServiceError
from llm.client import LLMError, call_llm
from llm.models import LLMEndpoint
from llm.params import validate_params
from llm.selectors import endpoints_for_project

PURPOSE = "playground"
PARAMS = ("temperature", "top_p", "max_tokens")  # bounded as every run's sampling parameters (llm.params)
DEFAULT_PARAMS = {"temperature": 0.7, "top_p": 1.0, "max_tokens": 256}
ROLES = ("system", "user", "assistant")
MAX_MESSAGES = 64
MAX_MESSAGE_CHARS = 20_000
MAX_TOTAL_CHARS = 100_000


class PlaygroundError(ServiceError):
    pass


@dataclass(frozen=True)
class PlaygroundReply:
    text: str
    finish_reason: str
    latency_ms: int
    prompt_tokens: int
    completion_tokens: int
    request_id: int


def playground_endpoints(*, project) -> QuerySet[LLMEndpoint]:
    """The active endpoints the project may use, its served models (job-<id>, its own) first, then by name."""
    served = Case(
        When(project=project, served_key__gt="", then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return endpoints_for_project(project=project).annotate(served_first=served).order_by("served_first", "name")


def check_messages(messages) -> list[dict]:
    """The conversation so far, checked: a list of {role, content} (system, user, assistant) ending with the user's
    message. Errors name the item and field (`messages.2.role: …`)."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        raise PlaygroundError(f"messages: a list of 1 to {MAX_MESSAGES} messages")
    checked, total = [], 0
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        if not isinstance(message, dict) or set(message) - {"role", "content"}:
            raise PlaygroundError(f"{where}: an object with role and content only")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise PlaygroundError(f"{where}.role: one of {', '.join(ROLES)}")
        if not isinstance(content, str) or not content.strip() or len(content) > MAX_MESSAGE_CHARS:
            raise PlaygroundError(f"{where}.content: text of 1 to {MAX_MESSAGE_CHARS} characters")
        if role == "system" and index:
            raise PlaygroundError(f"{where}.role: a system message comes first or not at all")
        total += len(content)
        checked.append({"role": role, "content": content})
    if total > MAX_TOTAL_CHARS:
        raise PlaygroundError(f"messages: {total} characters in all; at most {MAX_TOTAL_CHARS}")
    if checked[-1]["role"] != "user":
        raise PlaygroundError(f"messages.{len(checked) - 1}.role: the last message is the user's")
    return checked


def check_params(params) -> dict:
    """temperature, top_p and max_tokens (defaults for those left out), bounded as any run's; errors name the field
    (`params.temperature: must be between 0.0 and 2.0, got 5`)."""
    return {**DEFAULT_PARAMS, **validate_params(params, allowed=PARAMS, error=PlaygroundError)}


def playground_reply(*, project, endpoint_name: str, messages, params=None) -> PlaygroundReply:
    """Send the conversation to the endpoint and return its reply. PlaygroundError: bad input (the field named;
    code not_found for an endpoint the project may not use), or code "endpoint_failed" when the call failed."""
    messages = check_messages(messages)
    params = check_params(params)
    endpoint = playground_endpoints(project=project).filter(name=str(endpoint_name)[:64]).first()
    if endpoint is None:
        raise PlaygroundError(f"endpoint: no active endpoint {endpoint_name!r} this project may use", code="not_found")
    bounded = copy.copy(endpoint)  # this call only: one try, within the playground's time limit
    bounded.request_timeout_s = min(endpoint.request_timeout_s, settings.PLAYGROUND_TIMEOUT_SECONDS)
    bounded.max_retries = 0
    try:
        reply = call_llm(bounded, purpose=PURPOSE, messages=messages, project_id=project.pk, **params)
    except LLMError as exc:
        raise PlaygroundError(f"endpoint: {exc}", code="endpoint_failed") from None
    return PlaygroundReply(
        text=reply.text,
        finish_reason=reply.finish_reason,
        latency_ms=reply.latency_ms,
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        request_id=reply.request_id,
    )
