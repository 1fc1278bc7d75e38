"""JSON from outside (request bodies, uploaded files, form fields), parsed with the guards every reader needs.

`json.loads` alone lets three things through that later fail deep inside the platform with a 500:
- deep nesting: the C decoder raises RecursionError (not ValueError) past ~1,000 levels, and shallower but still
  deep values make every later walk recursive too;
- lone surrogates: a `"\\ud800"` escape decodes to a str that PostgreSQL, files and HTTP clients refuse to encode;
- NUL characters: PostgreSQL cannot store them in text;
- numbers Python or PostgreSQL cannot hold: an integer of more than 4,300 digits makes `int()` raise a bare
  ValueError from inside the decoder, and NaN, Infinity or 1e999 (a float that overflows) are not JSON PostgreSQL
  takes.
`loads` refuses all of them with `UnsafeJSON` (a ValueError), in time linear in the size of the text.
"""

from __future__ import annotations

import json
import math

MAX_DEPTH = 32
MAX_INT_DIGITS = 4300  # Python's own default limit for int(str), so every reader agrees with it


class UnsafeJSON(ValueError):
    """Parsed JSON the platform will not take; the message says why (and where, as a dotted path)."""


def _int(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_INT_DIGITS:
        raise UnsafeJSON(f"a number with more than {MAX_INT_DIGITS} digits")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise UnsafeJSON(f"a number too large to store ({text[:20]}…)")
    return value


def _constant(name: str):
    raise UnsafeJSON(f"{name} is not a JSON number")


# One decoder for every reader; its number hooks raise UnsafeJSON from inside the scan (json's C scanner calls them).
DECODER = json.JSONDecoder(parse_int=_int, parse_float=_float, parse_constant=_constant)


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH):
    """json.loads, then the depth, surrogate and NUL checks. json.JSONDecodeError passes through unchanged."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    try:
        value = DECODER.decode(text)
    except RecursionError:
        raise UnsafeJSON(f"nested more than {max_depth} levels deep") from None
    check(value, max_depth=max_depth)
    return value


def check(value, *, max_depth: int = MAX_DEPTH) -> None:
    """Walk an already parsed value without recursion (every node once; a path is joined only for an error)."""
    stack = [(value, 1, ())]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, str):
            _check_text(node, path)
        elif isinstance(node, (dict, list)):
            if depth > max_depth:
                raise UnsafeJSON(f"{_where(path)}: nested more than {max_depth} levels deep")
            if isinstance(node, dict):
                for key, item in node.items():
                    _check_text(key, path)
                    stack.append((item, depth + 1, (*path, key)))
            else:
                stack.extend((item, depth + 1, (*path, index)) for index, item in enumerate(node))


def _where(path: tuple) -> str:
    return ".".join(str(part)[:40] for part in path)[:200] or "value"


def _check_text(text: str, path: tuple) -> None:
    if "\x00" in text:
        raise UnsafeJSON(f"{_where(path)}: contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnsafeJSON(
            f"{_where(path)}: contains a lone surrogate (\\u{ord(text[exc.start]):04x}), not valid Unicode text"
        ) from None
