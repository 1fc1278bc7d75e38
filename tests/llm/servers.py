"""Small local HTTP servers for the egress tests: each records what reached it and answers as it is told."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHAT_REPLY = {
    "id": "x",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer):
        """`answer(handler)` writes the reply; every request is recorded as (method, path, headers)."""
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.seen: list[tuple[str, str, dict]] = []
        self.bytes_sent = 0
        self.write_failed = threading.Event()
        self.done = threading.Event()  # set when an answer has been written (or given up)
        self.stop = threading.Event()  # set on exit: an answer still writing gives up

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _any(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        try:
            self.server.answer(self)
        finally:
            self.server.done.set()

    do_GET = do_POST = _any


def json_reply(body: dict | None = None, status: int = 200):
    def answer(handler):
        data = json.dumps(body or CHAT_REPLY).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return answer


def redirect_to(url: str, status: int):
    def answer(handler):
        handler.send_response(status)
        handler.send_header("Location", url)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def text_reply(status: int, text: str):
    def answer(handler):
        data = text.encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return answer


def huge_reply(size: int, chunk: int = 64 * 1024):
    """A 200 whose JSON body is `size` bytes, written in chunks; bytes_sent says how far the client read."""

    def answer(handler):
        head = b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "'
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        sent = 0
        try:
            handler.wfile.write(head)
            sent = len(head)
            while sent < size:
                piece = b"a" * min(chunk, size - sent)
                handler.wfile.write(piece)
                sent += len(piece)
        except OSError:
            handler.server.write_failed.set()
        finally:
            handler.server.bytes_sent = sent

    return answer


def dripping_reply(*, every: float, for_s: float, in_headers: bool = False):
    """A 200 promising 100,000 bytes that sends one byte every `every` seconds (in the body, or in a header before
    the body) for at most `for_s` seconds, then hangs up; bytes_sent says how many it sent."""

    def answer(handler):
        server, sent, until = handler.server, 0, time.monotonic() + for_s
        try:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n")
            if in_headers:
                handler.wfile.write(b"X-Slow: ")
            else:
                handler.wfile.write(b"\r\n")
            while time.monotonic() < until and not server.stop.wait(every):
                handler.wfile.write(b"a")
                sent += 1
        except OSError:
            server.write_failed.set()
        finally:
            server.bytes_sent = sent
            handler.close_connection = True  # hang up, as the probe's server did

    return answer
