"""A dataset version as its page shows it: each preview record as a field/value table (conversation turns as turns,
long text collapsed, nested lists and objects in words: "demo-teacher (endpoint demo-teacher)", never a Python repr),
its filters and lineage as a summary (counts, the first few ids and "… and N more", links where the console has a
page), and the download choices (format × split × file type)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from annotation.models import ConsensusMethod, ReviewPolicy
from core.templatetags.numbers import format_number
from core.templatetags.words import yes_no_text
from exports.files import has_tasks
from exports.formats import SHAPES, SPLITS
from exports.task_shapes import TASK_SHAPES
from selfinstruct.difficulty_selectors import difficulty_metric_label, scorer_label

LONG_TEXT_CHARS = 300  # a text longer than this (or of many lines) is collapsed behind its first words
SUMMARY_CHARS = 120
LIST_HEAD = 5  # items of a long list shown before "… and N more"

FIELD_LABELS = {
    "id": _("Row"),
    "split": _("Split"),
    "system": _("System prompt"),
    "history": _("Earlier turns"),
    "messages": _("Messages"),
    "instruction": _("Instruction"),
    "input": _("Input"),
    "output": _("Output"),
    "prompt": _("Prompt"),
    "completion": _("Completion"),
    "chosen": _("Chosen"),
    "rejected": _("Rejected"),
    "margin": _("Margin"),
    "label": _("Label"),
    "language": _("Language"),
    "category": _("Category"),
    "group_id": _("Group"),
    "source": _("Source"),
}
# The fields a record's table starts with, in this order; any others follow in the row's own order.
FIELD_ORDER = tuple(FIELD_LABELS)

LINEAGE_LABELS = {
    "batches": _("Generation batches"),
    "endpoints": _("Endpoints"),
    "templates": _("Templates"),
    "generated_instructions": _("Generated instructions"),
    "seeds": _("Seed tasks"),
    "seed_ids": _("Seed task ids"),
    "multi_turn_rows": _("Multi-turn rows"),
    "evolved_instructions_by_depth": _("Evolved instructions by depth"),
    "difficulty": _("Difficulty band"),
    "stratify": _("Balanced by task type"),
    "tasks": _("Ranking tasks"),
    "rankings": _("Rankings"),
    "labelers": _("Labelers"),
    "models": _("Models"),
    "sampling_runs": _("Sampling runs"),
    "from_consensus": _("From consensus"),
    "mean_agreement": _("Mean agreement"),
    "dropped": _("Left out"),
    "consensus_method": _("Consensus method"),
    "consensus_methods": _("Consensus rows by method"),
    "margin_from": _("Margins from"),
    "review_policy": _("Review policy"),
    "adjudicated_tasks": _("Adjudicated tasks"),
    "disagreements": _("Disagreements"),
    "ranking_alpha": _("Krippendorff's α of the rankings"),
    "aspects": _("Aspects (Krippendorff's α)"),
}

FILTER_LABELS = {  # what a version was built from (console.forms.NewVersionForm.filters and the API's filters)
    "languages": _("Languages"),
    "include_seeds": _("Include seeds"),
    "difficulty": _("Difficulty band"),
    "stratify": _("Balanced by task type"),
    "evolution": _("Evolution depth"),
    "consensus": _("From consensus"),
    "min_agreement": _("Minimum agreement"),
    "batches": _("Generation batches"),
    "date_from": _("From date"),
    "date_to": _("To date"),
    "accepted_only": _("Accepted only"),
    "labelers": _("Labelers"),
    "categories": _("Categories"),
    "disagreement_below": _("Disagreement below"),
}

# The keys inside nested objects (a row's source, a filter's settings, a lineage entry), in words.
NESTED_LABELS = {
    "type": _("type"),
    "instruction_id": _("instruction id"),
    "example": _("example"),
    "batch_id": _("batch id"),
    "endpoint": _("endpoint"),
    "template": _("template"),
    "evolution": _("evolution"),
    "depth": _("depth"),
    "seed_id": _("seed id"),
    "file": _("file"),
    "task_id": _("task id"),
    "ranking_id": _("ranking id"),
    "labeler": _("labeler"),
    "consensus": _("consensus"),
    "chosen_id": _("chosen id"),
    "rejected_id": _("rejected id"),
    "chosen_model": _("chosen model"),
    "rejected_model": _("rejected model"),
    "chosen_also_from": _("chosen also from"),
    "rejected_also_from": _("rejected also from"),
    "model": _("model"),
    "scorer": _("scorer"),
    "metric": _("metric"),
    "drop_easiest": _("drop the easiest (%)"),
    "drop_hardest": _("drop the hardest (%)"),
    "per_type": _("per type"),
    "types": _("types"),
    "min_depth": _("minimum depth"),
    "max_depth": _("maximum depth"),
    "identical_pair": _("identical pair"),
    "tie_strength": _("pair called a tie"),
    "strength": _("preference strength"),
    "rank_distance": _("rank distance"),
    "below": _("agreement below"),
    "tasks": _("tasks"),
    "alpha": _("α"),
    "ratings": _("ratings"),
    "ranked_pairs": _("ranked pairs"),
    "weighted_bt": _("reliability-weighted Bradley–Terry"),
    "adjudicated": _("adjudicated"),
}
# A nested object's name: the first of these keys it has leads its words, the others follow in brackets.
NAME_KEYS = ("name", "model", "title")
# Codes shown in words by their key.
SOURCE_TYPES = {"generated": _("generated"), "seed": _("seed task")}
VALUE_WORDS = {
    "metric": difficulty_metric_label,
    "scorer": scorer_label,
    "type": lambda code: SOURCE_TYPES.get(code, code),
    "consensus_method": lambda code: dict(ConsensusMethod.choices).get(code, code),
    "review_policy": lambda code: dict(ReviewPolicy.choices).get(code, code),
}

SPLIT_LABELS = {"train": _("train"), "test": _("test"), "all": _("all (train + test)")}


def _label(labels: dict, key: str) -> str:
    return labels.get(key) or key.replace("_", " ")


def _nested_label(key: str) -> str:
    return str(_label(NESTED_LABELS, key))


def _words(value, key: str = "") -> str:
    """A nested value as one line of words: an object by its name with its other fields in brackets ("demo-teacher
    (endpoint demo-teacher)"), a list joined by commas, yes/no, numbers formatted; empty fields left out."""
    if key in VALUE_WORDS and isinstance(value, str):
        return str(VALUE_WORDS[key](value))
    if isinstance(value, dict):
        shown = {k: v for k, v in value.items() if v not in ("", None, [], {})}
        head = next((k for k in NAME_KEYS if k in shown), None)
        rest = ", ".join(f"{_nested_label(k)} {_words(v, k)}" for k, v in shown.items() if k != head)
        if head is None:
            return rest or "—"
        return f"{_words(shown[head], head)} ({rest})" if rest else _words(shown[head], head)
    if isinstance(value, list | tuple):
        return ", ".join(_words(v, key) for v in value) or "—"
    if isinstance(value, bool):
        return yes_no_text(value)
    if value is None or isinstance(value, int | float):
        return format_number(value)
    return str(value)


def _value(value, *, inline: bool = False, key: str = "") -> dict:
    """A value as the templates show it: {"kind": text|plain|turns|pairs|items|scalar, …}; `inline`: a value inside
    a line (a field of a nested object, an item of a list) — a short text stays plain text, an object or a list reads
    as words; `key`: the field it is the value of (a metric or scorer code reads as its name)."""
    if key in VALUE_WORDS and isinstance(value, str):
        return {"kind": "plain", "text": _words(value, key)}
    if inline and isinstance(value, dict | list | tuple):
        return {"kind": "plain", "text": _words(value, key)}
    if isinstance(value, str) and inline and len(value) <= SUMMARY_CHARS and "\n" not in value:
        return {"kind": "plain", "text": value}
    if isinstance(value, str):
        long = len(value) > LONG_TEXT_CHARS or value.count("\n") > 5
        return {"kind": "text", "text": value, "long": long, "summary": value[:SUMMARY_CHARS].split("\n", 1)[0]}
    if isinstance(value, list) and value and all(isinstance(t, dict) and "role" in t for t in value):
        return {"kind": "turns", "turns": [(t["role"], _value(t.get("content", ""))) for t in value]}
    if isinstance(value, list) and value and all(isinstance(t, list | tuple) and len(t) == 2 for t in value):
        turns = [(role, _value(text)) for pair in value for role, text in zip(("user", "assistant"), pair, strict=True)]
        return {"kind": "turns", "turns": turns}
    if isinstance(value, dict):
        pairs = [(_nested_label(k), _value(v, inline=True, key=k)) for k, v in value.items()]
        return {"kind": "pairs", "pairs": pairs}
    if isinstance(value, list):
        return {
            "kind": "items",
            "count": len(value),
            "items": [_value(item, inline=True, key=key) for item in value[:LIST_HEAD]],
            "more": max(len(value) - LIST_HEAD, 0),
        }
    if isinstance(value, int) and not isinstance(value, bool) and (key == "id" or key.endswith(("_id", "_ids"))):
        return {"kind": "plain", "text": str(value)}  # an id, not a quantity: no thousands separators
    return {"kind": "scalar", "value": value}


def record_fields(row: dict) -> list[dict]:
    """One preview record as table rows: [{"key", "label", "value"}], known fields first."""
    keys = [k for k in FIELD_ORDER if k in row and k not in ("id", "split")]
    keys += [k for k in row if k not in FIELD_LABELS]
    return [{"key": k, "label": _label(FIELD_LABELS, k), "value": _value(row[k], key=k)} for k in keys]


def preview_records(rows: list[dict]) -> list[dict]:
    return [
        {
            "id": r.get("id"),
            "split_label": SPLIT_LABELS.get(r.get("split"), r.get("split", "")),
            "fields": record_fields(r),
        }
        for r in rows
    ]


def filter_summary(filters: dict) -> list[tuple[str, dict]]:
    """What a version was built from, readable: [(filter, value)] with the filters' translated names ("Include
    seeds", yes) and lists summarized like lineage lists."""
    return [(_label(FILTER_LABELS, key), _value(value, key=key)) for key, value in (filters or {}).items()]


def lineage_summary(lineage: dict, *, slug: str) -> list[dict]:
    """A version's lineage as [{"key", "label", "value", "links"}]: lists show their count and first few items
    (linked to their pages where the console has them), never a whole list of ids."""
    links = {
        "batches": lambda i: reverse("console-batch", args=[slug, i]),
        "sampling_runs": lambda i: reverse("console-sampling-run", args=[slug, i]),
        "endpoints": lambda i: reverse("console-endpoints", args=[slug]),
    }
    dashboard = {"tasks", "rankings"}
    entries = []
    threshold = (lineage or {}).get("review_threshold")
    for key, value in (lineage or {}).items():
        if key == "review_threshold":
            continue  # shown with its policy
        entry = {"key": key, "label": _label(LINEAGE_LABELS, key), "value": _value(value, key=key), "link": ""}
        if key == "review_policy" and threshold is not None:
            entry["value"] = {"kind": "plain", "text": f"{_words(value, key)} ({format_number(threshold)})"}
        if key in links and isinstance(value, list):
            entry["links"] = [(item, links[key](item)) for item in value[:LIST_HEAD]]
        if key in dashboard:
            entry["link"] = reverse("label-dashboard", args=[slug])
        entries.append(entry)
    return entries


def download_table(version) -> dict:
    """Every download of a ready version, as the API serves them: a row per format, a column per split (with its
    row count), in each cell a link per file type (JSONL, gzipped JSONL, Parquet)."""
    base = reverse("project-dataset-download", args=[version.project.slug, version.pk])
    counts = {"train": version.train_rows, "test": version.test_rows, "all": version.row_count}
    types = [
        ("JSONL", {"type": "jsonl"}),
        ("JSONL.gz", {"type": "jsonl", "gzip": "1"}),
        ("Parquet", {"type": "parquet"}),
    ]
    return {
        "splits": [(SPLIT_LABELS[s], counts.get(s)) for s in SPLITS],
        "rows": [
            (
                shape,
                [
                    [
                        (label, f"{base}?{urlencode({'format': shape, 'split': split, **params})}")
                        for label, params in types
                    ]
                    for split in SPLITS
                ],
            )
            for shape in SHAPES[version.kind]
            if shape not in TASK_SHAPES or has_tasks(version)  # versions built before these shapes lack them
        ],
    }
