"""Reads for curation: one seed task or generated instruction of a project, the items a bulk action's filters
select, an item's history of changes (who, when, what) and the latest change of each row a list shows."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from selfinstruct.curation_rules import clean_filters
from selfinstruct.models import (
    CurationEvent,
    CurationKind,
    GeneratedInstance,
    GeneratedInstruction,
    InstructionStatus,
    SeedTask,
)

HISTORY_SHOWN = 50  # the newest changes an item's page and the API show


def get_curated_item(*, project, kind: str, item_id: int):
    """The project's seed task or generated instruction with that id, or None (another project's: None too)."""
    model = SeedTask if kind == CurationKind.SEED else GeneratedInstruction
    return model.objects.filter(project=project, pk=item_id).first()


def items_for_curation(*, project, kind: str, filters: dict) -> QuerySet:
    """The project's items a bulk action's filters select (checked by `clean_filters`), in id order."""
    filters = clean_filters(kind, filters)
    if kind == CurationKind.SEED:
        rows = SeedTask.objects.filter(project=project)
        if filters.get("q"):
            query = filters["q"]
            rows = rows.filter(Q(instruction__icontains=query) | Q(name__icontains=query) | Q(external_id=query))
    else:
        rows = GeneratedInstruction.objects.filter(project=project)
        if filters.get("q"):
            rows = rows.filter(instruction__icontains=filters["q"])
        for key, column in (("task_type", "task_type"), ("status", "status"), ("reason", "reason")):
            if key in filters:
                rows = rows.filter(**{column: filters[key]})
        if "batch" in filters:
            rows = rows.filter(batch_id=filters["batch"])
    if "language" in filters:
        rows = rows.filter(language=filters["language"])
    if "ids" in filters:
        rows = rows.filter(pk__in=filters["ids"])
    return rows.order_by("id")


def first_example(item) -> dict:
    """The input and output a curator edits: a seed's first instance; a generated instruction's first accepted
    instance, or its own input and output when it has none (what an export's first row of it holds)."""
    if isinstance(item, SeedTask):
        first = item.instances[0] if item.instances and isinstance(item.instances[0], dict) else {}
        return {"input": first.get("input") or "", "output": first.get("output") or "", "instance": None}
    instance = (
        GeneratedInstance.objects.filter(instruction=item, status=InstructionStatus.ACCEPTED).order_by("id").first()
    )
    if instance is not None:
        return {"input": instance.input, "output": instance.output, "instance": instance}
    return {"input": item.input, "output": item.output, "instance": None}


def first_examples(items: list) -> dict[int, dict]:
    """`first_example` of many items at once ({id: {input, output}}; one query for generated instructions)."""
    found = {item.pk: first_example(item) for item in items if isinstance(item, SeedTask)}
    rows = [item for item in items if isinstance(item, GeneratedInstruction)]
    firsts: dict[int, tuple[str, str]] = {}
    accepted = GeneratedInstance.objects.filter(instruction__in=[r.pk for r in rows], status=InstructionStatus.ACCEPTED)
    for iid, inp, out in accepted.order_by("instruction_id", "-id").values_list("instruction_id", "input", "output"):
        firsts[iid] = (inp, out)  # ordered by -id: the first instance is written last
    for row in rows:
        inp, out = firsts.get(row.pk, (row.input, row.output))
        found[row.pk] = {"input": inp, "output": out, "instance": None}
    return found


def curation_history(*, project, kind: str, object_id: int) -> list[CurationEvent]:
    """The item's changes, newest first (its deletion included: the history outlives the item)."""
    events = CurationEvent.objects.filter(project=project, kind=kind, object_id=object_id).select_related("actor")
    return list(events.order_by("-id")[:HISTORY_SHOWN])


def latest_changes(*, project, kind: str, ids: list[int]) -> dict[int, CurationEvent]:
    """{item id: its latest change} for the rows a list page shows (items never changed are absent)."""
    events = CurationEvent.objects.filter(project=project, kind=kind, object_id__in=ids).order_by("object_id", "-id")
    latest: dict[int, CurationEvent] = {}
    for event in events.distinct("object_id") if _distinct_on() else events:
        latest.setdefault(event.object_id, event)
    return latest


def _distinct_on() -> bool:
    from django.db import connection

    return connection.features.can_distinct_on_fields
