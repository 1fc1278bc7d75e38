"""JSON from outside (request bodies, uploaded files, form fields), parsed with the guards every reader needs.

`json.loads` alone lets three things through that later fail deep inside the platform with a 500:
- deep nesting: the C decoder raises RecursionError (not ValueError) past ~1,000 levels, and shallower but still
  deep values make every later walk recursive too;
- lone surrogates: a `"\\ud800"` escape decodes to a str that PostgreSQL, files and HTTP clients refuse to encode;
- NUL characters: PostgreSQL cannot store them in text.
`loads` refuses all three with `UnsafeJSON` (a ValueError), in time linear in the size of the text.
"""

from __future__ import annotations

import json

MAX_DEPTH = 32


class UnsafeJSON(ValueError):
    """Parsed JSON the platform will not take; the message says why (and where, as a dotted path)."""


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH):
    """json.loads, then the depth, surrogate and NUL checks. json.JSONDecodeError passes through unchanged."""
    try:
        value = json.loads(text)
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
