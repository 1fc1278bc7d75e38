"""The demo teacher's faults and state: the plan of faults to inject (a queue for the next requests, random rates),
the shared state that draws them and counts requests, and the handler side that plays a fault on the wire."""

from __future__ import annotations

import random
import socket
import threading
import time
from dataclasses import dataclass, field

from demo.teacher.compose import Composer
from demo.teacher.text import DISCLAIMER, MODEL_ID

FAULTS = ("429", "500", "503", "slow", "truncated", "malformed", "empty", "reset", "length")


@dataclass
class FaultPlan:
    queue: list[str] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)
    retry_after: float = 1.0
    slow_seconds: float = 5.0
    latency_ms: int = 0


class TeacherState:
    def __init__(self, seed_pool: list[dict], seed: int = 0, plan: FaultPlan | None = None):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.composer = Composer(seed_pool, random.Random(seed + 1))
        self.plan = plan or FaultPlan()
        self.reset_stats()

    def reset_stats(self) -> None:
        with self.lock:
            self.requests = 0
            self.completed = 0
            self.faults: dict[str, int] = {}
            self.inflight = 0
            self.max_inflight = 0

    def next_fault(self) -> str | None:
        with self.lock:
            self.requests += 1
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
            fault = self.plan.queue.pop(0) if self.plan.queue else None
            if fault is None:
                for name, rate in self.plan.rates.items():
                    if self.rng.random() < rate:
                        fault = name
                        break
            if fault:
                self.faults[fault] = self.faults.get(fault, 0) + 1
            return fault

    def leave(self) -> None:
        """The request stops counting as in flight (called as its answer starts, before the client can see it)."""
        with self.lock:
            self.inflight -= 1

    def done(self, completed: bool) -> None:
        with self.lock:
            self.completed += int(completed)

    def stats(self) -> dict:
        with self.lock:
            return {
                "requests": self.requests,
                "completed": self.completed,
                "faults": dict(self.faults),
                "inflight": self.inflight,
                "max_inflight": self.max_inflight,
                "queued_faults": list(self.plan.queue),
            }

    def configure(self, body: dict) -> None:
        unknown = [f for f in list(body.get("queue", [])) + list(body.get("rates", {})) if f not in FAULTS]
        if unknown:
            raise ValueError(f"unknown fault(s) {unknown}; known: {list(FAULTS)}")
        with self.lock:
            if "queue" in body:
                self.plan.queue = list(body["queue"])
            if "rates" in body:
                self.plan.rates = {k: float(v) for k, v in body["rates"].items()}
            for key in ("retry_after", "slow_seconds"):
                if key in body:
                    setattr(self.plan, key, float(body[key]))
            if "latency_ms" in body:
                self.plan.latency_ms = int(body["latency_ms"])
            if "seed" in body:
                self.rng.seed(int(body["seed"]))


class FaultInjection:
    """The handler side of fault injection (mixed into the teacher's request handler)."""

    def _inject(self, fault: str | None) -> bool:
        """Play the fault; True when the request has been answered (or dropped) by it."""
        plan = self.server.state.plan
        if fault in ("429", "500", "503"):
            headers = {"Retry-After": f"{plan.retry_after:g}"} if fault in ("429", "503") else {}
            kind = {"429": "rate_limit_exceeded", "500": "server_error", "503": "overloaded"}[fault]
            self._json(int(fault), {"error": {"message": f"injected {fault} ({DISCLAIMER})", "type": kind}}, headers)
            return True
        if fault == "slow":
            time.sleep(plan.slow_seconds)
            return False
        if fault == "malformed":
            data = b'{"id": "teacher", "choices": [{"index": 0, "message": {"content": "unterminated'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return True
        if fault == "truncated":
            data = b'{"id": "teacher", "object": "chat.completion", "choices": ['
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data) + 500))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if fault == "empty":
            self._json(
                200,
                {
                    "id": "teacher",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": MODEL_ID,
                    "choices": [],
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                },
            )
            return True
        if fault == "reset":
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.close()
            return True
        return False
