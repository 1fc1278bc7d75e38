"""Prompt sets for evaluating a trained model against reference answers.

One JSON object per line (JSONL) or one JSON array, read by `core.jsonfiles` (size cap, BOM, UTF-8, nesting), a row
at a time: the file is checked whole before any item is kept, so a bad last row costs memory of one row.
Accepted fields, per row:
- the prompt: `question` (BELLE eval set), or `instruction` with an optional `input`;
- the reference answer: `std_answer` (BELLE), `reference`, or `output` — a row whose reference is present but empty
  reads with reference "" (369 of the BELLE set's 1,000, all brainstorming/generation/rewrite, have none);
  `with_reference` keeps the rows that can be judged against one;
- the category (optional): `class` (BELLE) or `category`. Whitespace in categories is normalized (the BELLE set has
  non-breaking spaces in some, "closed\xa0qa").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from core import jsonfiles
from selfinstruct.text import prompt_text

REFERENCE_FIELDS = ("std_answer", "reference", "output")
MAX_EVAL_FILE_BYTES = 50 * 1024 * 1024


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


def iter_eval_set(path: Path) -> Iterator[dict]:
    """Items one at a time; an EvalSetError at the first bad row, or at the end of a file without prompts."""
    path = Path(path)
    empty = True
    try:
        for line, row in jsonfiles.records(path, limit=MAX_EVAL_FILE_BYTES):
            empty = False
            yield eval_item(row, f"{path.name}: line {line}")
    except jsonfiles.JsonFileError as exc:
        where = f"{path.name}: line {exc.line}" if exc.line else path.name
        raise EvalSetError(f"{where}: {exc.message}") from None
    if empty:
        raise EvalSetError(f"{path.name}: no prompts")


def read_eval_set(path: Path) -> list[dict]:
    for _ in iter_eval_set(path):  # check every row before keeping any
        pass
    return list(iter_eval_set(path))


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
