"""The one reader for the JSON and JSON-lines files users bring (seed tasks, completion files, prompt lists,
evaluation sets), with every bad-input guard in one place: a size cap, empty files, a UTF-8 BOM, bytes that are not
UTF-8, invalid JSON, and per value the `safejson` checks (nesting, lone surrogates, NUL, numbers). Errors carry the
line, so each caller can say "file, line N: …" in its own words.

Files are read from disk a line (JSON lines) or a list item (a JSON list) at a time, never whole: memory stays a
few times the longest record, whatever the file's size, and a record longer than MAX_RECORD_BYTES is an error
naming its line before it is held. Linear in the size of the file.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path

from core import safejson

MB = 1024 * 1024
MAX_RECORD_BYTES = 8 * MB  # one JSON line or list item (a seed, completion or prompt); real rows are far below
_CHUNK = 64 * 1024
_BOM = codecs.BOM_UTF8
_SPACE = " \t\r\n"


class JsonFileError(ValueError):
    def __init__(self, message: str, *, line: int | None = None):
        super().__init__(message)
        self.message, self.line = message, line


def check_file(path: Path, *, limit: int) -> None:
    """Refuses a missing, empty or oversized file (before any of it is read)."""
    path = Path(path)
    if not path.is_file():
        raise JsonFileError("no such file")
    size = path.stat().st_size
    if size == 0:
        raise JsonFileError("the file is empty")
    if size > limit:
        raise JsonFileError(f"the file is {size} bytes, larger than {limit // MB} MB (the limit is {limit})")


def read_text(path: Path, *, limit: int) -> str:
    """The whole text of a small file (a leading BOM dropped), for the CLI's small config files; uploads are read
    with `records`, `line_records` or `text_lines`, which never hold the file."""
    check_file(path, limit=limit)
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_utf8(exc, line=exc.object[: exc.start].count(b"\n") + 1) from None


def _not_utf8(exc: UnicodeDecodeError, *, line: int) -> JsonFileError:
    return JsonFileError(f"not UTF-8 (byte 0x{exc.object[exc.start]:02x})", line=line)


def is_json_list(path: Path) -> bool:
    """Whether the file's first character (after a BOM and white space) is "[": read a chunk at a time."""
    with Path(path).open("rb") as handle:
        chunk = handle.read(_CHUNK)
        chunk = chunk[len(_BOM) :] if chunk.startswith(_BOM) else chunk
        while chunk:
            rest = chunk.lstrip(_SPACE.encode())
            if rest:
                return rest.startswith(b"[")
            chunk = handle.read(_CHUNK)
    return False


def _raw_lines(path: Path, cap: int) -> Iterator[tuple[int, bytes | JsonFileError]]:
    """(line, bytes) for every line, BOM dropped; a line longer than `cap` yields a JsonFileError instead (and its
    rest is skipped unread, a chunk at a time)."""
    with Path(path).open("rb") as handle:
        number = 0
        while line := handle.readline(cap + 1):
            number += 1
            if number == 1 and line.startswith(_BOM):
                line = line[len(_BOM) :]
            if len(line) > cap and not line.endswith(b"\n"):
                while (rest := handle.readline(_CHUNK)) and not rest.endswith(b"\n"):
                    pass
                yield number, JsonFileError(f"longer than {cap} bytes", line=number)
                continue
            yield number, line


def text_lines(path: Path, *, limit: int) -> Iterator[str]:
    """The file's lines as text with their line ends (for csv.reader), a line over MAX_RECORD_BYTES or not UTF-8
    raising a JsonFileError that names it."""
    check_file(path, limit=limit)
    for number, raw in _raw_lines(path, MAX_RECORD_BYTES):
        yield _decoded(number, raw)


def _decoded(number: int, raw: bytes | JsonFileError) -> str:
    if isinstance(raw, JsonFileError):
        raise raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(exc, line=number) from None


def records(path: Path, *, limit: int, shape: str = "auto") -> Iterator[tuple[int, object]]:
    """(line, value) for every value: of a JSON list (the line where each item starts) or of JSON lines (blank
    lines skipped). `shape`: "auto" (a list when the file starts with "["), "list" or "lines"."""
    check_file(path, limit=limit)
    as_list = is_json_list(path) if shape == "auto" else shape == "list"
    if as_list:
        yield from _list_items(path)
        return
    for number, value in line_records(path, limit=limit):
        if isinstance(value, JsonFileError):
            raise value
        yield number, value


def line_records(path: Path, *, limit: int) -> Iterator[tuple[int, object]]:
    """(line, value) for every JSON line, where a line that does not decode yields its JsonFileError as the value
    instead of stopping, so a reader can report every bad line of a file at once."""
    check_file(path, limit=limit)
    for number, raw in _raw_lines(path, MAX_RECORD_BYTES):
        if not isinstance(raw, JsonFileError) and not raw.strip():
            continue
        try:
            yield number, _loads(_decoded(number, raw), number)
        except JsonFileError as exc:
            yield number, exc


def _loads(text: str, line: int):
    try:
        return safejson.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonFileError(f"invalid JSON: {exc.msg} at column {exc.colno}", line=line) from None
    except safejson.UnsafeJSON as exc:
        raise JsonFileError(str(exc), line=line) from None


class _Window:
    """The text of a file read forward a chunk at a time, holding only what has not been consumed yet (and at most
    one item past it): `text[pos:]` is what is left, `line` the line `pos` is on."""

    def __init__(self, handle):
        self.handle, self.decoder = handle, codecs.getincrementaldecoder("utf-8-sig")()
        self.text, self.pos, self.line, self.eof = "", 0, 1, False

    def fill(self, wanted: int) -> None:
        """Read until `wanted` characters are past pos, or the end of the file."""
        if self.pos > _CHUNK:  # drop the consumed text: memory stays one chunk plus the current item
            self.text, self.pos = self.text[self.pos :], 0
        while not self.eof and len(self.text) - self.pos < wanted:
            raw = self.handle.read(max(_CHUNK, wanted - (len(self.text) - self.pos)))
            self.eof = not raw
            try:
                self.text += self.decoder.decode(raw, final=self.eof)
            except UnicodeDecodeError as exc:
                line = self.line + self.text.count("\n", self.pos) + exc.object[: exc.start].count(b"\n")
                raise _not_utf8(exc, line=line) from None

    def peek(self) -> str:
        self.fill(1)
        return self.text[self.pos : self.pos + 1]

    def advance(self, to: int) -> None:
        self.line += self.text.count("\n", self.pos, to)
        self.pos = to

    def skip(self, chars: str) -> None:
        while (char := self.peek()) and char in chars:
            end = self.pos
            while end < len(self.text) and self.text[end] in chars:
                end += 1
            self.advance(end)

    def decode_item(self, cap: int):
        """The JSON value at pos. The text read ahead grows (doubling) until the value decodes, the file ends or
        the item passes `cap`: linear in the item's size, never more than `cap` of it held."""
        wanted = min(_CHUNK, cap)
        while True:
            self.fill(wanted)
            try:
                value, end = safejson.DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                held = len(self.text) - self.pos
                cut = exc.pos >= len(self.text) - 32 or exc.msg.startswith("Unterminated string")
                if self.eof or not cut:
                    line = self.line + self.text.count("\n", self.pos, exc.pos)
                    raise JsonFileError(f"invalid JSON: {exc.msg}", line=line) from None
                if held >= cap:
                    raise JsonFileError(f"an item longer than {cap} bytes", line=self.line) from None
                wanted = min(wanted * 2, cap)
                continue
            except RecursionError:
                raise JsonFileError(f"nested more than {safejson.MAX_DEPTH} levels deep", line=self.line) from None
            except safejson.UnsafeJSON as exc:
                raise JsonFileError(str(exc), line=self.line) from None
            if end - self.pos > cap:
                raise JsonFileError(f"an item longer than {cap} bytes", line=self.line)
            self.advance(end)
            return value


def _list_items(path: Path) -> Iterator[tuple[int, object]]:
    """Items of a JSON list decoded one by one from the file, so an error names the line of the item it is in."""
    with Path(path).open("rb") as handle:
        window = _Window(handle)
        window.skip(_SPACE)
        if window.peek() != "[":
            raise JsonFileError("expected a JSON list", line=window.line)
        window.advance(window.pos + 1)
        while True:
            window.skip(_SPACE + ",")
            char = window.peek()
            if not char:
                raise JsonFileError("invalid JSON: the list is not closed with ]", line=window.line)
            if char == "]":
                break
            line = window.line
            value = window.decode_item(MAX_RECORD_BYTES)
            try:
                safejson.check(value)
            except safejson.UnsafeJSON as exc:
                raise JsonFileError(str(exc), line=line) from None
            yield line, value
        window.advance(window.pos + 1)
        window.skip(_SPACE)
        if window.peek():
            raise JsonFileError("unexpected text after the closing ]", line=window.line)
