"""The ranking app's background runs in the one lifecycle: sampling runs (chunks sent again when the run stops
beating) and judge runs (back to queued and sent again). Each kind is declared here once; its model's status column
is made from it."""

from django.conf import settings

from core import lifecycle
from core.lifecycle import RunKind, RunStatus, later

SAMPLING = RunKind(
    name="sampling",
    model="annotation.SamplingRun",
    statuses=(RunStatus.RUNNING, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED),
    send=later("annotation.sampling.send_sampling_run"),
    queue=settings.CELERY_TASK_DEFAULT_QUEUE,
    on_stall="resend",
    token_field=None,  # its chunks are its units of work, each done once
    stale_seconds=lambda: settings.RUN_STALE_SECONDS,
    progress=lambda run: (run.prompts_done + run.prompts_failed, run.prompts_total),
)

JUDGE = RunKind(
    name="judge",
    model="annotation.JudgeRun",
    statuses=(RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED),
    send=later("annotation.judging.send_judge_run"),
    queue=settings.CELERY_TASK_DEFAULT_QUEUE,
    on_stall="requeue",
    stale_seconds=lambda: settings.RUN_STALE_SECONDS,
    requeue_seconds=lambda: settings.RUN_REQUEUE_SECONDS,
    progress=lambda run: (run.tasks_done + run.tasks_failed, len(run.task_ids)),
)


def register() -> None:
    lifecycle.register(SAMPLING)
    lifecycle.register(JUDGE)
