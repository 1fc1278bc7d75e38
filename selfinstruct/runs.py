"""Generation batches and rating runs in the one lifecycle. A batch's units of work are its lanes (chains of
requests, each with its own token and heartbeat), so the batch brings its own recovery: stalled lanes get a new
token and are sent again. Batches pause and resume; they are never queued. A stalled rating run goes back to queued
and is sent again (it goes on from the last instruction it stored)."""

from django.conf import settings

from core import lifecycle
from core.lifecycle import RunKind, RunStatus

S = RunStatus


def register() -> None:
    from selfinstruct.batches import restart_stalled_lanes, send_batch
    from selfinstruct.rating import send_rating_run
    from selfinstruct.selectors import accepted_count

    lifecycle.register(
        RunKind(
            name="generation",
            model="selfinstruct.GenerationBatch",
            statuses=(S.RUNNING, S.PAUSED, S.SUCCEEDED, S.FAILED, S.CANCELLED),
            send=send_batch,
            queue=settings.CELERY_TASK_DEFAULT_QUEUE,
            on_stall="custom",
            recover=restart_stalled_lanes,
            token_field=None,
            stale_seconds=lambda: settings.GENERATION_LANE_STALE_SECONDS,
            progress=lambda batch: (min(accepted_count(batch.pk), batch.target), batch.target),
        )
    )
    lifecycle.register(
        RunKind(
            name="rating",
            model="selfinstruct.RatingRun",
            statuses=(S.QUEUED, S.RUNNING, S.SUCCEEDED, S.FAILED, S.CANCELLED),
            send=send_rating_run,
            queue=settings.CELERY_TASK_DEFAULT_QUEUE,
            on_stall="requeue",
            stale_seconds=lambda: settings.RUN_STALE_SECONDS,
            requeue_seconds=lambda: settings.RUN_REQUEUE_SECONDS,
            progress=lambda run: (run.items_scored + run.items_failed, run.items_total),
        )
    )
