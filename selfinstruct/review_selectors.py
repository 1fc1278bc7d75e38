"""Reads for the pool pages: seed tasks searched and filtered, generated instructions as the review page filters
them (a difficulty band included), and what its filters offer."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from selfinstruct.difficulty_selectors import difficulty_band_ids, difficulty_values
from selfinstruct.models import GeneratedInstruction, GenerationBatch

MAX_QUERY_CHARS = 200  # a search box's text is bounded (icontains is linear in it)


def seeds_of_project(*, project, query: str = "", language: str = "") -> QuerySet:
    """The project's seed tasks, newest import last, optionally searched (instruction, name, id) and by language."""
    from selfinstruct.models import SeedTask

    seeds = SeedTask.objects.filter(project=project).order_by("id")
    query = query.strip()[:MAX_QUERY_CHARS]
    if query:
        seeds = seeds.filter(Q(instruction__icontains=query) | Q(name__icontains=query) | Q(external_id=query))
    if language:
        seeds = seeds.filter(language=language)
    return seeds


def instructions_for_review(
    *,
    project,
    batch_id: int | None = None,
    status: str = "",
    reason: str = "",
    language: str = "",
    query: str = "",
    band: dict | None = None,
) -> QuerySet[GeneratedInstruction]:
    """Generated instructions with their instances, filtered as the review page asks, newest first. `band`
    ({scorer, metric, drop_easiest, drop_hardest, side}): the scored instructions inside the difficulty band, or
    outside it (the easiest and hardest, to reject)."""
    rows = (
        GeneratedInstruction.objects.filter(project=project)
        .select_related("parent_instruction", "parent_seed")
        .prefetch_related("instances")
        .order_by("-id")
    )
    if band:
        kept = difficulty_band_ids(
            project=project,
            scorer=band["scorer"],
            metric=band["metric"],
            drop_easiest=band["drop_easiest"],
            drop_hardest=band["drop_hardest"],
        )
        if band.get("side") == "outside":
            scored = difficulty_values(project=project, scorer=band["scorer"], metric=band["metric"])
            kept = set(scored) - kept
        rows = rows.filter(pk__in=kept)
    if batch_id is not None:
        rows = rows.filter(batch_id=batch_id)
    if status:
        rows = rows.filter(status=status)
    if reason:
        rows = rows.filter(reason=reason)
    if language:
        rows = rows.filter(language=language)
    query = query.strip()[:MAX_QUERY_CHARS]
    if query:
        rows = rows.filter(instruction__icontains=query)
    return rows


def review_facets(*, project) -> dict:
    """What the review page's filters offer: the project's batches and the reasons its rows were rejected for."""
    rows = GeneratedInstruction.objects.filter(project=project)
    return {
        "batches": list(GenerationBatch.objects.filter(project=project).order_by("-id").values_list("id", flat=True)),
        "reasons": dict(rows.exclude(reason="").values_list("reason").annotate(n=Count("id")).order_by("reason")),
    }


def get_project_instructions(*, project, ids: list[int]) -> QuerySet[GeneratedInstruction]:
    return GeneratedInstruction.objects.filter(project=project, pk__in=ids).order_by("id")
