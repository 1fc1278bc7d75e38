"""Parsing and validation of seed files. Pure functions: nothing here touches the database.

Files are read a row at a time (core.jsonfiles): `iter_seed_file` yields checked rows and raises the problems it
found after the last one, so an importer checks a file in one pass (`check_seed_file`) and writes it in a second,
never holding the whole file."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core import jsonfiles, safejson
from selfinstruct.text import conversation_text

MAX_SEED_FILE_BYTES = 50 * 1024 * 1024
SEED_FORMATS = ("selfinstruct", "belle", "alpaca", "csv")
CSV_COLUMNS = ("instruction", "input", "output")
MAX_REPORTED_PROBLEMS = 100  # a file with more bad rows reports the first 100 (and how many it stopped at)
MAX_TURNS = 200  # messages in one imported conversation
# Chat roles as OpenAI `messages` (role) and ShareGPT `conversations` (from) name them.
_ROLES = {"system": "system", "user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant"}


class SeedFileError(ValueError):
    """A problem in a seed file, with where it is."""

    def __init__(self, path: str, message: str, *, line: int | None = None, field: str | None = None):
        where = path + (f", line {line}" if line is not None else "") + (f", field '{field}'" if field else "")
        super().__init__(f"{where}: {message}")
        self.path, self.line, self.field = path, line, field
        self.problems: list[str] = [str(self)]  # every problem found, this one first (see _Problems)


class _Problems:
    """Collects the rows' problems so one import reports all of them (up to MAX_REPORTED_PROBLEMS), not the first."""

    def __init__(self, name: str):
        self.name, self.found = name, []

    def row(self, check, *args):
        """check(*args), or None with its SeedFileError recorded; stops the read once the cap is reached."""
        try:
            return check(*args)
        except SeedFileError as exc:
            self.add(exc)
            return None

    def add(self, exc: SeedFileError) -> None:
        self.found.append(str(exc))
        if len(self.found) >= MAX_REPORTED_PROBLEMS:
            self.raise_if_any(stopped=True)

    def raise_if_any(self, *, stopped: bool = False) -> None:
        if not self.found:
            return
        more = len(self.found) - 1
        suffix = f" (and {more} more problem{'s' if more != 1 else ''}" if more else ""
        suffix += ("; stopped reading there)" if stopped else ")") if more else ""
        error = SeedFileError(self.name, "")
        error.args = (self.found[0] + suffix,)
        error.problems = list(self.found)
        raise error


@dataclass(frozen=True)
class SeedRow:
    line: int
    external_id: str
    name: str
    instruction: str
    instances: list[dict]
    is_classification: bool

    @property
    def key_text(self) -> str:
        """What makes the seed a duplicate of another: its instruction, and for a conversation the turns before it
        (two chats that end in the same "Go on." are different seeds)."""
        first = self.instances[0] if self.instances else {}
        return conversation_text(first.get("system", ""), first.get("history", []), self.instruction, "")


def _history(value, path: str, line: int, field: str) -> list[list[str]]:
    if not isinstance(value, list) or len(value) > MAX_TURNS:
        raise SeedFileError(
            path, f"must be a list of at most {MAX_TURNS} [user, assistant] pairs", line=line, field=field
        )
    for index, pair in enumerate(value):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
            raise SeedFileError(
                path, "must be a [user, assistant] pair of strings", line=line, field=f"{field}[{index}]"
            )
    return [list(pair) for pair in value]


def _conversation_object(obj: dict, path: str, line: int) -> dict:
    """A chat row, OpenAI `messages` [{role, content}] or ShareGPT `conversations` [{from, value}], as a seed: its last
    user turn is the instruction, the assistant's answer to it the output, the turns before them its history, and a
    leading system message its system text. Turns must alternate user, assistant and end with the assistant."""
    key = "messages" if "messages" in obj else "conversations"
    role_key, text_key = ("role", "content") if key == "messages" else ("from", "value")
    turns = obj[key]
    if not isinstance(turns, list) or not turns or len(turns) > MAX_TURNS:
        raise SeedFileError(path, f"must be a list of 2 to {MAX_TURNS} messages", line=line, field=key)
    system, texts = "", []
    for index, turn in enumerate(turns):
        where = f"{key}[{index}]"
        if not isinstance(turn, dict):
            raise SeedFileError(path, "must be an object", line=line, field=where)
        role = _ROLES.get(turn.get(role_key)) if isinstance(turn.get(role_key), str) else None
        if role is None:
            raise SeedFileError(path, "must be system, user or assistant", line=line, field=f"{where}.{role_key}")
        text = turn.get(text_key)
        if not isinstance(text, str):
            raise SeedFileError(path, "must be a string", line=line, field=f"{where}.{text_key}")
        if role == "system":
            if index:
                raise SeedFileError(path, "only the first message may be a system message", line=line, field=where)
            system = text
            continue
        expected = "user" if len(texts) % 2 == 0 else "assistant"
        if role != expected:
            raise SeedFileError(
                path, f"expected a {expected} turn (turns alternate user, assistant)", line=line, field=where
            )
        texts.append(text)
    if len(texts) < 2 or len(texts) % 2:
        raise SeedFileError(path, "must end with the assistant's answer to a user turn", line=line, field=key)
    history = [texts[i : i + 2] for i in range(0, len(texts) - 2, 2)]
    instance = {"input": "", "output": texts[-1], "system": system, "history": history}
    return {"instruction": texts[-2], "instances": [instance], **{k: obj[k] for k in ("id", "name") if k in obj}}


def _instance(inst, path: str, line: int, index: int) -> dict:
    """{input, output} and, for a turn of a conversation, its system text and earlier [user, assistant] turns."""
    if not isinstance(inst, dict):
        raise SeedFileError(path, "must be an object", line=line, field=f"instances[{index}]")
    for key in ("input", "output", "system"):
        value = inst.get(key, "")
        if not isinstance(value, str):
            raise SeedFileError(
                path, f"must be a string, got {type(value).__name__}", line=line, field=f"instances[{index}].{key}"
            )
    clean = {"input": inst.get("input", ""), "output": inst.get("output", "")}
    if inst.get("system"):
        clean["system"] = inst["system"]
    history = _history(inst.get("history", []), path, line, f"instances[{index}].history")
    if history:
        clean["history"] = history
    return clean


def _check_row(obj, path: str, line: int) -> SeedRow:
    if not isinstance(obj, dict):
        raise SeedFileError(path, f"expected a JSON object, got {type(obj).__name__}", line=line)
    try:
        safejson.check(obj)  # CSV cells can hold NULs too
    except safejson.UnsafeJSON as exc:
        raise SeedFileError(path, str(exc), line=line) from None
    if "instruction" not in obj and ("messages" in obj or "conversations" in obj):
        obj = _conversation_object(obj, path, line)
    instruction = obj.get("instruction")
    if instruction is None:
        raise SeedFileError(path, "missing", line=line, field="instruction")
    if not isinstance(instruction, str):
        raise SeedFileError(path, f"must be a string, got {type(instruction).__name__}", line=line, field="instruction")
    if not instruction.strip():
        raise SeedFileError(path, "must not be empty", line=line, field="instruction")
    instances = obj.get("instances", [])
    if not isinstance(instances, list):
        raise SeedFileError(path, "must be a list of {input, output}", line=line, field="instances")
    clean = [_instance(inst, path, line, index) for index, inst in enumerate(instances)]
    is_cls = obj.get("is_classification", False)
    if not isinstance(is_cls, bool):
        raise SeedFileError(path, f"must be true or false, got {is_cls!r}", line=line, field="is_classification")
    for key in ("id", "name"):
        if key in obj and not isinstance(obj[key], (str, int)):
            raise SeedFileError(path, "must be a string", line=line, field=key)
    return SeedRow(line, str(obj.get("id", "")), str(obj.get("name", "")), instruction, clean, is_cls)


@contextlib.contextmanager
def _file_errors(name: str):
    """A JsonFileError of the reader (size, encoding, a line too long) as this file's SeedFileError."""
    try:
        yield
    except jsonfiles.JsonFileError as exc:
        raise SeedFileError(name, exc.message, line=exc.line) from None


def _checked(row, obj, name: str, line: int) -> SeedRow:
    return _check_row(row(obj, name, line), name, line)


def _json_rows(path: Path, name: str, *, shape: str, row) -> Iterator[SeedRow]:
    problems = _Problems(name)
    with _file_errors(name):
        if shape == "lines":
            items = jsonfiles.line_records(path, limit=MAX_SEED_FILE_BYTES)
        else:
            items = jsonfiles.records(path, limit=MAX_SEED_FILE_BYTES, shape=shape)
        try:
            for line, obj in items:
                if isinstance(obj, jsonfiles.JsonFileError):  # a JSON line that does not decode: report, read on
                    problems.add(SeedFileError(name, obj.message, line=obj.line))
                    continue
                checked = problems.row(_checked, row, obj, name, line)
                if checked is not None and not problems.found:
                    yield checked
        except jsonfiles.JsonFileError as exc:  # inside a JSON list nothing after a syntax error can be read
            problems.add(SeedFileError(name, exc.message, line=exc.line))
    problems.raise_if_any()


def _jsonl_rows(path: Path, name: str) -> Iterator[SeedRow]:
    return _json_rows(path, name, shape="lines", row=lambda obj, name, line: obj)


def _alpaca_object(obj, name: str, line: int) -> dict:
    """An Alpaca item {instruction, input, output} (with LLaMA-Factory's optional `system` and `history` of earlier
    [user, assistant] turns) in the Self-Instruct shape; a chat row as `_conversation_object` reads it."""
    if not isinstance(obj, dict):
        raise SeedFileError(name, f"expected a JSON object, got {type(obj).__name__}", line=line)
    if "instruction" not in obj and ("messages" in obj or "conversations" in obj):
        return obj
    for key in ("input", "output", "system"):
        if key in obj and not isinstance(obj[key], str):
            raise SeedFileError(name, f"must be a string, got {type(obj[key]).__name__}", line=line, field=key)
    instance = {k: obj[k] for k in ("input", "output", "system", "history") if k in obj}
    return {
        "instruction": obj.get("instruction"),
        "instances": [{"input": "", "output": "", **instance}],
        "is_classification": obj.get("is_classification", False),
        **{k: obj[k] for k in ("id", "name") if k in obj},
    }


def _alpaca_rows(path: Path, name: str) -> Iterator[SeedRow]:
    """A JSON list of Alpaca items; errors give the line where the item starts."""
    with _file_errors(name):
        if not jsonfiles.is_json_list(path):
            raise SeedFileError(name, "expected a JSON list of {instruction, input, output}", line=1)
    return _json_rows(path, name, shape="list", row=_alpaca_object)


def _csv_rows(path: Path, name: str) -> Iterator[SeedRow]:
    # strict: an unclosed quote is an error, not a field that silently swallows the rest of the file
    with _file_errors(name):
        reader = csv.DictReader(jsonfiles.text_lines(path, limit=MAX_SEED_FILE_BYTES), strict=True)
        try:
            yield from _csv_records(reader, name)
        except csv.Error as exc:
            raise SeedFileError(name, f"malformed CSV: {exc}", line=reader.line_num or 1) from None


def _csv_records(reader: csv.DictReader, name: str) -> Iterator[SeedRow]:
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise SeedFileError(name, f"header must have columns {list(CSV_COLUMNS)}; missing {missing}", line=1)
    reader.fieldnames = header
    problems = _Problems(name)
    try:
        for record in reader:
            checked = problems.row(_csv_record, record, name, reader.line_num, len(header))
            if checked is not None and not problems.found:
                yield checked
    except csv.Error as exc:
        problems.add(SeedFileError(name, f"malformed CSV: {exc}", line=reader.line_num or 1))
    problems.raise_if_any()


def _csv_record(record: dict, name: str, line: int, columns: int) -> SeedRow:
    if None in record:
        raise SeedFileError(name, f"more cells than the {columns} header columns", line=line)
    flag = (record.get("is_classification") or "").strip().lower()
    if flag not in ("", "true", "false", "1", "0", "yes", "no"):
        raise SeedFileError(name, f"must be true or false, got {flag!r}", line=line, field="is_classification")
    obj = {
        "instruction": record["instruction"] if record["instruction"] is not None else None,
        "instances": [{"input": record["input"] or "", "output": record["output"] or ""}],
        "is_classification": flag in ("true", "1", "yes"),
        **{k: record[k] for k in ("id", "name") if record.get(k)},
    }
    return _check_row(obj, name, line)


def detect_format(path: Path) -> str:
    if path.suffix.lower() == ".csv":
        return "csv"
    return "alpaca" if jsonfiles.is_json_list(path) else "selfinstruct"


def iter_seed_file(path: Path, *, fmt: str = "auto", display_name: str | None = None) -> Iterator[SeedRow]:
    """Checked rows of a seed file in any supported format, read as they are needed. Once a bad row is found no
    more rows are yielded, and after the last row a SeedFileError names every bad one (`problems`, up to
    MAX_REPORTED_PROBLEMS; the message is the first and how many more) — so check a file (`check_seed_file`)
    before writing any of its rows."""
    path = Path(path)
    name = display_name or str(path)
    if fmt != "auto" and fmt not in SEED_FORMATS:
        raise SeedFileError(name, f"unknown format {fmt!r}; use auto or one of {list(SEED_FORMATS)}")
    with _file_errors(name):
        jsonfiles.check_file(path, limit=MAX_SEED_FILE_BYTES)
        fmt = detect_format(path) if fmt == "auto" else fmt
    parser = {"selfinstruct": _jsonl_rows, "belle": _jsonl_rows, "alpaca": _alpaca_rows, "csv": _csv_rows}[fmt]
    empty = True
    for row in parser(path, name):
        empty = False
        yield row
    if empty:
        raise SeedFileError(name, "no seed tasks in file")


def check_seed_file(path: Path, *, fmt: str = "auto", display_name: str | None = None) -> int:
    """How many rows the file has; a SeedFileError naming every bad row. Holds one row at a time."""
    return sum(1 for _ in iter_seed_file(path, fmt=fmt, display_name=display_name))


def read_seed_file(path: Path, *, fmt: str = "auto", display_name: str | None = None) -> list[SeedRow]:
    """Rows of a seed file in any supported format (all of them: for small files and tests). Raises SeedFileError
    naming every bad row."""
    return list(iter_seed_file(path, fmt=fmt, display_name=display_name))
