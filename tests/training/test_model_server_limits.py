"""The built-in model server's guard rails (issue 34, finding 5): the API key on every route but /health, a body
over the cap or with a lying Content-Length refused unread, prompts beyond the model's context refused (or cut when
the server truncates), every bad field a 400 naming it, and a full queue answered 429 with Retry-After."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

KEY = "test-key-" + "k" * 24


@pytest.fixture(scope="module")
def generator(tiny_base):
    from training.serving import Generator

    return Generator(tiny_base)


@pytest.fixture(scope="module")
def server(generator):
    from training.serving import ModelServer

    server = ModelServer("127.0.0.1", 0, generator, model_name="tiny", api_key=KEY, max_body_bytes=64 * 1024)
    server.start_in_thread()
    yield server
    server.shutdown()
    server.server_close()


class _Reply:
    def __init__(self, response: http.client.HTTPResponse):
        self.status_code = response.status
        self.headers = response.headers
        self.text = response.read().decode()

    def json(self):
        return json.loads(self.text)


def _request(server, method: str, path: str, *, content: bytes | None = None, key=KEY) -> _Reply:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=60)
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    if content is not None:
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=content, headers=headers)
        return _Reply(connection.getresponse())
    finally:
        connection.close()


def _post(server, path="/v1/completions", body=None, key=KEY, content: bytes | None = None) -> _Reply:
    return _request(server, "POST", path, content=json.dumps(body).encode() if content is None else content, key=key)


def _get(server, path: str, key=KEY) -> _Reply:
    return _request(server, "GET", path, key=key)


def _raw(server, head: bytes) -> bytes:
    """Send request bytes as they are (no body after them) and read the answer: a server that waited for the body
    it was promised would time out here instead of answering."""
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_every_route_but_health_needs_the_key(server):
    assert _get(server, "/health", key=None).status_code == 200
    assert _get(server, "/v1/models", key=None).status_code == 401
    wrong = _get(server, "/v1/models", key="x" * 33)
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    assert _post(server, body={"prompt": "the cat", "max_tokens": 2}, key=None).status_code == 401
    assert _post(server, body={"prompt": "the cat", "max_tokens": 2}, key=KEY[:-1]).status_code == 401
    models = _get(server, "/v1/models")
    assert models.status_code == 200 and models.json()["data"][0]["id"] == "tiny"
    reply = _post(server, body={"prompt": "the cat", "max_tokens": 2})
    assert reply.status_code == 200 and reply.json()["usage"]["completion_tokens"] <= 2


def test_a_server_without_a_real_key_does_not_start(generator):
    from training.serving import ModelServer

    for key in ("", "short", None):
        with pytest.raises(ValueError, match="api_key"):
            ModelServer("127.0.0.1", 0, generator, model_name="tiny", api_key=key)


def test_bodies_over_the_cap_or_badly_framed_are_refused_unread(server):
    auth = f"Authorization: Bearer {KEY}\r\n".encode()
    start = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n" + auth
    huge = _raw(server, start + b"Content-Length: 1000000000000\r\n\r\n")  # promised, never sent
    assert huge.startswith(b"HTTP/1.1 413") and b"Content-Length" in huge
    over = _raw(server, start + f"Content-Length: {64 * 1024 + 1}\r\n\r\n".encode())
    assert over.startswith(b"HTTP/1.1 413")
    for bad in (b"abc", b"-1", b"+5", b"5_0", b"9" * 5000):
        assert _raw(server, start + b"Content-Length: " + bad + b"\r\n\r\n").startswith(b"HTTP/1.1 400"), bad
    twice = _raw(server, start + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n")
    assert twice.startswith(b"HTTP/1.1 400")
    chunked = _raw(server, start + b"Transfer-Encoding: chunked\r\n\r\n")
    assert chunked.startswith(b"HTTP/1.1 411")
    # a real over-cap body, through a client: answered, the connection closed
    reply = _post(server, body={"prompt": "x" * (64 * 1024)})
    assert reply.status_code == 413 and reply.headers["Connection"] == "close"


def test_a_prompt_beyond_the_context_is_400_or_cut_when_truncating(server, generator):
    from training.serving import ModelServer

    long_prompt = "the cat runs " * 1200  # ~3,600 tokens; the tiny model's context is 2,048
    refused = _post(server, body={"prompt": long_prompt, "max_tokens": 4})
    assert refused.status_code == 400 and refused.json()["error"]["message"].startswith("prompt:")
    assert "context of 2048 tokens" in refused.json()["error"]["message"]
    chat = _post(server, "/v1/chat/completions", {"messages": [{"role": "user", "content": long_prompt}]})
    assert chat.status_code == 400 and chat.json()["error"]["message"].startswith("messages:")
    over = _post(server, body={"prompt": "the cat", "max_tokens": 5000})
    assert over.status_code == 400 and over.json()["error"]["message"].startswith("max_tokens:")
    cutting = ModelServer(
        "127.0.0.1", 0, generator, model_name="tiny", api_key=KEY, truncate_prompts=True, max_body_bytes=64 * 1024
    )
    cutting.start_in_thread()
    try:
        reply = _post(cutting, body={"prompt": long_prompt, "max_tokens": 4})
        assert reply.status_code == 200 and reply.json()["usage"]["prompt_tokens"] == 2048 - 4
    finally:
        cutting.shutdown()
        cutting.server_close()


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "x", "n": True},
        {"prompt": "x", "n": "2"},
        {"prompt": "x", "n": 9},
        {"prompt": "x", "n": 0},
        {"prompt": "x", "n": 1.5},
        {"prompt": "x", "max_tokens": [1]},
        {"prompt": "x", "max_tokens": "8"},
        {"prompt": "x", "max_tokens": 0},
        {"prompt": "x", "temperature": "x"},
        {"prompt": "x", "temperature": True},
        {"prompt": "x", "temperature": [0.5]},
        {"prompt": "x", "temperature": 3},
        {"prompt": "x", "top_p": {"a": 1}},
        {"prompt": "x", "top_p": 1.5},
        {"prompt": "x", "stop": [1]},
        {"prompt": "x", "stop": ["s"] * 17},
        {"prompt": "x", "stop": ["s" * 257]},
        {"prompt": "x", "stop": {"a": "b"}},
        {"prompt": 5},
        {"prompt": ["a", "b"]},
        [],
    ],
)
def test_bad_fields_are_400_naming_the_field(server, body):
    reply = _post(server, body=body)
    assert reply.status_code == 400, reply.text
    message = reply.json()["error"]["message"]
    named = next((k for k in body if k != "prompt"), "prompt") if isinstance(body, dict) else "body"
    assert message.startswith(f"{named}:"), message


def test_bad_json_and_bad_messages_are_400(server):
    for raw in (b"{oops", b"\xff\xfe", b"[" * 50_000, b'{"prompt": "x", "temperature": NaN}', b"1" * 5000):
        reply = _post(server, content=raw)
        assert reply.status_code == 400, raw[:20]
    for messages in ([], [{"role": "user", "content": ["a"]}], [{"role": "robot", "content": "x"}], ["x"]):
        reply = _post(server, "/v1/chat/completions", {"messages": messages, "max_tokens": 2})
        if reply.status_code == 200:  # a model without a chat template reads any role's text
            assert messages == [{"role": "robot", "content": "x"}]
            continue
        assert reply.status_code == 400 and reply.json()["error"]["message"].startswith("messages:")


def test_a_full_queue_is_429_with_retry_after(tiny_base):
    from training.serving import Generator, ModelServer

    stalled = Generator(tiny_base, max_queue=1, start=False)  # nothing takes requests until started
    server = ModelServer("127.0.0.1", 0, stalled, model_name="tiny", api_key=KEY)
    server.start_in_thread()
    first: list[_Reply] = []
    waiting = threading.Thread(target=lambda: first.append(_post(server, body={"prompt": "the cat", "max_tokens": 2})))
    try:
        waiting.start()
        deadline = time.monotonic() + 10
        while stalled.queue.qsize() < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        busy = _post(server, body={"prompt": "the dog", "max_tokens": 2})
        assert busy.status_code == 429 and int(busy.headers["Retry-After"]) >= 1
        assert json.loads(busy.text)["error"]["message"].startswith("the server is busy")
        stalled.start()
        waiting.join(30)
        assert first and first[0].status_code == 200
    finally:
        server.shutdown()
        server.server_close()
