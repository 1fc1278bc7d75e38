"""What a curator may change on a seed task or a generated instruction, and the bounds: the editable fields of each
kind, the text limits, the bulk actions and the filters that select items for them. Pure checks shared by the
writes (`curation`) and the reads (`curation_selectors`); each error names the field at fault."""

from __future__ import annotations

from core.errors import ServiceError
from selfinstruct.models import CurationKind, InstructionStatus, Language

MAX_INSTRUCTION_CHARS = 10_000  # the longest instruction a curator may write
MAX_TEXT_CHARS = 50_000  # the longest input or output
MAX_BULK_ITEMS = 10_000  # items one bulk action may change (one transaction)
MAX_BULK_IDS = 10_000  # ids one request may name
LANGUAGES = tuple(Language.values)
STATES = tuple(InstructionStatus.values)

EDITABLE = {
    CurationKind.SEED: ("instruction", "input", "output", "language", "is_classification"),
    CurationKind.INSTRUCTION: ("instruction", "input", "output", "language", "task_type", "status"),
}
BULK_ACTIONS = {
    CurationKind.SEED: ("set_language", "delete"),
    CurationKind.INSTRUCTION: ("set_language", "set_task_type", "accept", "reject", "delete"),
}
FILTERS = {
    CurationKind.SEED: ("q", "language", "ids"),
    CurationKind.INSTRUCTION: ("q", "language", "task_type", "status", "reason", "batch", "ids"),
}


class CurationError(ServiceError):
    """A change a curator may not make; the message starts with the field (`language: …`)."""


def check_kind(kind: str) -> str:
    if kind not in EDITABLE:
        raise CurationError(f"kind: must be one of {', '.join(EDITABLE)}", code="not_found")
    return kind


def _text(value, field: str, *, limit: int, required: bool) -> str:
    if not isinstance(value, str):
        raise CurationError(f"{field}: must be text")
    value = value.replace("\r\n", "\n").strip()  # a browser's textarea sends CRLF: no change by itself
    if required and not value:
        raise CurationError(f"{field}: must not be empty")
    if len(value) > limit:
        raise CurationError(f"{field}: at most {limit} characters, got {len(value)}")
    return value


def clean_language(value) -> str:
    if value not in LANGUAGES:
        raise CurationError(f"language: must be one of {', '.join(LANGUAGES)}")
    return value


def clean_task_type(value, task_types) -> str:
    """A type of the project's taxonomy, or "" (untagged)."""
    if value == "" or (isinstance(value, str) and value in task_types):
        return value
    raise CurationError(f"task_type: must be one of the project's task types ({', '.join(task_types)}) or empty")


def clean_changes(kind: str, changes: dict, *, task_types=()) -> dict:
    """The requested changes, checked and normalized: unknown fields, empty instructions, texts over the limits,
    languages, task types and states off their lists are refused, naming the field."""
    if not isinstance(changes, dict) or not changes:
        raise CurationError(f"changes: name at least one of {', '.join(EDITABLE[kind])}")
    clean = {}
    for field, value in changes.items():
        if field not in EDITABLE[kind]:
            raise CurationError(f"{field}: not editable on a {kind} (editable: {', '.join(EDITABLE[kind])})")
        if field == "instruction":
            clean[field] = _text(value, field, limit=MAX_INSTRUCTION_CHARS, required=True)
        elif field in ("input", "output"):
            clean[field] = _text(value, field, limit=MAX_TEXT_CHARS, required=False)
        elif field == "language":
            clean[field] = clean_language(value)
        elif field == "task_type":
            clean[field] = clean_task_type(value, task_types)
        elif field == "status":
            if value not in STATES:
                raise CurationError(f"status: must be one of {', '.join(STATES)}")
            clean[field] = value
        elif field == "is_classification":
            if not isinstance(value, bool):
                raise CurationError("is_classification: must be true or false")
            clean[field] = value
    return clean


def clean_bulk_action(kind: str, action: str, value, *, task_types=()) -> str:
    """The value a bulk action sets (a language or a task type), checked; "" for the actions that take none."""
    if action not in BULK_ACTIONS[kind]:
        raise CurationError(f"action: must be one of {', '.join(BULK_ACTIONS[kind])} for a {kind}")
    if action == "set_language":
        return clean_language(value)
    if action == "set_task_type":
        return clean_task_type(value or "", task_types)
    return ""


def clean_filters(kind: str, filters: dict) -> dict:
    """The filters that select items for a bulk action, checked: only the kind's keys, bounded values."""
    if not isinstance(filters, dict):
        raise CurationError("filter: must be an object")
    clean: dict = {}
    for key, value in filters.items():
        if key not in FILTERS[kind]:
            raise CurationError(f"filter.{key}: not a filter of a {kind} (filters: {', '.join(FILTERS[kind])})")
        if value in ("", None, []):
            continue
        if key == "ids":
            if not isinstance(value, list) or len(value) > MAX_BULK_IDS:
                raise CurationError(f"filter.ids: a list of at most {MAX_BULK_IDS} ids")
            if not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in value):
                raise CurationError("filter.ids: whole numbers only")
            clean[key] = value
        elif key == "batch":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
                raise CurationError("filter.batch: a batch id")
            clean[key] = value
        elif key == "language":
            clean[key] = clean_language(value)
        elif key == "status":
            if value not in STATES:
                raise CurationError(f"filter.status: must be one of {', '.join(STATES)}")
            clean[key] = value
        else:  # q, task_type, reason: text, bounded
            if not isinstance(value, str) or len(value) > 200:
                raise CurationError(f"filter.{key}: text of at most 200 characters")
            clean[key] = value.strip()
    return clean


def parse_filter_pairs(kind: str, pairs: list[str]) -> dict:
    """`key=value` strings (the CLI's --filter, a page's query) as filters; ids and batch as numbers."""
    raw: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise CurationError(f"filter: {pair!r} is not key=value")
        if key == "ids":
            parts = [p for p in value.replace(" ", ",").split(",") if p]
            if not all(p.isdigit() and len(p) < 19 for p in parts):
                raise CurationError("filter.ids: whole numbers only")
            raw["ids"] = [*raw.get("ids", []), *map(int, parts)]
        elif key == "batch":
            if not (value.isdigit() and len(value) < 19):
                raise CurationError("filter.batch: a batch id")
            raw["batch"] = int(value)
        else:
            raw[key] = value
    return clean_filters(kind, raw)
