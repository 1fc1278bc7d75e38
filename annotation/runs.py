"""The ranking app's background runs in the one lifecycle: sampling runs (chunks sent again when the run stops
beating) and judge runs (back to queued and sent again)."""

from django.conf import settings

from core import lifecycle
from core.lifecycle import RunKind, RunStatus

S = RunStatus


def register() -> None:
    from annotation.judging import send_judge_run
    from annotation.sampling import send_sampling_run

    lifecycle.register(
        RunKind(
            name="sampling",
            model="annotation.SamplingRun",
            statuses=(S.RUNNING, S.SUCCEEDED, S.FAILED, S.CANCELLED),
            send=send_sampling_run,
            queue=settings.CELERY_TASK_DEFAULT_QUEUE,
            on_stall="resend",
            token_field=None,
            stale_seconds=lambda: settings.RUN_STALE_SECONDS,
            progress=lambda run: (run.prompts_done + run.prompts_failed, run.prompts_total),
        )
    )
    lifecycle.register(
        RunKind(
            name="judge",
            model="annotation.JudgeRun",
            statuses=(S.QUEUED, S.RUNNING, S.SUCCEEDED, S.FAILED, S.CANCELLED),
            send=send_judge_run,
            queue=settings.CELERY_TASK_DEFAULT_QUEUE,
            on_stall="requeue",
            stale_seconds=lambda: settings.RUN_STALE_SECONDS,
            requeue_seconds=lambda: settings.RUN_REQUEUE_SECONDS,
            progress=lambda run: (run.tasks_done + run.tasks_failed, len(run.task_ids)),
        )
    )
