"""Prompt sets for evaluating a trained model against reference answers.

One JSON object per line (JSONL) or one JSON array. Accepted fields, per row:
- the prompt: `question` (BELLE eval set), or `instruction` with an optional `input`;
- the reference answer: `std_answer` (BELLE), `reference`, or `output` — a row whose reference is present but empty
  reads with reference "" (369 of the BELLE set's 1,000, all brainstorming/generation/rewrite, have none);
  `with_reference` keeps the rows that can be judged against one;
- the category (optional): `class` (BELLE) or `category`. Whitespace in categories is normalized (the BELLE set has
  non-breaking spaces in some, "closed\xa0qa").
"""

from __future__ import annotations

import json
from pathlib import Path

from core import safejson
from selfinstruct.text import prompt_text

REFERENCE_FIELDS = ("std_answer", "reference", "output")


class EvalSetError(ValueError):
    """A prompt set that cannot be used; the message names the line and field."""


def _first(row: dict, names: tuple[str, ...]) -> str | None:
    for name in names:
        value = row.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return None


def eval_item(row, where: str) -> dict:
    if not isinstance(row, dict):
        raise EvalSetError(f"{where}: expected a JSON object, got {type(row).__name__}")
    question = _first(row, ("question",))
    if question is None:
        instruction = _first(row, ("instruction",))
        if instruction is None:
            raise EvalSetError(f"{where}: no prompt (give 'question', or 'instruction' with an optional 'input')")
        extra = row.get("input") if isinstance(row.get("input"), str) else ""
        question = prompt_text(instruction, extra)
    reference = _first(row, REFERENCE_FIELDS)
    if reference is None:
        if not any(isinstance(row.get(name), str) for name in REFERENCE_FIELDS):
            raise EvalSetError(f"{where}: no reference answer (give 'std_answer', 'reference' or 'output')")
        reference = ""  # present but empty: the BELLE set leaves many open-ended answers empty
    category = _first(row, ("class", "category")) or ""
    return {"question": question.strip(), "reference": reference.strip(), "category": " ".join(category.split())}


def read_eval_set(path: Path) -> list[dict]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise EvalSetError(f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if text.lstrip().startswith("["):
        try:
            rows = safejson.loads(text)
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{path.name}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
        except safejson.UnsafeJSON as exc:
            raise EvalSetError(f"{path.name}: {exc}") from None
        if not isinstance(rows, list):
            raise EvalSetError(f"{path.name}: expected a JSON list of prompts")
        items = [eval_item(row, f"{path.name}: item {n}") for n, row in enumerate(rows, start=1)]
    else:
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = safejson.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalSetError(f"{path.name}: line {number}: not valid JSON ({exc.msg})") from None
            except safejson.UnsafeJSON as exc:
                raise EvalSetError(f"{path.name}: line {number}: {exc}") from None
            items.append(eval_item(row, f"{path.name}: line {number}"))
    if not items:
        raise EvalSetError(f"{path.name}: no prompts")
    return items


def sample_per_category(items: list[dict], per_category: int) -> list[dict]:
    """The first `per_category` items of each category, in file order (a reproducible, balanced subset)."""
    seen: dict[str, int] = {}
    out = []
    for item in items:
        count = seen.get(item["category"], 0)
        if count < per_category:
            out.append(item)
            seen[item["category"]] = count + 1
    return out


def with_reference(items: list[dict]) -> tuple[list[dict], int]:
    """(the items that have a reference answer, how many were left out)."""
    kept = [item for item in items if item["reference"]]
    return kept, len(items) - len(kept)
