"""Dataset builds in the one lifecycle. A version is `building` while its build runs and `ready` when it
succeeded (the names its API has always used); a stalled build gets a new build token and is sent again. The kind
is declared here once; the version's status column is made from it."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core import lifecycle
from core.lifecycle import RunKind, RunStatus, later


class VersionStatus(models.TextChoices):
    """What a dataset version stores for each of its lifecycle states."""

    BUILDING = "building", _("Building")  # running
    READY = "ready", _("Ready")  # succeeded
    FAILED = RunStatus.FAILED.value, RunStatus.FAILED.label


DATASET_BUILD = RunKind(
    name="dataset-build",
    model="exports.DatasetVersion",
    statuses=(RunStatus.RUNNING, RunStatus.SUCCEEDED, RunStatus.FAILED),
    stored={RunStatus.RUNNING: VersionStatus.BUILDING, RunStatus.SUCCEEDED: VersionStatus.READY},
    token_field="build_token",  # one per build attempt: a restarted build's old worker may not finish it
    started_field=None,  # never claimed: a version is building from the moment it is asked for (created_at)
    send=later("exports.services.send_current_build"),
    queue=settings.CELERY_TASK_DEFAULT_QUEUE,
    on_stall="custom",
    recover=later("exports.services.restart_stalled_builds"),
    stale_seconds=lambda: settings.DATASET_BUILD_STALE_SECONDS,
    progress=lambda version: (version.rows_written, version.row_count or version.rows_written),
)


def register() -> None:
    lifecycle.register(DATASET_BUILD)
