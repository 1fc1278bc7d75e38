"""Row shapes for downloads, derived from a version's canonical rows; JSONL (optionally gzip) and Parquet writers.

Shapes (each loads with datasets.load_dataset("json"|"parquet", data_files=…)):
- alpaca:          {"instruction", "input", "output"}                      (sft)
- messages:        {"messages": [{"role": "user", …}, {"role": "assistant", …}]}   (sft)
- trl-sft:         {"prompt", "completion"}                                (sft; TRL SFTTrainer prompt/completion)
- trl-preference:  {"prompt", "chosen", "rejected", "margin"}              (preference; TRL RewardTrainer)
- raw:             the canonical row with its lineage fields                (both kinds)
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from selfinstruct.text import prompt_text

SHAPES = {"sft": ("alpaca", "messages", "trl-sft", "raw"), "preference": ("trl-preference", "raw")}
SPLITS = ("train", "test", "all")
FILE_TYPES = ("jsonl", "parquet")
# The representation written by the build itself (so the first download of it streams at once).
DEFAULT_SHAPE = {"sft": "alpaca", "preference": "trl-preference"}


def canonical(row: dict) -> bytes:
    return json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n"


def shape_row(row: dict, shape: str) -> dict:
    if shape == "raw":
        return row
    if shape == "alpaca":
        return {"instruction": row["instruction"], "input": row["input"], "output": row["output"]}
    if shape == "messages":
        return {
            "messages": [
                {"role": "user", "content": prompt_text(row["instruction"], row["input"])},
                {"role": "assistant", "content": row["output"]},
            ]
        }
    if shape == "trl-sft":
        return {"prompt": prompt_text(row["instruction"], row["input"]), "completion": row["output"]}
    if shape == "trl-preference":
        return {"prompt": row["prompt"], "chosen": row["chosen"], "rejected": row["rejected"], "margin": row["margin"]}
    raise ValueError(f"unknown shape {shape!r}")


def read_rows(path: Path, split: str) -> Iterator[dict]:
    with path.open("rb") as handle:
        for line in handle:
            row = json.loads(line)
            if split == "all" or row["split"] == split:
                yield row


def _atomic_target(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


def write_jsonl(rows: Iterable[dict], target: Path, *, compress: bool) -> str:
    """Write the rows; returns the sha256 of the bytes written. gzip with mtime 0 so the bytes are reproducible."""
    tmp = _atomic_target(target)
    digest = hashlib.sha256()

    class Hashing:
        def __init__(self, raw):
            self.raw = raw

        def write(self, data):
            digest.update(data)
            return self.raw.write(data)

        def flush(self):
            self.raw.flush()

    with tmp.open("wb") as raw:
        sink = Hashing(raw)
        out = gzip.GzipFile(filename="", mode="wb", fileobj=sink, mtime=0) if compress else sink
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
        if compress:
            out.close()
    tmp.replace(target)
    return digest.hexdigest()


def write_parquet(rows: Iterable[dict], target: Path, *, batch_rows: int = 20_000) -> str:
    """Parquet written in row groups (constant memory); returns the sha256 of the file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = _atomic_target(target)
    writer = None
    schema = None
    buffer: list[dict] = []

    def flush():
        nonlocal writer, schema
        if not buffer:
            return
        table = pa.Table.from_pylist(buffer, schema=schema)
        if writer is None:
            schema = table.schema
            writer = pq.ParquetWriter(tmp, schema)
        writer.write_table(table)
        buffer.clear()

    for row in rows:
        buffer.append(row)
        if len(buffer) >= batch_rows:
            flush()
    flush()
    if writer is None:  # no rows: an empty file with no columns is still a valid Parquet file
        pq.write_table(pa.table({}), tmp)
    else:
        writer.close()
    tmp.replace(target)
    digest = hashlib.sha256()
    with target.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
