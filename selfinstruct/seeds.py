"""Parsing and validation of seed files. Pure functions: nothing here touches the database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

MAX_SEED_FILE_BYTES = 50 * 1024 * 1024


class SeedFileError(ValueError):
    """A problem in a seed file, with where it is."""

    def __init__(self, path: str, message: str, *, line: int | None = None, field: str | None = None):
        where = path + (f", line {line}" if line is not None else "") + (f", field '{field}'" if field else "")
        super().__init__(f"{where}: {message}")
        self.path, self.line, self.field = path, line, field


@dataclass(frozen=True)
class SeedRow:
    line: int
    external_id: str
    name: str
    instruction: str
    instances: list[dict]
    is_classification: bool


def _check_row(obj, path: str, line: int) -> SeedRow:
    if not isinstance(obj, dict):
        raise SeedFileError(path, f"expected a JSON object, got {type(obj).__name__}", line=line)
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
    clean = []
    for index, inst in enumerate(instances):
        if not isinstance(inst, dict):
            raise SeedFileError(path, "must be an object", line=line, field=f"instances[{index}]")
        for key in ("input", "output"):
            value = inst.get(key, "")
            if not isinstance(value, str):
                raise SeedFileError(
                    path, f"must be a string, got {type(value).__name__}", line=line, field=f"instances[{index}].{key}"
                )
        clean.append({"input": inst.get("input", ""), "output": inst.get("output", "")})
    is_cls = obj.get("is_classification", False)
    if not isinstance(is_cls, bool):
        raise SeedFileError(path, f"must be true or false, got {is_cls!r}", line=line, field="is_classification")
    for key in ("id", "name"):
        if key in obj and not isinstance(obj[key], (str, int)):
            raise SeedFileError(path, "must be a string", line=line, field=key)
    return SeedRow(line, str(obj.get("id", "")), str(obj.get("name", "")), instruction, clean, is_cls)


def read_selfinstruct_jsonl(path: Path, *, display_name: str | None = None) -> list[SeedRow]:
    """Rows of a Self-Instruct / BELLE seed file (JSON lines). Raises SeedFileError at the first problem."""
    name = display_name or str(path)
    size = path.stat().st_size
    if size == 0:
        raise SeedFileError(name, "file is empty")
    if size > MAX_SEED_FILE_BYTES:
        raise SeedFileError(name, f"file is {size} bytes; the limit is {MAX_SEED_FILE_BYTES}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SeedFileError(name, f"not UTF-8 (byte 0x{raw[exc.start]:02x})", line=line) from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SeedFileError(name, f"invalid JSON: {exc.msg} at column {exc.colno}", line=number) from None
        rows.append(_check_row(obj, name, number))
    if not rows:
        raise SeedFileError(name, "no seed tasks in file")
    return rows
