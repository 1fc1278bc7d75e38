"""Issue 34, finding 4: no LLM reply is read past LLM_MAX_REPLY_BYTES. A longer one is an error that is not
retried (it would only be downloaded again); its start is stored, flagged, and the client stopped reading."""

from __future__ import annotations

import pytest

from llm.client import LLMError, call_llm, record_request
from llm.models import LLMRequest
from llm.services import create_endpoint
from tests.llm.servers import Recorder, huge_reply, json_reply

CAP = 64 * 1024
BODY = 16 * 1024 * 1024  # far more than the kernel's socket buffers hold: the server sees the client hang up


@pytest.mark.parametrize("owned", [True, False])
def test_a_reply_past_the_cap_is_cut_while_reading_and_not_retried(project, settings, owned):
    settings.LLM_MAX_REPLY_BYTES = CAP
    with Recorder(huge_reply(BODY)) as server:
        endpoint = create_endpoint(
            name="big", base_url=server.url, model="m", max_retries=3, project=project if owned else None
        )
        with pytest.raises(LLMError, match="longer than LLM_MAX_REPLY_BYTES") as caught:
            call_llm(endpoint, purpose="test", prompt="hi", sleep=lambda s: pytest.fail("retried"))
        assert caught.value.kind == "malformed" and caught.value.attempts == 1
        assert server.done.wait(10)
    assert server.write_failed.is_set() and server.bytes_sent < BODY // 2
    row = LLMRequest.objects.get()
    assert row.response_truncated and row.http_status == 200 and not row.ok
    assert row.response_text.startswith('{"choices"') and len(row.response_text) == CAP


def test_a_reply_under_the_cap_is_stored_whole_and_unflagged(db, settings):
    settings.LLM_MAX_REPLY_BYTES = CAP
    with Recorder(json_reply()) as server:
        endpoint = create_endpoint(name="small", base_url=server.url, model="m")
        reply = call_llm(endpoint, purpose="test", prompt="hi")
    row = LLMRequest.objects.get(pk=reply.request_id)
    assert (row.response_text, row.response_truncated) == ("hi", False)


def test_a_gzip_reply_is_refused_before_it_is_unpacked(db):
    def gzip_answer(handler):
        handler.send_response(200)
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", "4")
        handler.end_headers()
        handler.wfile.write(b"\x1f\x8b\x08\x00")

    with Recorder(gzip_answer) as server:
        endpoint = create_endpoint(name="gz", base_url=server.url, model="m", max_retries=2)
        with pytest.raises(LLMError, match="Content-Encoding 'gzip'") as caught:
            call_llm(endpoint, purpose="test", prompt="hi", sleep=lambda s: pytest.fail("retried"))
    assert caught.value.attempts == 1 and server.seen[0][2]["accept-encoding"] == "identity"


def test_stored_reply_text_is_bounded(db, settings):
    settings.LLM_MAX_REPLY_BYTES = 1024
    endpoint = create_endpoint(name="e", base_url="http://127.0.0.1:9/v1", model="m")
    row = record_request(endpoint=endpoint, purpose="t", ok=True, response_text="x" * 5000)
    assert len(row.response_text) == 1024 and row.response_truncated
