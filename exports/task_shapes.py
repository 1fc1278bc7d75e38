"""The shapes of a preference version read per task, not per pair: `aspects` and `disagreements`.

A preference build writes, beside its canonical pair rows, one canonical record per ranked task (`tasks.jsonl`):
its prompt, its answers, every labeler's ranking with that labeler's aspect scores, preference strengths and
rationale, the consensus, and the task's pairwise agreement. These shapes are derived from that file:

- aspects:        {"prompt", "response", <one column per aspect: the mean over labelers>, "ratings", "rationales"}
                  one row per answer of each task, for SFT filtering or a regression reward model (HelpSteer2,
                  UltraFeedback): `ratings` says how many labelers scored the answer (0: no column has a value),
                  `rationales` holds the task's rationales (a rationale is written per ranking, not per answer)
- disagreements:  {"task_id", "prompt", "completions", "agreement", "consensus", "rankings"} one row per task whose
                  labelers agree less than the version's threshold (lineage `disagreements.below`), with every
                  labeler's ranking of it, as HelpSteer2 publishes its disagreements

The aspect columns are the version's (lineage `aspects`, in the project's order), the same on every row so the file
loads as one table; a key that would shadow a fixed column is written `aspect_<key>`.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Iterator

TASKS = "tasks.jsonl"
TASK_SHAPES = ("aspects", "disagreements")
_FIXED = ("prompt", "response", "ratings", "rationales")


def aspect_columns(keys: Iterable[str]) -> list[tuple[str, str]]:
    """(aspect key, column name) in order."""
    return [(key, f"aspect_{key}" if key in _FIXED else key) for key in keys]


def task_rows(records: Iterable[dict], shape: str, *, aspect_keys: Iterable[str] = ()) -> Iterator[dict]:
    if shape == "aspects":
        columns = aspect_columns(aspect_keys)
        for record in records:
            yield from _aspect_rows(record, columns)
    elif shape == "disagreements":
        for record in records:
            if record["disputed"]:
                yield _disagreement_row(record)
    else:
        raise ValueError(f"unknown task shape {shape!r}")


def _aspect_rows(record: dict, columns: list[tuple[str, str]]) -> Iterator[dict]:
    rationales = [r["rationale"] for r in record["rankings"] if r["rationale"]]
    for completion in record["completions"]:
        cid = str(completion["id"])  # JSON object keys: the answer's id as text
        scored = [r["aspects"][cid] for r in record["rankings"] if cid in r["aspects"]]
        row = {"prompt": record["prompt"], "response": completion["text"]}
        for key, column in columns:
            values = [scores[key] for scores in scored if key in scores]
            row[column] = round(statistics.fmean(values), 4) if values else None
        row["ratings"] = len(scored)
        row["rationales"] = rationales
        yield row


def _disagreement_row(record: dict) -> dict:
    return {
        "task_id": record["task_id"],
        "prompt": record["prompt"],
        "completions": [{"id": c["id"], "text": c["text"]} for c in record["completions"]],
        "agreement": record["agreement"],
        "consensus": record["consensus"],
        "rankings": [
            {key: r[key] for key in ("labeler", "ranking", "strengths", "rationale", "aspects")}
            for r in record["rankings"]
        ],
    }


def for_parquet(rows: Iterable[dict], shape: str) -> Iterator[dict]:
    """A disagreement's rankings as one JSON column (their aspect scores are keyed by answer id, which differs
    from task to task: no single Parquet type holds them)."""
    if shape != "disagreements":
        yield from rows
        return
    for row in rows:
        yield {**row, "rankings": json.dumps(row["rankings"], ensure_ascii=False, sort_keys=True)}


def parquet_schema(shape: str, *, aspect_keys: Iterable[str] = ()):
    """The columns' types written out: a column empty in the first row group (no one scored that aspect yet)
    would otherwise be typed null and refuse the values of later groups."""
    import pyarrow as pa

    if shape == "aspects":
        return pa.schema(
            [("prompt", pa.string()), ("response", pa.string())]
            + [(column, pa.float64()) for _, column in aspect_columns(aspect_keys)]
            + [("ratings", pa.int64()), ("rationales", pa.list_(pa.string()))]
        )
    return pa.schema(
        [
            ("task_id", pa.int64()),
            ("prompt", pa.string()),
            ("completions", pa.list_(pa.struct([("id", pa.int64()), ("text", pa.string())]))),
            ("agreement", pa.float64()),
            ("consensus", pa.list_(pa.list_(pa.int64()))),
            ("rankings", pa.string()),
        ]
    )
