"""Issue 34 re-test, finding B: an endpoint's request_timeout_s bounds a whole attempt (connect, headers and body),
not each read, so a server dripping bytes cannot hold a shared worker; the attempt ends as a timeout, which is
retried like any other timeout."""

from __future__ import annotations

import time

import openai  # noqa: F401 - imported once here, so the timings below measure the calls, not the import
import pytest

from llm.client import LLMError, call_llm
from llm.models import LLMRequest
from llm.services import create_endpoint
from tests.llm.servers import Recorder, dripping_reply

TIMEOUT_S = 1.5  # each read arrives well within it (every 0.3 s); the attempt as a whole does not
DRIP_S = 6.0  # how long the server would go on: far past the deadline


@pytest.mark.parametrize(
    ("in_headers", "owned"),
    [(False, True), (False, False), (True, True)],
    ids=["body-project-endpoint", "body-global-endpoint", "headers-project-endpoint"],
)
def test_a_dripping_reply_ends_at_the_attempts_deadline_as_a_retryable_timeout(project, in_headers, owned):
    with Recorder(dripping_reply(every=0.3, for_s=DRIP_S, in_headers=in_headers)) as server:
        endpoint = create_endpoint(
            name="drip",
            base_url=server.url,
            model="m",
            request_timeout_s=TIMEOUT_S,
            max_retries=0,
            project=project if owned else None,
        )
        started = time.monotonic()
        with pytest.raises(LLMError) as caught:
            call_llm(endpoint, purpose="test", prompt="hi")
        elapsed = time.monotonic() - started
    assert caught.value.kind == "timeout" and caught.value.retryable, caught.value
    assert elapsed < TIMEOUT_S + 1.0, elapsed
    assert "request_timeout_s" in str(caught.value)
    row = LLMRequest.objects.get()
    assert (row.ok, row.error_kind) == (False, "timeout")


def test_a_timed_out_attempt_is_retried_and_each_attempt_has_its_own_deadline(project):
    with Recorder(dripping_reply(every=0.2, for_s=DRIP_S)) as server:
        endpoint = create_endpoint(
            name="drip", base_url=server.url, model="m", request_timeout_s=0.8, max_retries=1, project=project
        )
        started = time.monotonic()
        with pytest.raises(LLMError, match="timeout after 2 attempt"):
            call_llm(endpoint, purpose="test", prompt="hi", sleep=lambda s: None)
        elapsed = time.monotonic() - started
    assert 1.6 <= elapsed < 2.6, elapsed
    assert list(LLMRequest.objects.values_list("error_kind", flat=True)) == ["timeout", "timeout"]
