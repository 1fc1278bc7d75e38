"""The demo teacher's HTTP side: the OpenAI-compatible routes, the control API and the server (see the package
docstring for what it replies)."""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from pathlib import Path

from demo.teacher.compose import load_seed_pool
from demo.teacher.faults import FaultInjection, FaultPlan, TeacherState
from demo.teacher.text import DISCLAIMER, MODEL_ID, apply_stop, count_tokens
from llm.httpserver import JSONHandler, LocalServer


class _Handler(FaultInjection, JSONHandler):
    server: TeacherServer

    # -- routes --
    def do_GET(self):
        state = self.server.state
        if self.path.rstrip("/") == "/v1/models":
            self._json(
                200,
                {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": DISCLAIMER}]},
            )
        elif self.path == "/_teacher/stats":
            self._json(200, state.stats())
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self):
        state = self.server.state
        try:
            body = self._body()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self._json(400, {"error": {"message": f"request body is not JSON: {exc}", "type": "invalid_request"}})
            return
        if self.path == "/_teacher/faults":
            try:
                state.configure(body)
            except (ValueError, TypeError) as exc:
                self._json(400, {"error": {"message": str(exc), "type": "invalid_request"}})
                return
            self._json(200, state.stats())
            return
        if self.path == "/_teacher/reset":
            state.reset_stats()
            self._json(200, state.stats())
            return
        route = self.path.rstrip("/")
        if route == "/v1/chat/completions":
            self._complete(body, chat=True)
        elif route == "/v1/completions":
            self._complete(body, chat=False)
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def send_response(self, code, message=None):
        # A completion stops being in flight before its first byte is sent: otherwise a client that got its answer
        # (and released its concurrency slot) could start the next call while this thread still counts the last one.
        if getattr(self, "_in_flight", False):
            self._in_flight = False
            self.server.state.leave()
        super().send_response(code, message)

    def _complete(self, body: dict, *, chat: bool) -> None:
        state = self.server.state
        fault = state.next_fault()
        self._in_flight = True
        completed = False
        try:
            if chat:
                messages = body.get("messages")
                if not isinstance(messages, list) or not messages:
                    self._json(400, {"error": {"message": "messages must be a non-empty list", "type": "invalid"}})
                    return
                prompt = "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
            else:
                prompt = body.get("prompt")
                if isinstance(prompt, list):
                    prompt = "\n".join(map(str, prompt))
                if not isinstance(prompt, str):
                    self._json(400, {"error": {"message": "prompt must be a string", "type": "invalid"}})
                    return
            if state.plan.latency_ms:
                time.sleep(state.plan.latency_ms / 1000 * random.uniform(0.5, 1.5))
            if self._inject(fault):
                return
            n = max(1, min(int(body.get("n") or 1), 16))
            max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 1024)
            with state.lock:
                texts = [apply_stop(state.composer.reply(prompt), body.get("stop")) for _ in range(n)]
            choices = []
            for index, text in enumerate(texts):
                finish = "stop"
                if fault == "length" or count_tokens(text) > max_tokens:
                    text, finish = (
                        _truncate(text, max_tokens if fault != "length" else count_tokens(text) // 2),
                        "length",
                    )
                if chat:
                    choices.append(
                        {"index": index, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
                    )
                else:
                    choices.append({"index": index, "text": text, "finish_reason": finish, "logprobs": None})
            prompt_tokens = count_tokens(prompt)
            completion_tokens = sum(count_tokens(t) for t in texts)
            self._json(
                200,
                {
                    "id": f"teacher-{uuid.uuid4().hex[:12]}",
                    "object": "chat.completion" if chat else "text_completion",
                    "created": int(time.time()),
                    "model": body.get("model") or MODEL_ID,
                    "system_fingerprint": MODEL_ID,
                    "choices": choices,
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "total_tokens": prompt_tokens + completion_tokens,
                    },
                },
            )
            completed = True
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout); nothing to answer
        finally:
            if self._in_flight:  # dropped without an answer
                self._in_flight = False
                state.leave()
            state.done(completed)


def _truncate(text: str, max_tokens: int) -> str:
    out, used = [], 0
    for piece in re.findall(r"\S+\s*", text):
        used += count_tokens(piece)
        if used > max_tokens:
            break
        out.append(piece)
    return "".join(out)


class TeacherServer(LocalServer):
    thread_name = "demo-teacher"

    def __init__(self, host: str, port: int, state: TeacherState, verbose: bool = False):
        self.state = state
        self.verbose = verbose
        super().__init__((host, port), _Handler)


def default_seed_files() -> list[Path]:
    folder = Path(__file__).resolve().parents[2] / "selfinstruct" / "demo_seeds"
    return sorted(folder.glob("*.jsonl"))


def make_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    seed: int = 0,
    seed_files: list[Path] | None = None,
    plan: FaultPlan | None = None,
    verbose: bool = False,
) -> TeacherServer:
    pool = load_seed_pool(seed_files or default_seed_files())
    return TeacherServer(host, port, TeacherState(pool, seed=seed, plan=plan), verbose=verbose)
