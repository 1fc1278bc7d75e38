"""Dataset builds in the one lifecycle. A version is `building` while its build runs and `ready` when it
succeeded (the names its API has always used); a stalled build gets a new build token and is sent again."""

from django.conf import settings

from core import lifecycle
from core.lifecycle import RunKind, RunStatus

S = RunStatus


def register() -> None:
    from exports.services import restart_stalled_builds, send_current_build

    lifecycle.register(
        RunKind(
            name="dataset-build",
            model="exports.DatasetVersion",
            statuses=(S.RUNNING, S.SUCCEEDED, S.FAILED),
            stored={S.RUNNING: "building", S.SUCCEEDED: "ready"},
            token_field="build_token",
            send=send_current_build,
            queue=settings.CELERY_TASK_DEFAULT_QUEUE,
            on_stall="custom",
            recover=restart_stalled_builds,
            stale_seconds=lambda: settings.DATASET_BUILD_STALE_SECONDS,
            progress=lambda version: (version.rows_written, version.row_count or version.rows_written),
        )
    )
