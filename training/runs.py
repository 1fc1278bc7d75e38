"""Training's background runs in the one lifecycle: training jobs, reward-scoring, difficulty and serving runs on the
GPU queue, evaluation runs (LLM calls only) on the default queue. A training job whose supervisor stopped beating ends
failed (its trainer, if local, is killed), and so does a serving run (its endpoint is switched off); scoring,
difficulty and evaluation runs go back to queued and are sent again (what they stored is kept). Queued runs waiting
too long are sent again (a duplicate finds them claimed)."""

from django.conf import settings

from core import lifecycle
from core.lifecycle import RunKind, RunStatus

S = RunStatus
ALL = (S.QUEUED, S.RUNNING, S.SUCCEEDED, S.FAILED, S.CANCELLED)


def register() -> None:
    from training.difficulty import send_difficulty_run
    from training.evaluations import send_evaluation
    from training.reward_scoring import send_scoring_run
    from training.services import send_training_job
    from training.serving_runs import after_stall, send_serving_run
    from training.supervisor import kill_local_trainer

    lifecycle.register(
        RunKind(
            name="training",
            model="training.TrainingJob",
            statuses=ALL,
            send=send_training_job,
            queue=settings.TRAINING_QUEUE,
            on_stall="fail",
            on_failed=kill_local_trainer,
            stale_seconds=lambda: settings.TRAINING_STALE_SECONDS,
            requeue_seconds=lambda: settings.TRAINING_REQUEUE_SECONDS,
            queued_field="enqueued_at",
            progress=lambda job: (job.step, job.total_steps),
        )
    )
    lifecycle.register(
        RunKind(
            name="scoring",
            project_path="job__project",
            model="training.ScoringRun",
            statuses=ALL,
            send=send_scoring_run,
            queue=settings.TRAINING_QUEUE,
            on_stall="requeue",
            stale_seconds=lambda: settings.TRAINING_STALE_SECONDS,
            requeue_seconds=lambda: settings.TRAINING_REQUEUE_SECONDS,
            progress=lambda run: (run.completions_scored, run.completions_total),
        )
    )
    lifecycle.register(
        RunKind(
            name="difficulty",
            model="training.DifficultyRun",
            statuses=ALL,
            send=send_difficulty_run,
            queue=settings.TRAINING_QUEUE,
            on_stall="requeue",
            stale_seconds=lambda: settings.TRAINING_STALE_SECONDS,
            requeue_seconds=lambda: settings.TRAINING_REQUEUE_SECONDS,
            progress=lambda run: (run.items_scored, run.items_total),
        )
    )
    lifecycle.register(
        RunKind(
            name="evaluation",
            model="training.EvaluationRun",
            statuses=ALL,
            send=send_evaluation,
            queue=settings.CELERY_TASK_DEFAULT_QUEUE,
            on_stall="requeue",
            stale_seconds=lambda: settings.RUN_STALE_SECONDS,
            requeue_seconds=lambda: settings.RUN_REQUEUE_SECONDS,
            progress=lambda run: (run.items_done + run.items_failed, run.items_total),
        )
    )
    lifecycle.register(
        RunKind(
            name="serving",
            model="training.ServingRun",
            statuses=ALL,
            send=send_serving_run,
            queue=settings.TRAINING_QUEUE,
            on_stall="fail",  # the server died with its worker: nothing to resume; starting again is the user's call
            on_failed=after_stall,
            stale_seconds=lambda: settings.TRAINING_STALE_SECONDS,
            requeue_seconds=lambda: settings.TRAINING_REQUEUE_SECONDS,
            queued_field="enqueued_at",
        )
    )
