"""A batch's timeline (accepted and rejected over its life), kept incrementally in the shared cache, and its
recorded pauses and resumes (`batch_events`, `pause_spans`: the status line and the chart's shaded spans).

A batch's page polls its numbers every two seconds; grouping all of a big batch's rows on every poll grew with the
batch (a second at 100,000 rows). Rows are only ever added under the project's pool lock (selfinstruct/pool.py), so
ids are committed in order and "rows with id above the last one counted" is exact, as for the pool's own index; a
reviewer's decision changes rows below that mark and bumps the pool generation, which starts the count afresh.
The cache is the project's shared one (Redis with services), so every web process continues the same count.
"""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.db.models import Count, Max, Min
from django.db.models.functions import TruncSecond
from django.utils import timezone

from selfinstruct.models import GeneratedInstruction, GenerationBatch, InstructionStatus, PoolGeneration

# The buckets: by second for a batch under 10 minutes, by minute under 10 hours, else by hour (hundreds of points).
LEVELS = ((600, "second"), (36_000, "minute"), (None, "hour"))
CACHE_SECONDS = 7 * 24 * 3600  # the count is exact; the timeout only lets a forgotten batch's entry go
_VERSION = 1
TIME_FORMATS = {True: "H:i", False: "j M H:i"}  # an event's time: today's alone, another day's with the day


def _level(span_s: float) -> str:
    return next(name for limit, name in LEVELS if limit is None or span_s <= limit)


def _truncate(moment, level: str):
    if level == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    if level == "minute":
        return moment.replace(second=0, microsecond=0)
    return moment.replace(microsecond=0)


def _cache_key(batch: GenerationBatch) -> str:
    # created_at too: a rolled-back or deleted batch's id can come back for another batch
    return f"selfinstruct:timeline:{_VERSION}:{batch.pk}:{batch.created_at.timestamp()}"


def _fresh(generation: int) -> dict:
    return {"generation": generation, "hwm": 0, "first": None, "last": None, "level": "second", "counts": {}}


def _take_in(state: dict, batch: GenerationBatch) -> None:
    """Count the rows added since the last look into the state's buckets (one query over the new rows only)."""
    new = (
        GeneratedInstruction.objects.filter(batch=batch, id__gt=state["hwm"])
        .annotate(moment=TruncSecond("created_at"))
        .values_list("moment", "status", "reason")
        .annotate(n=Count("id"), top=Max("id"), first=Min("created_at"), last=Max("created_at"))
        .order_by()
    )
    found = list(new)
    if not found:
        return
    for _moment, _status, _reason, _n, top, first, last in found:
        state["hwm"] = max(state["hwm"], top)
        state["first"] = first if state["first"] is None else min(state["first"], first)
        state["last"] = last if state["last"] is None else max(state["last"], last)
    level = _level((state["last"] - state["first"]).total_seconds())
    counts: dict = state["counts"]
    if level != state["level"]:  # the batch outgrew its buckets: coarser ones hold the same counts
        coarser: dict = {}
        for (moment, name), n in counts.items():
            key = (_truncate(moment, level), name)
            coarser[key] = coarser.get(key, 0) + n
        counts, state["level"] = coarser, level
    for moment, status, reason, n, *_ in found:
        name = "accepted" if status == InstructionStatus.ACCEPTED else reason or status
        key = (_truncate(moment, level), name)
        counts[key] = counts.get(key, 0) + n
    state["counts"] = counts


def batch_timeline(*, batch: GenerationBatch) -> dict[str, list[list[float]]]:
    """Accepted instructions and rejections by reason over the batch's life, cumulative, as {series: [[minutes
    since start, count], …]}, by second, minute or hour (whichever keeps the points in the hundreds). A poll reads
    only the rows added since the previous one, so it costs the same for a batch of a hundred rows or a million."""
    generation = (
        PoolGeneration.objects.filter(project_id=batch.project_id).values_list("generation", flat=True).first() or 0
    )
    key = _cache_key(batch)
    state = cache.get(key)
    if state is None or state["generation"] != generation:
        state = _fresh(generation)
    hwm = state["hwm"]
    _take_in(state, batch)
    if state["hwm"] != hwm or hwm == 0:
        cache.set(key, state, CACHE_SECONDS)
    moments: dict = {}
    for (moment, name), n in sorted(state["counts"].items()):
        moments.setdefault(moment, []).append((name, n))
    totals: dict[str, int] = {}
    series: dict[str, list[list[float]]] = {}
    for moment, found in moments.items():
        minute = round(max((moment - batch.created_at).total_seconds(), 0) / 60, 3)
        for name, n in found:
            totals[name] = totals.get(name, 0) + n
        for name, total in totals.items():
            series.setdefault(name, [[0.0, 0]]).append([minute, total])  # every line starts at 0
    return series


def batch_events(*, batch: GenerationBatch) -> list[dict]:
    """The batch's recorded events (pause, resume, cancel), oldest first, each {at: datetime, event, by,
    time_format}: `time_format` is how a page shows `at` (`|date:`), the time alone when it is today in the current
    time zone (18:02), else with the day."""
    found = []
    for entry in batch.events or []:
        try:
            at = datetime.fromisoformat(entry["at"])
        except (KeyError, TypeError, ValueError):  # a hand-edited row: skip the entry, never fail the page
            continue
        today = timezone.localtime(at).date() == timezone.localdate()
        found.append(
            {"at": at, "event": entry.get("event", ""), "by": entry.get("by") or "", "time_format": TIME_FORMATS[today]}
        )
    return found


def pause_spans(*, batch: GenerationBatch, events: list[dict]) -> list[list]:
    """Each pause as [minutes since the start it began, minutes it ended, still paused]; a pause not yet resumed
    ends now (or when the batch finished), on the same axis as `batch_timeline`."""

    def minute(moment) -> float:
        return round(max((moment - batch.created_at).total_seconds(), 0) / 60, 3)

    spans: list[list] = []
    paused_at = None
    for entry in events:
        if entry["event"] == "paused" and paused_at is None:
            paused_at = entry["at"]
        elif entry["event"] in ("resumed", "cancelled") and paused_at is not None:
            spans.append([minute(paused_at), minute(entry["at"]), False])
            paused_at = None
    if paused_at is not None:
        spans.append([minute(paused_at), minute(batch.finished_at or timezone.now()), True])
    return spans
