"""The local servers' shared framing (llm.httpserver): the demo teacher, like the served model, refuses a body over
its byte cap or with a bad Content-Length before reading it (a lying Content-Length is never read into memory)."""

import socket


def _raw(address, head: bytes) -> bytes:
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_the_teacher_refuses_bodies_it_will_not_read(teacher):
    address = teacher.server.server_address[:2]
    start = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
    assert _raw(address, start + b"Content-Length: 1000000000000\r\n\r\n").startswith(b"HTTP/1.1 413")
    assert _raw(address, start + b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert _raw(address, start + b"Transfer-Encoding: chunked\r\n\r\n").startswith(b"HTTP/1.1 411")
    body = b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}'
    ok = _raw(address, start + b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert ok.startswith(b"HTTP/1.1 200")


def test_a_burst_of_callers_is_queued_to_be_accepted_not_refused():
    """200 callers at once reached the served model; with socketserver's backlog of 5, 27 got connection errors
    instead of an answer (or a 429). Here the server is busy (not accepting): 100 connections must still open."""
    from llm.httpserver import JSONHandler, LocalServer

    server = LocalServer(("127.0.0.1", 0), JSONHandler)  # bound and listening; nothing accepts yet
    opened = []
    try:
        for _ in range(100):
            sock = socket.socket()
            sock.settimeout(0.3)
            try:
                sock.connect(server.server_address)
            except OSError:
                sock.close()
                break
            opened.append(sock)
        assert len(opened) == 100
    finally:
        for sock in opened:
            sock.close()
        server.server_close()
