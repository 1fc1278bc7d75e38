"""Reading one OpenAI-style request body for the built-in model server (training.serving): every field is
type-checked and bounded, so a bad value is a 400 naming it, never a 500; the prompt is tokenized once and measured
against the model's context (refused, or cut from the left when the server was started to truncate). No Django."""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_N = 8  # choices per request: each is a row of the generation batch
MAX_STOPS = 16
MAX_STOP_CHARS = 256
DEFAULT_MAX_TOKENS = 128
UNBOUNDED_TOKENIZER = 10**7  # transformers' "no limit" is int(1e30)


class RequestError(ValueError):
    """A bad request body: the message starts with the field's name."""


@dataclass
class Sampling:
    input_ids: list[int]
    max_tokens: int
    temperature: float
    top_p: float
    stop: list[str]
    n: int
    templated: bool  # the prompt came through the model's chat template (it carries its special tokens)
    truncated: int = 0  # prompt tokens cut from the left to fit the context


def context_length(model, tokenizer) -> int:
    """How many tokens (prompt and completion) the model attends to: its position embeddings, or the tokenizer's
    limit when that is smaller and real."""
    limits = [getattr(model.config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    real = [int(x) for x in limits if isinstance(x, int) and not isinstance(x, bool) and 0 < x < UNBOUNDED_TOKENIZER]
    return min(real) if real else 2048


def whole_number(body: dict, name: str, default: int, low: int, high: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestError(f"{name}: a whole number from {low} to {high}")
    return value


def number(body: dict, name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RequestError(f"{name}: a number from {low} to {high}")
    if not low <= value <= high:
        raise RequestError(f"{name}: a number from {low} to {high}")
    return float(value)


def stops(body: dict) -> list[str]:
    value = body.get("stop")
    if value is None or value == "":
        return []
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or len(value) > MAX_STOPS or not all(isinstance(s, str) for s in value):
        raise RequestError(f"stop: a string or a list of at most {MAX_STOPS} strings")
    if any(len(s) > MAX_STOP_CHARS for s in value):
        raise RequestError(f"stop: each at most {MAX_STOP_CHARS} characters")
    return [s for s in value if s]


def prompt_text(body: dict, *, chat: bool, tokenizer) -> tuple[str, bool]:
    """(the prompt text, whether it came through the chat template)."""
    if not chat:
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1:
            prompt = prompt[0]
        if not isinstance(prompt, str):
            raise RequestError("prompt: a string")
        return prompt, False
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise RequestError("messages: a non-empty list of {role, content}")
    if not all(isinstance(m.get("content", ""), str | None) for m in messages):
        raise RequestError("messages: each content is a string")
    if getattr(tokenizer, "chat_template", None):  # trained with a chat template: the same one, here
        roles = [m.get("role", "user") for m in messages]
        if any(role not in ("system", "user", "assistant") for role in roles):
            raise RequestError("messages: each role is system, user or assistant")
        turns = [{"role": role, "content": m.get("content") or ""} for role, m in zip(roles, messages, strict=True)]
        try:
            prompt = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
        except Exception as exc:  # noqa: BLE001 - a template may refuse an order of turns (raise_exception)
            raise RequestError(f"messages: the model's chat template refused them: {exc}") from None
        return prompt, True
    # trained on raw text: every message's text in order, as the SFT rows' prompts were joined
    return "\n\n".join(m["content"] for m in messages if m.get("content")), False


def read_request(body, *, chat: bool, tokenizer, context: int, max_tokens_cap: int, truncate: bool) -> Sampling:
    """The sampling request in `body`, or RequestError naming the field. The prompt and max_tokens must fit the
    context together; a longer prompt is refused, or (truncate) cut from the left, keeping its end."""
    if not isinstance(body, dict):
        raise RequestError("body: a JSON object")
    ceiling = max(1, min(max_tokens_cap, context - 1))
    max_tokens = whole_number(body, "max_tokens", min(DEFAULT_MAX_TOKENS, ceiling), 1, ceiling)
    n = whole_number(body, "n", 1, 1, MAX_N)
    temperature = number(body, "temperature", 0.0, 0.0, 2.0)
    top_p = number(body, "top_p", 1.0, 0.0, 1.0) or 1.0
    stop = stops(body)
    text, templated = prompt_text(body, chat=chat, tokenizer=tokenizer)
    field = "messages" if chat else "prompt"
    # a chat-templated prompt carries its own special tokens (as in training); raw text gets the tokenizer's
    ids = tokenizer(text, add_special_tokens=not templated)["input_ids"]
    if not ids:
        raise RequestError(f"{field}: empty")
    room = context - max_tokens
    cut = 0
    if len(ids) > room:
        if not truncate:
            raise RequestError(
                f"{field}: {len(ids)} tokens; with max_tokens {max_tokens} the model's context of {context} tokens "
                f"leaves room for {room}"
            )
        cut = len(ids) - room
        ids = ids[cut:]
    return Sampling(
        input_ids=list(ids),
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        stop=stop,
        n=n,
        templated=templated,
        truncated=cut,
    )
