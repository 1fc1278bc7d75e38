"""Sampling parameters a user may set for an LLM call: an allow-list with types and ranges.

Whatever a user supplies for a run (sampling runs, generation batches, judge runs, evaluations) goes through
`validate_params` before the run is created, so a run never starts with a parameter the client would reject or
misread (`stream` changes the reply's shape; an unknown keyword makes the openai client raise a TypeError) —
and the error names the parameter: `params.bogus_kw: not an allowed sampling parameter`.
The ranges are the OpenAI API's; OpenAI-compatible servers (vLLM, llama.cpp, Ollama) accept the same.
"""

from __future__ import annotations

from core.errors import ServiceError

MAX_TOKENS_LIMIT = 32_768
MAX_STOP_SEQUENCES = 4
MAX_STOP_CHARS = 100


class ParamsError(ServiceError):
    pass


def _number(low: float, high: float):
    def check(value, name: str):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise ParamsError(f"{name}: a number between {low} and {high}")
        if not low <= value <= high:
            raise ParamsError(f"{name}: must be between {low} and {high}, got {value}")
        return float(value)

    return check


def _integer(low: int, high: int):
    def check(value, name: str):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{name}: a whole number between {low} and {high}")
        if not low <= value <= high:
            raise ParamsError(f"{name}: must be between {low} and {high}, got {value}")
        return value

    return check


def _stop(value, name: str):
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not 1 <= len(values) <= MAX_STOP_SEQUENCES:
        raise ParamsError(f"{name}: a string or a list of 1–{MAX_STOP_SEQUENCES} strings")
    for index, item in enumerate(values):
        if not isinstance(item, str) or not 1 <= len(item) <= MAX_STOP_CHARS:
            raise ParamsError(f"{name}.{index}: a string of 1–{MAX_STOP_CHARS} characters")
    return value


RULES = {
    "temperature": _number(0.0, 2.0),
    "top_p": _number(0.0, 1.0),
    "max_tokens": _integer(1, MAX_TOKENS_LIMIT),
    "presence_penalty": _number(-2.0, 2.0),
    "frequency_penalty": _number(-2.0, 2.0),
    "seed": _integer(0, 2**31 - 1),
    "stop": _stop,
}
ALLOWED = tuple(RULES)


def validate_params(
    params, *, field: str = "params", allowed: tuple[str, ...] = ALLOWED, error: type[Exception] = ParamsError
) -> dict:
    """The parameters checked and normalized (numbers as float/int), or `error` (the caller's service error
    type, so its API answers 400) naming `field.name`."""
    try:
        return _validate(params, field, allowed)
    except ParamsError as exc:
        if error is ParamsError:
            raise
        raise error(str(exc)) from None


def _validate(params, field: str, allowed: tuple[str, ...]) -> dict:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ParamsError(f'{field}: an object of sampling parameters, e.g. {{"temperature": 0.7}}')
    clean = {}
    for name, value in params.items():
        if name not in allowed:
            raise ParamsError(
                f"{field}.{str(name)[:60]}: not an allowed sampling parameter (allowed: {', '.join(allowed)})"
            )
        clean[name] = RULES[name](value, f"{field}.{name}")
    return clean
