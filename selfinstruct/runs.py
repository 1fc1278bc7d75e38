"""Generation batches in the one lifecycle. A batch's units of work are its lanes (chains of requests, each with
its own token and heartbeat), so the batch brings its own recovery: stalled lanes get a new token and are sent
again. Batches pause and resume; they are never queued."""

from django.conf import settings

from core import lifecycle
from core.lifecycle import RunKind, RunStatus

S = RunStatus


def register() -> None:
    from selfinstruct.batches import restart_stalled_lanes, send_batch
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
