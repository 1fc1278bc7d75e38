"""Endpoint checks in the one lifecycle: a check whose worker stopped reporting ends failed (it proves the chain
is wired; running it again would prove nothing new); a queued one whose message was lost is sent again."""

from django.conf import settings

from core import lifecycle
from core.lifecycle import RunKind, RunStatus

S = RunStatus


def register() -> None:
    from llm.services import send_endpoint_check

    lifecycle.register(
        RunKind(
            name="endpoint-check",
            project_path=None,  # checks belong to endpoints, some site-wide
            model="llm.EndpointCheck",
            statuses=(S.QUEUED, S.RUNNING, S.SUCCEEDED, S.FAILED),
            send=send_endpoint_check,
            queue=settings.CELERY_TASK_DEFAULT_QUEUE,
            on_stall="fail",
            stale_seconds=lambda: settings.RUN_STALE_SECONDS,
            requeue_seconds=lambda: settings.RUN_REQUEUE_SECONDS,
        )
    )
