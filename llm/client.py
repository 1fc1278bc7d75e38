"""The one way the platform calls a model: the `openai` package against any OpenAI-compatible base URL.

The openai client's own retries are turned off so that this module owns them: each HTTP attempt is recorded
(tokens, latency, error), the per-endpoint concurrency slot is held only while a request is in flight (never
while backing off), Retry-After is honoured, and faults the openai client does not retry — a 200 whose body is
not JSON, or one with no choices — are retried like any transient fault.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx2
from django.conf import settings

from llm import egress
from llm.concurrency import SlotTimeout, slot
from llm.keyscope import key_scope_problem
from llm.models import ApiStyle, ErrorKind, LLMEndpoint, LLMRequest, key_variable_problem

if TYPE_CHECKING:
    import openai

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 300.0
DETAIL_CHARS = 500  # of a remote error body, kept on the request row for site admins only; never in LLMError
STATUS_REASONS = {
    400: "the endpoint refused the request as malformed",
    401: "the endpoint refused the API key",
    403: "the endpoint refused access",
    404: "the endpoint has no such path or model (check the base URL and the model name)",
    413: "the endpoint found the request too large",
    422: "the endpoint refused the request's parameters",
    429: "the endpoint is rate limiting",
}


class LLMError(Exception):
    """A call that did not produce a usable reply after its retries (or one that must not be retried)."""

    def __init__(self, message: str, *, kind: str, retryable: bool, attempts: int = 0):
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable
        self.attempts = attempts


@dataclass(frozen=True)
class Choice:
    text: str
    finish_reason: str


@dataclass(frozen=True)
class LLMReply:
    choices: list[Choice]
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    attempts: int
    call_id: uuid.UUID
    request_id: int
    model: str = ""
    cost: Decimal = Decimal(0)

    @property
    def text(self) -> str:
        return self.choices[0].text

    @property
    def finish_reason(self) -> str:
        return self.choices[0].finish_reason


@dataclass
class _Attempt:
    ok: bool
    kind: str = ""
    message: str = ""
    http_status: int | None = None
    retry_after: float | None = None
    choices: list[Choice] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    detail: str = ""  # remote text about an error: the request row only
    response_text: str = ""  # the start of a reply that was cut at LLM_MAX_REPLY_BYTES
    truncated: bool = False
    final: bool = False  # an error that another attempt would only repeat

    @property
    def retryable(self) -> bool:
        if self.final or self.kind in (ErrorKind.CLIENT_ERROR, ErrorKind.CONFIGURATION):
            return False
        return not self.ok


_clients: dict[tuple, openai.OpenAI] = {}


def _api_key(endpoint: LLMEndpoint) -> str:
    if endpoint.served_key:  # a model server this platform started with its own key (serve_model)
        return endpoint.served_key
    if not endpoint.api_key_env:
        return "not-needed"  # local servers (vLLM, Ollama, the demo teacher) accept any key
    # Rows saved before a rule existed, or made ambiguous by a project created since, are checked here too.
    if endpoint.project_id is not None:
        problem = key_scope_problem(project=endpoint.project, name=endpoint.api_key_env)
    else:
        problem = key_variable_problem(endpoint.api_key_env)
    if problem:
        raise LLMError(
            f"endpoint {endpoint.name!r}: api_key_env: {problem}", kind=ErrorKind.CONFIGURATION, retryable=False
        )
    value = os.environ.get(endpoint.api_key_env)
    if not value:
        raise LLMError(
            f"endpoint {endpoint.name!r} reads its API key from ${endpoint.api_key_env}, which is not set",
            kind=ErrorKind.CONFIGURATION,
            retryable=False,
        )
    return value


def _openai_client(endpoint: LLMEndpoint) -> openai.OpenAI:
    import openai  # imported on first use: every process that loads Django would otherwise pay ~0.6 s for it

    confined = endpoint.project_id is not None  # a project admin chose the URL: the egress rules apply
    if confined:
        problem = egress.url_problem(endpoint.base_url)  # settings may have changed since the row was saved
        if problem:
            raise LLMError(
                f"endpoint {endpoint.name!r}: base_url: {problem}", kind=ErrorKind.CONFIGURATION, retryable=False
            )
    key = (endpoint.base_url, _api_key(endpoint), endpoint.request_timeout_s, confined)
    client = _clients.get(key)
    if client is None:
        http = egress.http_client(project_endpoint=confined, timeout=key[2])
        client = openai.OpenAI(base_url=key[0], api_key=key[1], timeout=key[2], max_retries=0, http_client=http)
        _clients[key] = client
    return client


def _status_error(exc) -> _Attempt:
    """An HTTP error reply, described in our words; the remote body goes to the request row only."""
    status = exc.status_code
    kind = {429: ErrorKind.RATE_LIMITED}.get(status) or (
        ErrorKind.SERVER_ERROR if status >= 500 else ErrorKind.CLIENT_ERROR
    )
    if status in RETRYABLE_STATUS and kind == ErrorKind.CLIENT_ERROR:
        kind = ErrorKind.SERVER_ERROR
    reason = STATUS_REASONS.get(status) or ("the endpoint had a server error" if status >= 500 else "refused")
    try:
        detail = exc.response.text[:DETAIL_CHARS]
    except Exception:  # noqa: BLE001 - a body that cannot be decoded is simply not kept
        detail = ""
    return _Attempt(
        ok=False,
        kind=kind,
        http_status=status,
        message=f"HTTP {status}: {reason}",
        detail=detail,
        retry_after=parse_retry_after(exc.response.headers.get("retry-after")),
    )


def _egress_error(exc: Exception) -> _Attempt | None:
    """Our own refusals (llm.egress), raised while sending or reading; none is retried."""
    if isinstance(exc, egress.EgressRefused):
        return _Attempt(ok=False, kind=ErrorKind.CONFIGURATION, message=str(exc))
    if isinstance(exc, egress.RedirectRefused):
        return _Attempt(ok=False, kind=ErrorKind.CLIENT_ERROR, http_status=exc.status, message=str(exc))
    if isinstance(exc, egress.ReplyTooLarge):
        return _Attempt(
            ok=False,
            kind=ErrorKind.MALFORMED,
            http_status=exc.status,
            message=str(exc),
            response_text=exc.head.decode("utf-8", errors="replace"),
            truncated=True,
            final=True,  # another attempt would download it again
        )
    if isinstance(exc, egress.EncodedReply):
        return _Attempt(ok=False, kind=ErrorKind.MALFORMED, http_status=exc.status, message=str(exc), final=True)
    return None


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        seconds = parsed.timestamp() - time.time()
    return max(0.0, min(seconds, MAX_RETRY_AFTER_S))


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with full jitter."""
    cap = min(settings.LLM_RETRY_MAX_SECONDS, settings.LLM_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    return random.uniform(cap / 2, cap)


def _finish(reason: Any) -> str:
    return str(reason or "")[:32]  # the column's width; a reply may say anything here


def _send(endpoint: LLMEndpoint, payload: dict[str, Any]) -> _Attempt:
    import openai

    client = _openai_client(endpoint)
    try:
        if endpoint.api_style == ApiStyle.CHAT:
            response = client.chat.completions.create(**payload)
            choices = [Choice(c.message.content or "", _finish(c.finish_reason)) for c in (response.choices or [])]
        else:
            response = client.completions.create(**payload)
            choices = [Choice(c.text or "", _finish(c.finish_reason)) for c in (response.choices or [])]
    except (egress.EgressRefused, egress.RedirectRefused, egress.ReplyTooLarge, egress.EncodedReply) as exc:
        return _egress_error(exc)
    except openai.APIStatusError as exc:
        return _status_error(exc)
    except openai.APITimeoutError:
        # the timeout bounds the whole attempt (llm.egress), so a dripping reply ends here too
        return _Attempt(
            ok=False,
            kind=ErrorKind.TIMEOUT,
            message=f"no complete reply within the endpoint's request_timeout_s ({endpoint.request_timeout_s:g} s)",
        )
    except openai.APIConnectionError as exc:
        cause = exc.__cause__
        ours = _egress_error(cause) if isinstance(cause, Exception) else None
        if ours is not None:
            return ours
        # The exception's words come from our HTTP stack (connection refused, reset …), not from the endpoint's body.
        return _Attempt(
            ok=False, kind=ErrorKind.CONNECTION, message=f"could not connect, or the connection broke ({cause!r})"[:300]
        )
    except (json.JSONDecodeError, openai.APIResponseValidationError, UnicodeDecodeError) as exc:
        return _Attempt(
            ok=False, kind=ErrorKind.MALFORMED, http_status=200, message="malformed reply", detail=str(exc)[:300]
        )
    except httpx2.HTTPError as exc:  # e.g. a body cut short after the headers arrived
        return _Attempt(
            ok=False,
            kind=ErrorKind.CONNECTION,
            message=f"the reply was cut short ({type(exc).__name__})",
            detail=str(exc)[:DETAIL_CHARS],
        )
    if not choices:
        return _Attempt(ok=False, kind=ErrorKind.EMPTY, http_status=200, message="reply had no choices")
    usage = response.usage
    return _Attempt(
        ok=True,
        http_status=200,
        choices=choices,
        prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
        completion_tokens=(usage.completion_tokens or 0) if usage else 0,
        model=str(getattr(response, "model", "") or "")[:200],
    )


def _cost(endpoint: LLMEndpoint, prompt_tokens: int, completion_tokens: int) -> Decimal:
    return (
        Decimal(prompt_tokens) * endpoint.price_input_per_1k + Decimal(completion_tokens) * endpoint.price_output_per_1k
    ) / Decimal(1000)


def build_payload(
    endpoint: LLMEndpoint, *, prompt: str | None = None, messages: list[dict] | None = None, **params: Any
) -> dict[str, Any]:
    """The request body for the endpoint's API style; either a prompt or chat messages may be given."""
    if (prompt is None) == (messages is None):
        raise ValueError("give exactly one of prompt or messages")
    body: dict[str, Any] = {"model": endpoint.model}
    body.update({k: v for k, v in params.items() if v is not None})
    if endpoint.api_style == ApiStyle.CHAT:
        body["messages"] = messages if messages is not None else [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt if prompt is not None else "\n\n".join(m["content"] for m in messages)
    return body


def record_request(*, response_text: str = "", response_truncated: bool = False, **fields) -> LLMRequest:
    """One attempt's row; its reply text is kept up to LLM_MAX_REPLY_BYTES characters (flagged when cut)."""
    limit = settings.LLM_MAX_REPLY_BYTES
    if len(response_text) > limit:
        response_text, response_truncated = response_text[:limit], True
    return LLMRequest.objects.create(response_text=response_text, response_truncated=response_truncated, **fields)


def call_llm(
    endpoint: LLMEndpoint,
    *,
    purpose: str,
    prompt: str | None = None,
    messages: list[dict] | None = None,
    project_id: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **params: Any,
) -> LLMReply:
    """Call the endpoint with retries; every attempt is written as an LLMRequest row. Raises LLMError."""
    payload = build_payload(endpoint, prompt=prompt, messages=messages, **params)
    call_id = uuid.uuid4()
    lease_s = endpoint.request_timeout_s + 30
    attempt_no = 0
    while True:
        attempt_no += 1
        started = time.monotonic()
        try:
            with slot(
                f"endpoint-{endpoint.pk}",
                limit=endpoint.max_concurrency,
                lease_s=lease_s,
                wait_s=settings.LLM_SLOT_WAIT_SECONDS,
            ) as waited:
                sent_at = time.monotonic()
                try:
                    result = _send(endpoint, payload)
                except LLMError as exc:
                    result = _Attempt(ok=False, kind=exc.kind, message=str(exc))
                latency_ms = int((time.monotonic() - sent_at) * 1000)
        except SlotTimeout as exc:
            raise LLMError(str(exc), kind="slot_timeout", retryable=True, attempts=attempt_no - 1) from None
        row = record_request(
            endpoint=endpoint,
            project_id=project_id,
            purpose=purpose,
            call_id=call_id,
            attempt=attempt_no,
            ok=result.ok,
            error_kind=result.kind,
            http_status=result.http_status,
            error_message=f"{result.message} (the reply began: {result.detail})" if result.detail else result.message,
            retry_after_s=result.retry_after,
            request_payload=payload,
            response_text=result.choices[0].text if result.choices else result.response_text,
            response_truncated=result.truncated,
            finish_reason=result.choices[0].finish_reason if result.choices else "",
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            cost=_cost(endpoint, result.prompt_tokens, result.completion_tokens),
            latency_ms=latency_ms,
            slot_wait_ms=int(waited * 1000),
        )
        if result.ok:
            return LLMReply(
                choices=result.choices,
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                latency_ms=int((time.monotonic() - started) * 1000),
                attempts=attempt_no,
                call_id=call_id,
                request_id=row.pk,
                model=result.model,
                cost=row.cost,
            )
        if not result.retryable or attempt_no > endpoint.max_retries:
            raise LLMError(
                f"{endpoint.name}: {result.kind} after {attempt_no} attempt(s): {result.message}",
                kind=result.kind,
                retryable=result.retryable,
                attempts=attempt_no,
            )
        delay = result.retry_after if result.retry_after is not None else backoff_seconds(attempt_no)
        logger.info("%s: %s (attempt %d), retrying in %.2fs", endpoint.name, result.kind, attempt_no, delay)
        sleep(delay)
