"""An OpenAI-compatible HTTP server for a trained checkpoint, on transformers `generate` (no Django imported here).

`manage.py serve_model JOB_ID` uses vLLM's server when vLLM is installed (GPU machines) and this one otherwise, so
the completion sampler and the generation engine can use round N's model like any endpoint. Routes: GET /health
(open), and behind `Authorization: Bearer <api key>`: GET /v1/models, POST /v1/completions, POST
/v1/chat/completions (a model trained with a chat template gets the conversation through that template, as in
training; otherwise chat messages are joined into the prompt text the SFT data was trained on: every message's text
in order, as `selfinstruct.text.conversation_text` writes multi-turn rows). Bounds: the body (LocalServer's byte
cap), every field (training.serving_requests: n, max_tokens, the prompt within the model's context), and the
requests waiting for the one generator thread (a full queue answers 429 with Retry-After). Requests that arrive
together are generated as one batch (left padding), grouped by sampling settings; each reply is cut at its own
max_tokens and stop strings.
"""

from __future__ import annotations

import hmac
import math
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from llm.httpserver import JSONHandler, LocalServer
from training.serving_requests import RequestError, Sampling, context_length, read_request

MAX_BATCH = 8
BATCH_WAIT_S = 0.02  # how long the first request of a batch waits for company
DEFAULT_MAX_QUEUE = 64  # requests waiting for the generator; one more is answered 429
HEALTH_ROUTE = "/health"  # the one route without the API key: says only that the server is up


class QueueFull(Exception):
    def __init__(self, retry_after_s: int):
        super().__init__(f"the server is busy ({retry_after_s} s)")
        self.retry_after_s = retry_after_s


@dataclass
class _Request:
    input_ids: list[int]
    max_tokens: int
    temperature: float
    top_p: float
    stop: list[str]
    n: int
    done: threading.Event = field(default_factory=threading.Event)
    texts: list[tuple[str, str]] = field(default_factory=list)  # (text, finish_reason) per choice
    completion_tokens: int = 0
    error: str = ""

    @property
    def prompt_tokens(self) -> int:
        return len(self.input_ids)


class Generator:
    """Loads the checkpoint once; one thread runs batched generation for every HTTP thread, taking requests from a
    bounded queue (`submit` raises QueueFull when `max_queue` requests wait already)."""

    def __init__(
        self, model_dir: str | Path, *, device: str | None = None, max_queue: int = DEFAULT_MAX_QUEUE, start=True
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        self.model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype).to(self.device).eval()
        self.context = context_length(self.model, self.tokenizer)
        self.queue: queue.Queue[_Request] = queue.Queue(maxsize=max(1, max_queue))
        self.batches = 0
        self.batched_requests = 0
        self.last_batch_s = 1.0
        if start:
            self.start()

    def start(self) -> None:
        threading.Thread(target=self._loop, name="generator", daemon=True).start()

    def submit(self, request: _Request, timeout: float = 600) -> _Request:
        try:
            self.queue.put_nowait(request)
        except queue.Full:
            waiting_batches = self.queue.qsize() / MAX_BATCH + 1
            raise QueueFull(max(1, math.ceil(waiting_batches * self.last_batch_s))) from None
        if not request.done.wait(timeout):
            request.error = "generation timed out"
        return request

    def _loop(self) -> None:
        while True:
            batch = [self.queue.get()]
            started = time.monotonic()
            deadline = started + BATCH_WAIT_S
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            groups: dict[tuple, list[_Request]] = {}
            for request in batch:
                groups.setdefault((request.temperature, request.top_p), []).append(request)
            for (temperature, top_p), requests in groups.items():
                try:
                    self._generate(requests, temperature, top_p)
                except Exception as exc:  # noqa: BLE001 - reported to each caller as a 500
                    for request in requests:
                        request.error = f"{type(exc).__name__}: {exc}"
                finally:
                    for request in requests:
                        request.done.set()
            self.last_batch_s = time.monotonic() - started

    def _generate(self, requests: list[_Request], temperature: float, top_p: float) -> None:
        torch = self.torch
        rows = [r.input_ids for r in requests for _ in range(r.n)]  # tokenized (and measured) by the handler
        width = max(len(ids) for ids in rows)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in rows], device=self.device)
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in rows], device=self.device)
        sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0 else {}
        with torch.no_grad():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=max(r.max_tokens for r in requests),
                pad_token_id=pad,
                **({"do_sample": False} | sampling),
            )
        self.batches += 1
        self.batched_requests += len(requests)
        ends = {self.tokenizer.eos_token_id, pad}
        row = 0
        for request in requests:
            for _ in range(request.n):
                new = output[row, width:].tolist()[: request.max_tokens]
                cut = next((i for i, token in enumerate(new) if token in ends), None)
                reason = "length" if cut is None and len(new) >= request.max_tokens else "stop"
                new = new[:cut] if cut is not None else new
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                for stop in request.stop:
                    if stop in text:
                        text, reason = text[: text.index(stop)], "stop"
                request.texts.append((text, reason))
                request.completion_tokens += len(new)
                row += 1


class _Handler(JSONHandler):
    server: ModelServer

    def _error(self, status: int, message: str, headers: dict | None = None) -> None:
        kind = "invalid_request_error" if status < 500 else "server_error"
        self._json(status, {"error": {"message": message, "type": kind}}, headers)

    def parse_request(self) -> bool:
        """Framing (JSONHandler), then the API key on every route but the health check, before any body is read."""
        if not super().parse_request():
            return False
        if self.path.split("?", 1)[0].rstrip("/") == HEALTH_ROUTE or self._authorized():
            return True
        self._refuse(401, "Authorization: Bearer <the server's API key> is required", {"WWW-Authenticate": "Bearer"})
        return False

    def _authorized(self) -> bool:
        given = self.headers.get("Authorization") or ""
        scheme, _, token = given.partition(" ")
        # compare_digest: the time taken does not tell how much of a guessed key was right
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.server.api_key_bytes)

    def do_GET(self):
        route = self.path.split("?", 1)[0].rstrip("/")
        if route == HEALTH_ROUTE:
            self._json(200, {"status": "ok"})
        elif route == "/v1/models":
            model = {
                "id": self.server.model_name,
                "object": "model",
                "created": 0,
                "owned_by": "training-job",
                "max_model_len": self.server.generator.context,
            }
            self._json(200, {"object": "list", "data": [model]})
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self):
        route = self.path.rstrip("/")
        if route not in ("/v1/completions", "/v1/chat/completions"):
            self._refuse(404, f"no route {self.path}")  # the body stays unread
            return
        chat = route == "/v1/chat/completions"
        server, generator = self.server, self.server.generator
        try:
            sampling = read_request(
                self._body(),
                chat=chat,
                tokenizer=generator.tokenizer,
                context=generator.context,
                max_tokens_cap=server.max_tokens_cap,
                truncate=server.truncate_prompts,
            )
        except (ValueError, RecursionError) as exc:  # RequestError, and JSON / UTF-8 errors (ValueErrors too)
            self._error(400, str(exc) if isinstance(exc, RequestError) else f"body: not JSON ({type(exc).__name__})")
            return
        request = _request(sampling)
        try:
            generator.submit(request)
        except QueueFull as exc:
            self._error(429, "the server is busy: try again later", {"Retry-After": str(exc.retry_after_s)})
            return
        if request.error:
            self._error(500, request.error)
            return
        self._json(200, _reply(request, chat=chat, model=server.model_name))


def _request(sampling: Sampling) -> _Request:
    return _Request(
        input_ids=sampling.input_ids,
        max_tokens=sampling.max_tokens,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        stop=sampling.stop,
        n=sampling.n,
    )


def _reply(request: _Request, *, chat: bool, model: str) -> dict:
    choices = [
        {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": reason}
        if chat
        else {"index": i, "text": text, "finish_reason": reason, "logprobs": None}
        for i, (text, reason) in enumerate(request.texts)
    ]
    usage = {
        "prompt_tokens": request.prompt_tokens,
        "completion_tokens": request.completion_tokens,
        "total_tokens": request.prompt_tokens + request.completion_tokens,
    }
    return {
        "id": f"cmpl-{uuid.uuid4().hex}",
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage,
    }


class ModelServer(LocalServer):
    """The HTTP side: every route but /health needs `api_key` (serve_model makes one per served model); bodies over
    `max_body_bytes` are refused unread (413); a prompt longer than the model's context leaves for max_tokens is
    refused (400), or cut from the left when `truncate_prompts`."""

    thread_name = "model-server"

    def __init__(
        self,
        host: str,
        port: int,
        generator: Generator,
        *,
        model_name: str,
        api_key: str,
        max_tokens_cap: int = 2048,
        max_body_bytes: int = LocalServer.max_body_bytes,
        truncate_prompts: bool = False,
        verbose: bool = False,
    ):
        if not isinstance(api_key, str) or len(api_key) < 16:
            raise ValueError("api_key: at least 16 characters (serve_model makes one)")
        self.generator = generator
        self.model_name = model_name
        self.api_key_bytes = api_key.encode()
        self.max_tokens_cap = max_tokens_cap
        self.max_body_bytes = max_body_bytes
        self.truncate_prompts = truncate_prompts
        self.verbose = verbose
        super().__init__((host, port), _Handler)
