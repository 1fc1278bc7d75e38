"""An OpenAI-compatible HTTP server for a trained checkpoint, on transformers `generate` (no Django imported here).

`manage.py serve_model JOB_ID` uses vLLM's server when vLLM is installed (GPU machines) and this one otherwise, so
the completion sampler and the generation engine can use round N's model like any endpoint. Routes: GET /v1/models,
POST /v1/completions, POST /v1/chat/completions (a model trained with a chat template gets the conversation through
that template, as in training; otherwise chat messages are joined into the prompt text the SFT data was trained on:
every message's text in order, as `selfinstruct.text.conversation_text` writes multi-turn rows). Requests that arrive
together are generated as one batch (left padding), grouped by sampling settings; each reply is cut at its own
max_tokens and stop strings.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from llm.httpserver import JSONHandler, LocalServer

MAX_BATCH = 8
BATCH_WAIT_S = 0.02  # how long the first request of a batch waits for company


@dataclass
class _Request:
    prompt: str
    max_tokens: int
    temperature: float
    top_p: float
    stop: list[str]
    n: int
    templated: bool = False  # the prompt came through the model's chat template (it carries its special tokens)
    done: threading.Event = field(default_factory=threading.Event)
    texts: list[tuple[str, str]] = field(default_factory=list)  # (text, finish_reason) per choice
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str = ""


class Generator:
    """Loads the checkpoint once; one thread runs batched generation for every HTTP thread."""

    def __init__(self, model_dir: str | Path, *, device: str | None = None):
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
        self.queue: queue.Queue[_Request] = queue.Queue()
        self.batches = 0
        self.batched_requests = 0
        threading.Thread(target=self._loop, name="generator", daemon=True).start()

    def submit(self, request: _Request, timeout: float = 600) -> _Request:
        self.queue.put(request)
        if not request.done.wait(timeout):
            request.error = "generation timed out"
        return request

    def _loop(self) -> None:
        while True:
            batch = [self.queue.get()]
            deadline = time.monotonic() + BATCH_WAIT_S
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            groups: dict[tuple, list[_Request]] = {}
            for request in batch:
                groups.setdefault((request.temperature, request.top_p, request.templated), []).append(request)
            for (temperature, top_p, templated), requests in groups.items():
                try:
                    self._generate(requests, temperature, top_p, templated)
                except Exception as exc:  # noqa: BLE001 - reported to each caller as a 500
                    for request in requests:
                        request.error = f"{type(exc).__name__}: {exc}"
                finally:
                    for request in requests:
                        request.done.set()

    def _generate(self, requests: list[_Request], temperature: float, top_p: float, templated: bool = False) -> None:
        prompts = [r.prompt for r in requests for _ in range(r.n)]
        # a chat-templated prompt carries its own special tokens (as in training); raw text gets the tokenizer's
        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=not templated)
        encoded = encoded.to(self.device)
        sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0 else {}
        with self.torch.no_grad():
            output = self.model.generate(
                **encoded,
                max_new_tokens=max(r.max_tokens for r in requests),
                pad_token_id=self.tokenizer.pad_token_id,
                **({"do_sample": False} | sampling),
            )
        self.batches += 1
        self.batched_requests += len(requests)
        width = encoded["input_ids"].shape[1]
        ends = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        row = 0
        for request in requests:
            request.prompt_tokens = int(encoded["attention_mask"][row].sum())
            for _ in range(request.n):
                new = output[row, width:].tolist()[: request.max_tokens]
                cut = next((i for i, token in enumerate(new) if token in ends), None)
                reason = "length" if cut is None and len(new) >= request.max_tokens else "stop"
                new = new[:cut] if cut is not None else new
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                for stop in request.stop:
                    if stop and stop in text:
                        text, reason = text[: text.index(stop)], "stop"
                request.texts.append((text, reason))
                request.completion_tokens += len(new)
                row += 1


class _Handler(JSONHandler):
    server: ModelServer

    def _error(self, status: int, message: str) -> None:
        kind = "invalid_request_error" if status < 500 else "server_error"
        self._json(status, {"error": {"message": message, "type": kind}})

    def do_GET(self):
        if self.path.rstrip("/") == "/v1/models":
            model = {"id": self.server.model_name, "object": "model", "created": 0, "owned_by": "training-job"}
            self._json(200, {"object": "list", "data": [model]})
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self):
        route = self.path.rstrip("/")
        if route not in ("/v1/completions", "/v1/chat/completions"):
            self._error(404, f"no route {self.path}")
            return
        chat = route == "/v1/chat/completions"
        try:
            request = self._parse(self._body(), chat=chat)
        except (ValueError, TypeError) as exc:
            self._error(400, str(exc))
            return
        self.server.generator.submit(request)
        if request.error:
            self._error(500, request.error)
            return
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
        self._json(
            200,
            {
                "id": f"cmpl-{uuid.uuid4().hex}",
                "object": "chat.completion" if chat else "text_completion",
                "created": int(time.time()),
                "model": self.server.model_name,
                "choices": choices,
                "usage": usage,
            },
        )

    def _parse(self, body: dict, *, chat: bool) -> _Request:
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        templated = False
        if chat:
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
                raise ValueError("messages: a non-empty list of {role, content}")
            tokenizer = self.server.generator.tokenizer
            if getattr(tokenizer, "chat_template", None):  # trained with a chat template: the same one, here
                roles = [str(m.get("role", "user")) for m in messages]
                if any(role not in ("system", "user", "assistant") for role in roles):
                    raise ValueError("messages: each role is system, user or assistant")
                turns = [
                    {"role": role, "content": str(m.get("content", ""))}
                    for role, m in zip(roles, messages, strict=True)
                ]
                prompt = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
                templated = True
            else:  # trained on raw text: every message's text in order, as the SFT rows' prompts were joined
                prompt = "\n\n".join(str(m.get("content", "")) for m in messages if m.get("content"))
        if not chat:
            prompt = body.get("prompt")
            if isinstance(prompt, list) and len(prompt) == 1:
                prompt = prompt[0]
            if not isinstance(prompt, str):
                raise ValueError("prompt: a string")
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        max_tokens = int(body.get("max_tokens") or 128)
        n = int(body.get("n") or 1)
        if not 1 <= max_tokens <= self.server.max_tokens_cap:
            raise ValueError(f"max_tokens: between 1 and {self.server.max_tokens_cap}")
        if not 1 <= n <= 8:
            raise ValueError("n: between 1 and 8")
        temperature = float(body.get("temperature", 0) or 0)
        top_p = float(body.get("top_p", 1) or 1)
        return _Request(
            prompt=prompt,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            stop=[str(s) for s in stop],
            n=n,
            templated=templated,
        )


class ModelServer(LocalServer):
    thread_name = "model-server"

    def __init__(
        self,
        host: str,
        port: int,
        generator: Generator,
        *,
        model_name: str,
        max_tokens_cap: int = 2048,
        verbose: bool = False,
    ):
        self.generator = generator
        self.model_name = model_name
        self.max_tokens_cap = max_tokens_cap
        self.verbose = verbose
        super().__init__((host, port), _Handler)
