"""The task-type taxonomy accepted instructions are tagged with (by the rating run's and the quota batches' tagger,
llm/tagging.py). BELLE's categories are the default; a project admin can replace them with the project's own list
(`set_taxonomy`, kept in `TaskTaxonomy`) or go back to the default (`reset_taxonomy`). Each type has a key (what
is stored on an instruction), an English and a Chinese name, and the one-line definition the tagger is given; an
instruction gets exactly one type.

Everything that reads the types — the tagger, batch quotas and their steering line, stratified dataset versions,
the diversity report, the console's forms — asks `taxonomy_for(project)`. Instructions tagged before a change keep
their stored key (the report shows a key no longer in the list as it is) until a new rating run tags them again.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from django.db import transaction

from core.errors import ServiceError
from selfinstruct.models import TaskTaxonomy

DEFAULT_TASK_TYPES: dict[str, tuple[str, str, str]] = {
    "brainstorming": ("Brainstorming", "头脑风暴", "produce several ideas, names, options or suggestions"),
    "open_qa": ("Open QA", "开放式问答", "answer a question from general knowledge, with no passage given"),
    "closed_qa": ("Closed QA", "封闭式问答", "answer a question from a passage or data that the task gives"),
    "rewrite": ("Rewrite", "改写", "rewrite, edit, paraphrase, correct or change the style of a given text"),
    "extraction": ("Extraction", "信息抽取", "pull specific items (names, dates, fields) out of a given text"),
    "generation": ("Generation", "生成", "write new text: a story, poem, letter, description, plan or essay"),
    "classification": ("Classification", "分类", "choose a label from a small, fixed set for the given input"),
    "math": ("Math", "数学", "compute or reason with numbers, equations or quantities"),
    "code": ("Code", "代码", "write, explain, fix or translate program code or queries"),
    "summarization": ("Summarization", "摘要", "shorten a given text or say its main points"),
    "translation": ("Translation", "翻译", "translate a text from one language to another"),
    "other": ("Other", "其他", "none of the above"),
}

MIN_TYPES, MAX_TYPES = 2, 40
MAX_NAME, MAX_DEFINITION = 60, 200
KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")
RESERVED = frozenset({"untagged"})  # what dataset filters call instructions with no type


class TaxonomyError(ServiceError):
    """A taxonomy that cannot be used; the message names the field (types[2].key: …)."""


@dataclass(frozen=True)
class TaskType:
    key: str
    name: str
    name_zh: str
    definition: str


class Taxonomy:
    """A project's task types in their order, and what the tagger, the quotas and the reports need of them."""

    def __init__(self, types: list[TaskType], *, custom: bool) -> None:
        self.types = types
        self.custom = custom
        self._by_key = {t.key: t for t in types}

    def keys(self) -> list[str]:
        return [t.key for t in self.types]

    def __contains__(self, key) -> bool:
        return key in self._by_key

    def name(self, key: str, language: str = "en") -> str:
        """The type's name in the language (zh… or English); a key no longer in the list is shown as it is."""
        found = self._by_key.get(key)
        if found is None:
            return key
        return (found.name_zh or found.name) if language.startswith("zh") else found.name

    def tagger_types(self) -> list[tuple[str, str]]:
        """(key, definition) pairs in the order the tagger is shown them."""
        return [(t.key, t.definition) for t in self.types]

    def as_list(self) -> list[dict]:
        return [asdict(t) for t in self.types]

    def steering_line(self, language: str, counts: dict[str, int], quotas: dict[str, int]) -> str:
        """The prompt line of a batch with quotas: the types still under their quota to prefer, those at it to
        avoid. A quota on a type since taken out of the list is left out of the line."""
        zh = language.startswith("zh")
        comma = "、" if zh else ", "
        under = [k for k, quota in quotas.items() if k in self and counts.get(k, 0) < quota]
        full = [k for k, quota in quotas.items() if k in self and counts.get(k, 0) >= quota]
        parts = []
        if under:
            kinds = comma.join(f"{self.name(k, language)}({self._by_key[k].definition})" for k in under)
            parts.append(f"优先写这些类型的任务：{kinds}。" if zh else f"Prefer tasks of these kinds: {kinds}.")
        if full:
            kinds = comma.join(self.name(k, language) for k in full)
            avoid = f"不要再写这些类型的任务：{kinds}。" if zh else f"Write no more tasks of these kinds: {kinds}."
            parts.append(avoid)
        return " ".join(parts)


def default_taxonomy() -> Taxonomy:
    return Taxonomy([TaskType(k, *names) for k, names in DEFAULT_TASK_TYPES.items()], custom=False)


def _text(value, field: str, *, limit: int, required: bool) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise TaxonomyError(f"{field}: text")
    value = " ".join(value.split())
    if "\x00" in value or "|" in value:
        raise TaxonomyError(f"{field}: no NUL characters and no | (it separates the parts of a line)")
    if required and not value:
        raise TaxonomyError(f"{field}: required")
    if len(value) > limit:
        raise TaxonomyError(f"{field}: at most {limit} characters")
    return value


def clean_types(value) -> list[TaskType]:
    """A list of {key, name, name_zh, definition} (name_zh optional) as TaskTypes; TaxonomyError naming the first
    field that is wrong. Keys are unique lower-case identifiers; 2 to 40 types."""
    if not isinstance(value, list):
        raise TaxonomyError("types: a list of {key, name, name_zh, definition}")
    if not MIN_TYPES <= len(value) <= MAX_TYPES:
        raise TaxonomyError(f"types: from {MIN_TYPES} to {MAX_TYPES} task types")
    types: list[TaskType] = []
    seen: set[str] = set()
    for n, item in enumerate(value):
        where = f"types[{n}]"
        if not isinstance(item, dict) or not set(item) <= {"key", "name", "name_zh", "definition"}:
            raise TaxonomyError(f"{where}: {{key, name, name_zh, definition}}")
        key = item.get("key")
        if not isinstance(key, str) or not KEY.fullmatch(key):
            raise TaxonomyError(f"{where}.key: lower-case letters, digits and _, starting with a letter, at most 32")
        if key in RESERVED:
            raise TaxonomyError(f"{where}.key: {key!r} is reserved")
        if key in seen:
            raise TaxonomyError(f"{where}.key: {key!r} is given twice")
        seen.add(key)
        types.append(
            TaskType(
                key=key,
                name=_text(item.get("name"), f"{where}.name", limit=MAX_NAME, required=True),
                name_zh=_text(item.get("name_zh"), f"{where}.name_zh", limit=MAX_NAME, required=False),
                definition=_text(item.get("definition"), f"{where}.definition", limit=MAX_DEFINITION, required=True),
            )
        )
    return types


def parse_lines(text: str) -> list[dict]:
    """The console's form of a taxonomy, one type per line: `key | name | 中文名 | definition` (the Chinese name may
    be left empty); blank lines are skipped. TaxonomyError naming the line that does not read."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 4:
            raise TaxonomyError(f"line {number}: key | name | 中文名 | definition (four parts, three bars)")
        rows.append(dict(zip(("key", "name", "name_zh", "definition"), parts, strict=True)))
    return rows


def as_lines(taxonomy: Taxonomy) -> str:
    return "\n".join(f"{t.key} | {t.name} | {t.name_zh} | {t.definition}" for t in taxonomy.types)


# --- reads and writes -------------------------------------------------------------------------------------------


def taxonomy_for(project) -> Taxonomy:
    """The project's task types (a project or its id): its own list when an admin set one, else BELLE's."""
    project_id = getattr(project, "pk", project)
    row = TaskTaxonomy.objects.filter(project_id=project_id).values_list("types", flat=True).first()
    if not row:
        return default_taxonomy()
    return Taxonomy([TaskType(**t) for t in row], custom=True)


def set_taxonomy(*, project, types) -> Taxonomy:
    """Replace the project's task types (validated whole: nothing is stored when one field is wrong)."""
    cleaned = clean_types(types)
    with transaction.atomic():
        TaskTaxonomy.objects.update_or_create(project=project, defaults={"types": [asdict(t) for t in cleaned]})
    return Taxonomy(cleaned, custom=True)


def reset_taxonomy(*, project) -> Taxonomy:
    """Back to BELLE's categories."""
    TaskTaxonomy.objects.filter(project=project).delete()
    return default_taxonomy()
