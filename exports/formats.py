"""Row shapes for downloads, derived from a version's canonical rows; JSONL (optionally gzip) and Parquet writers.

Shapes (each loads with datasets.load_dataset("json"|"parquet", data_files=…)):
- alpaca:          {"instruction", "input", "output"}                      (sft; in a version with multi-turn rows
                   every row also has LLaMA-Factory's "system" and "history": [[user, assistant], …])
- messages:        {"messages": [{"role": "user", …}, {"role": "assistant", …}]}   (sft; a multi-turn row: its
                   system message, its earlier turns, then this prompt and answer)
- trl-sft:         {"prompt", "completion"}                                (sft; TRL SFTTrainer prompt/completion;
                   a multi-turn row's prompt holds its earlier turns as text: selfinstruct.text.conversation_text)
- trl-preference:  {"prompt", "chosen", "rejected", "margin"}              (preference; TRL RewardTrainer, DPOTrainer)
- trl-kto:         {"prompt", "completion", "label"}                       (preference; TRL KTOTrainer, unpaired):
                   from each ranking its top answer (label true) and its bottom answer (label false); a ranking
                   whose top or bottom place is a tie gives nothing
- trl-prompts:     {"prompt"}                                              (preference; TRL RLOOTrainer: each
                   ranked prompt once)
- aspects:         {"prompt", "response", <aspect columns>, "ratings", "rationales"}   (preference; one row per
                   answer; exports/task_shapes.py)
- disagreements:   {"task_id", "prompt", "completions", "agreement", "consensus", "rankings"}   (preference; every
                   labeler's ranking of each task under the version's agreement threshold; exports/task_shapes.py)
- raw:             the canonical row with its lineage fields                (both kinds; multi-turn versions:
                   "system" and "history" on every row)

Multi-turn rows are the turns of imported conversations (seed files with OpenAI `messages`, ShareGPT
`conversations` or Alpaca `history`): each row is the last assistant turn, with the turns before it as context.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from selfinstruct.text import conversation_messages, conversation_text

SHAPES = {
    "sft": ("alpaca", "messages", "trl-sft", "raw"),
    "preference": ("trl-preference", "trl-kto", "trl-prompts", "aspects", "disagreements", "raw"),
}
SPLITS = ("train", "test", "all")
FILE_TYPES = ("jsonl", "parquet")
# The representation written by the build itself (so the first download of it streams at once).
DEFAULT_SHAPE = {"sft": "alpaca", "preference": "trl-preference"}


def canonical(row: dict) -> bytes:
    return json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n"


def shape_row(row: dict, shape: str, *, conversational: bool = False) -> dict:
    """One row in `shape`. `conversational`: the version has multi-turn rows, so every row gets the same columns
    (a file whose rows differ in columns does not load as one table)."""
    system, history = row.get("system", ""), row.get("history", [])
    if shape == "raw":
        return {**row, "system": system, "history": history} if conversational else row
    if shape == "alpaca":
        shaped = {"instruction": row["instruction"], "input": row["input"], "output": row["output"]}
        return {**shaped, "system": system, "history": history} if conversational else shaped
    if shape == "messages":
        return {"messages": conversation_messages(system, history, row["instruction"], row["input"], row["output"])}
    if shape == "trl-sft":
        return {
            "prompt": conversation_text(system, history, row["instruction"], row["input"]),
            "completion": row["output"],
        }
    if shape == "trl-preference":
        return {"prompt": row["prompt"], "chosen": row["chosen"], "rejected": row["rejected"], "margin": row["margin"]}
    raise ValueError(f"unknown shape {shape!r}")


def shaped_rows(rows: Iterable[dict], shape: str, *, conversational: bool = False) -> Iterator[dict]:
    """The rows in `shape`; row for row, except trl-kto, which reads the pairs of one ranking together (a build
    writes them one after another) and keeps its two ends."""
    if shape == "trl-prompts":  # a prompt's pairs come one after another: each prompt once
        last = None
        for row in rows:
            if row["prompt"] != last:
                last = row["prompt"]
                yield {"prompt": last}
        return
    if shape != "trl-kto":
        yield from (shape_row(row, shape, conversational=conversational) for row in rows)
        return
    group: list[dict] = []
    for row in rows:
        if group and _ranking_of(row) != _ranking_of(group[0]):
            yield from _kto_ends(group)
            group = []
        group.append(row)
    yield from _kto_ends(group)


def _ranking_of(row: dict) -> tuple:
    source = row.get("source", {})
    return (source.get("task_id"), source.get("ranking_id"), row["prompt"])


def _kto_ends(pairs: list[dict]) -> Iterator[dict]:
    """The one answer never beaten (desirable) and the one that never wins (undesirable) among a ranking's pairs;
    none when either end is shared by a tie."""
    if not pairs:
        return
    wins: dict = {}
    losses: dict = {}
    text: dict = {}
    for row in pairs:
        chosen, rejected = row["source"]["chosen_id"], row["source"]["rejected_id"]
        text[chosen], text[rejected] = row["chosen"], row["rejected"]
        wins[chosen] = wins.get(chosen, 0) + 1
        losses[rejected] = losses.get(rejected, 0) + 1
    top = [cid for cid in text if cid not in losses]
    bottom = [cid for cid in text if cid not in wins]
    if len(top) != 1 or len(bottom) != 1:
        return
    prompt = pairs[0]["prompt"]
    yield {"prompt": prompt, "completion": text[top[0]], "label": True}
    yield {"prompt": prompt, "completion": text[bottom[0]], "label": False}


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


def write_parquet(rows: Iterable[dict], target: Path, *, batch_rows: int = 20_000, schema=None) -> str:
    """Parquet written in row groups (constant memory); returns the sha256 of the file. Without `schema` the first
    row group's types are every group's."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = _atomic_target(target)
    writer = None
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
    if writer is None:  # no rows: an empty file (with no columns unless given) is still a valid Parquet file
        pq.write_table(schema.empty_table() if schema is not None else pa.table({}), tmp)
    else:
        writer.close()
    tmp.replace(target)
    digest = hashlib.sha256()
    with target.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
