"""Generation batches and rating runs in the one lifecycle. A batch's units of work are its lanes (chains of
requests, each with its own token and heartbeat), so the batch brings its own recovery: stalled lanes get a new
token and are sent again. Batches pause and resume; they are never queued. A stalled rating run goes back to queued
and is sent again (it goes on from the last instruction it stored). Each kind is declared here once; its model's
status column is made from it."""

from django.conf import settings

from core import lifecycle
from core.lifecycle import RunKind, RunStatus, later

_accepted_count = later("selfinstruct.selectors.accepted_count")

GENERATION = RunKind(
    name="generation",
    model="selfinstruct.GenerationBatch",
    statuses=(RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED),
    send=later("selfinstruct.batches.send_batch"),
    queue=settings.CELERY_TASK_DEFAULT_QUEUE,
    on_stall="custom",
    recover=later("selfinstruct.batches.restart_stalled_lanes"),
    token_field=None,  # its lanes hold the tokens and beat
    heartbeat_field=None,
    started_field=None,  # never claimed: a batch runs from the moment it is asked for (created_at)
    stale_seconds=lambda: settings.GENERATION_LANE_STALE_SECONDS,
    progress=lambda batch: (min(_accepted_count(batch.pk), batch.target), batch.target),
)

RATING = RunKind(
    name="rating",
    model="selfinstruct.RatingRun",
    statuses=(RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED),
    send=later("selfinstruct.rating.send_rating_run"),
    queue=settings.CELERY_TASK_DEFAULT_QUEUE,
    on_stall="requeue",
    stale_seconds=lambda: settings.RUN_STALE_SECONDS,
    requeue_seconds=lambda: settings.RUN_REQUEUE_SECONDS,
    progress=lambda run: (run.items_scored + run.items_failed, run.items_total),
)


def register() -> None:
    lifecycle.register(GENERATION)
    lifecycle.register(RATING)
