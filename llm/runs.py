"""Endpoint checks in the one lifecycle: a check whose worker stopped reporting ends failed (it proves the chain
is wired; running it again would prove nothing new); a queued one whose message was lost is sent again. The kind is
declared here once; the check's status column is made from it."""

from django.conf import settings

from core import lifecycle
from core.lifecycle import RunKind, RunStatus, later

ENDPOINT_CHECK = RunKind(
    name="endpoint-check",
    project_path=None,  # checks belong to endpoints, some site-wide
    model="llm.EndpointCheck",
    statuses=(RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCEEDED, RunStatus.FAILED),
    send=later("llm.services.send_endpoint_check"),
    queue=settings.CELERY_TASK_DEFAULT_QUEUE,
    on_stall="fail",
    stale_seconds=lambda: settings.RUN_STALE_SECONDS,
    requeue_seconds=lambda: settings.RUN_REQUEUE_SECONDS,
)


def register() -> None:
    lifecycle.register(ENDPOINT_CHECK)
