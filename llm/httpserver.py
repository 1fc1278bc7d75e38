"""The plumbing shared by the project's local OpenAI-compatible servers (the demo teacher, a served trained model):
a threading HTTP server that knows its /v1 base URL, and a handler that answers JSON and refuses a request body it
will not read (over the server's byte cap, a bad or missing Content-Length) before any handler sees it. No Django."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
_LENGTH = re.compile(r"[0-9]{1,18}")  # int() would also take "+5", " 5", "5_0" and 5,000 digits


class LocalServer(ThreadingHTTPServer):
    # The listen backlog (socketserver's default is 5): a burst of callers waits to be accepted — and is then
    # answered, 429 when the work queue is full — instead of having its connection refused or dropped.
    request_queue_size = 256
    daemon_threads = True
    allow_reuse_address = True
    thread_name = "local-server"
    verbose = False
    max_body_bytes = DEFAULT_MAX_BODY_BYTES  # a larger body is answered 413 unread

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name=self.thread_name, daemon=True)
        thread.start()
        return thread

    def serve_until_interrupted(self) -> None:
        """Serve in this thread until Ctrl-C, then close the socket."""
        try:
            self.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.server_close()


class JSONHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds a socket read or write may stall: a client that promises bytes and sends none lets go

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)

    def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, status: int, message: str, headers: dict | None = None) -> None:
        """Answer an error before the body was read, and close: unread body bytes must not be taken for the next
        request on this connection."""
        self.close_connection = True
        kind = "invalid_request_error" if status < 500 else "server_error"
        self._json(status, {"error": {"message": message, "type": kind}}, {"Connection": "close", **(headers or {})})

    def parse_request(self) -> bool:
        """The request line and headers (BaseHTTPRequestHandler), then the body's framing: at most the server's
        max_body_bytes, announced by a plain Content-Length (chunked bodies are not read)."""
        if not super().parse_request():
            return False
        problem = self._body_problem()
        if problem is not None:
            self._refuse(*problem)
            return False
        return True

    def _body_problem(self) -> tuple[int, str] | None:
        if self.headers.get("Transfer-Encoding"):
            return 411, "Transfer-Encoding: send the body with a Content-Length instead"
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return None
        if len(lengths) > 1 or not _LENGTH.fullmatch(lengths[0].strip()):
            return 400, "Content-Length: one whole number of bytes"
        if int(lengths[0]) > self.server.max_body_bytes:
            return 413, f"Content-Length: the body may have at most {self.server.max_body_bytes} bytes"
        return None

    def _body(self) -> dict:
        """The request body as JSON (an empty body is {}); raises json.JSONDecodeError / UnicodeDecodeError. Its
        length was checked against the cap in parse_request."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        return json.loads(raw or b"{}")
