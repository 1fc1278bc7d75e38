"""The one reader for the JSON and JSON-lines files users bring (seed tasks, completion files, prompt lists,
evaluation sets), with every bad-input guard in one place: a size cap, empty files, a UTF-8 BOM, bytes that are not
UTF-8, invalid JSON, and per value the `safejson` checks (nesting, lone surrogates, NUL). Errors carry the line, so
each caller can say "file, line N: …" in its own words. Linear in the size of the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from core import safejson

MB = 1024 * 1024


class JsonFileError(ValueError):
    def __init__(self, message: str, *, line: int | None = None):
        super().__init__(message)
        self.message, self.line = message, line


def read_text(path: Path, *, limit: int) -> str:
    """The file's text (a leading BOM dropped). Refuses a missing, empty, oversized or non-UTF-8 file."""
    path = Path(path)
    if not path.is_file():
        raise JsonFileError("no such file")
    size = path.stat().st_size
    if size == 0:
        raise JsonFileError("the file is empty")
    if size > limit:
        raise JsonFileError(f"the file is {size} bytes, larger than {limit // MB} MB (the limit is {limit})")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise JsonFileError(f"not UTF-8 (byte 0x{raw[exc.start]:02x})", line=line) from None


def is_json_list(text: str) -> bool:
    return text.lstrip().startswith("[")


def records(text: str, *, shape: str = "auto") -> Iterator[tuple[int, object]]:
    """(line, value) for every value: of a JSON list (the line where each item starts) or of JSON lines (blank
    lines skipped). `shape`: "auto" (a list when the text starts with "["), "list" or "lines"."""
    as_list = is_json_list(text) if shape == "auto" else shape == "list"
    yield from (_list_items(text) if as_list else _lines(text))


def line_records(text: str) -> Iterator[tuple[int, object]]:
    """(line, value) for every JSON line, where a line that does not decode yields its JsonFileError as the value
    instead of stopping, so a reader can report every bad line of a file at once."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, _loads(line, number)
        except JsonFileError as exc:
            yield number, exc


def _lines(text: str) -> Iterator[tuple[int, object]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        yield number, _loads(line, number)


def _loads(text: str, line: int):
    try:
        return safejson.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonFileError(f"invalid JSON: {exc.msg} at column {exc.colno}", line=line) from None
    except safejson.UnsafeJSON as exc:
        raise JsonFileError(str(exc), line=line) from None


def _list_items(text: str) -> Iterator[tuple[int, object]]:
    """Items of a JSON list decoded one by one, so an error names the line of the item it is in."""
    decoder = json.JSONDecoder()
    start = len(text) - len(text.lstrip())
    if not text[start:].startswith("["):
        raise JsonFileError("expected a JSON list", line=1)
    pos = start + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        line = text.count("\n", 0, pos) + 1
        if pos >= len(text):
            raise JsonFileError("invalid JSON: the list is not closed with ]", line=line)
        if text[pos] == "]":
            break
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise JsonFileError(f"invalid JSON: {exc.msg}", line=exc.lineno) from None
        except RecursionError:
            raise JsonFileError(f"nested more than {safejson.MAX_DEPTH} levels deep", line=line) from None
        try:
            safejson.check(value)
        except safejson.UnsafeJSON as exc:
            raise JsonFileError(str(exc), line=line) from None
        yield line, value
    if text[pos + 1 :].strip():
        raise JsonFileError("unexpected text after the closing ]", line=text.count("\n", 0, pos) + 1)
