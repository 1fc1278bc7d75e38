"""The client against the demo teacher: the real openai code path, with faults injected by the server."""

from decimal import Decimal

import pytest

from llm.client import LLMError, call_llm, parse_retry_after
from llm.models import ApiStyle, LLMRequest
from llm.services import create_endpoint


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


def test_success_records_one_attempt_with_tokens_and_cost(endpoint, teacher):
    endpoint.price_input_per_1k = Decimal("0.5")
    endpoint.price_output_per_1k = Decimal("2")
    endpoint.save()
    reply = call_llm(endpoint, purpose="test", prompt="Explain compound interest.", max_tokens=200)
    assert reply.text and reply.finish_reason == "stop" and reply.attempts == 1
    row = LLMRequest.objects.get(pk=reply.request_id)
    assert row.ok and row.http_status == 200 and row.purpose == "test"
    assert row.prompt_tokens > 0 and row.completion_tokens > 0
    expected = (Decimal(row.prompt_tokens) * Decimal("0.5") + Decimal(row.completion_tokens) * 2) / 1000
    assert row.cost == expected.quantize(Decimal("0.000001"))
    assert row.request_payload["messages"][0]["content"] == "Explain compound interest."
    assert teacher.stats()["completed"] == 1


def test_429_honours_retry_after_then_succeeds(endpoint, teacher):
    teacher.faults(queue=["429", "429"], retry_after=0.25)
    sleeps = Sleeps()
    reply = call_llm(endpoint, purpose="test", prompt="hello", sleep=sleeps)
    assert reply.attempts == 3
    assert sleeps == [0.25, 0.25]
    rows = list(LLMRequest.objects.filter(call_id=reply.call_id).order_by("attempt"))
    assert [(r.ok, r.error_kind, r.http_status, r.retry_after_s) for r in rows] == [
        (False, "rate_limited", 429, 0.25),
        (False, "rate_limited", 429, 0.25),
        (True, "", 200, None),
    ]


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("500", "server_error"),
        ("503", "server_error"),
        ("malformed", "malformed"),
        ("truncated", "connection"),
        ("empty", "empty"),
        ("reset", "connection"),
    ],
)
def test_transient_faults_are_retried_and_recorded(endpoint, teacher, fault, kind):
    teacher.faults(queue=[fault])
    sleeps = Sleeps()
    reply = call_llm(endpoint, purpose="test", prompt="hello", sleep=sleeps)
    assert reply.attempts == 2 and len(sleeps) == 1
    failed = LLMRequest.objects.get(call_id=reply.call_id, attempt=1)
    assert not failed.ok and failed.error_kind == kind and failed.error_message


def test_timeout_is_retried(endpoint, teacher):
    endpoint.request_timeout_s = 0.5
    endpoint.save()
    teacher.faults(queue=["slow"], slow_seconds=2)
    reply = call_llm(endpoint, purpose="test", prompt="hello", sleep=Sleeps())
    assert reply.attempts == 2
    assert LLMRequest.objects.get(call_id=reply.call_id, attempt=1).error_kind == "timeout"


def test_gives_up_after_max_retries_with_every_attempt_recorded(endpoint, teacher):
    teacher.faults(queue=["500"] * 10)
    sleeps = Sleeps()
    with pytest.raises(LLMError) as info:
        call_llm(endpoint, purpose="test", prompt="hello", sleep=sleeps)
    assert info.value.kind == "server_error" and info.value.attempts == endpoint.max_retries + 1
    assert LLMRequest.objects.filter(ok=False, error_kind="server_error").count() == endpoint.max_retries + 1
    assert len(sleeps) == endpoint.max_retries
    assert sleeps == sorted(sleeps) or max(sleeps) <= 30  # backoff grows (with jitter) and stays capped


def test_client_errors_are_not_retried(db, teacher):
    wrong = create_endpoint(name="wrong", base_url=teacher.url.removesuffix("/v1") + "/nope", model="m")
    with pytest.raises(LLMError) as info:
        call_llm(wrong, purpose="test", prompt="hello", sleep=Sleeps())
    assert info.value.kind == "client_error" and info.value.attempts == 1 and not info.value.retryable
    assert LLMRequest.objects.get().http_status == 404


def test_missing_api_key_variable_is_a_configuration_error_before_any_request(db, teacher, monkeypatch):
    monkeypatch.delenv("IDP_TEST_API_KEY", raising=False)
    keyed = create_endpoint(name="keyed", base_url=teacher.url, model="m", api_key_env="IDP_TEST_API_KEY")
    with pytest.raises(LLMError, match=r"\$IDP_TEST_API_KEY, which is not set"):
        call_llm(keyed, purpose="test", prompt="hello", sleep=Sleeps())
    assert teacher.stats()["requests"] == 0
    monkeypatch.setenv("IDP_TEST_API_KEY", "secret-value")
    assert call_llm(keyed, purpose="test", prompt="hello").attempts == 1
    assert "secret-value" not in str(LLMRequest.objects.filter(ok=True).values().get())


def test_completions_style_and_multiple_choices(db, teacher):
    legacy = create_endpoint(name="legacy", base_url=teacher.url, model="m", api_style=ApiStyle.COMPLETIONS)
    reply = call_llm(legacy, purpose="test", prompt="1. Name a fruit.\n2.", n=3, max_tokens=300)
    assert len(reply.choices) == 3
    row = LLMRequest.objects.get(pk=reply.request_id)
    assert row.request_payload["prompt"].startswith("1. Name a fruit.") and "messages" not in row.request_payload


def test_finish_reason_length_is_reported(endpoint, teacher):
    teacher.faults(queue=["length"])
    reply = call_llm(endpoint, purpose="test", prompt="Explain solar panels.")
    assert reply.finish_reason == "length"
    assert LLMRequest.objects.get(pk=reply.request_id).finish_reason == "length"


def test_parse_retry_after():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("99999") == 300.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: retry now
