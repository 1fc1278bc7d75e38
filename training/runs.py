"""Training's background runs in the one lifecycle: training jobs, reward-scoring, difficulty and serving runs on the
GPU queue, evaluation runs (LLM calls only) on the default queue. A training job whose supervisor stopped beating ends
failed (its trainer, if local, is killed), and so does a serving run (its endpoint is switched off); scoring,
difficulty and evaluation runs go back to queued and are sent again (what they stored is kept). Queued runs waiting
too long are sent again (a duplicate finds them claimed). A running training job is cancelled cooperatively: asked
to stop, its trainer saves what it has at its next step. Each kind is declared here once; its model's status column
is made from it."""

from django.conf import settings

from core import lifecycle
from core.lifecycle import RunKind, RunStatus, later

ALL = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)

TRAINING = RunKind(
    name="training",
    model="training.TrainingJob",
    statuses=ALL,
    send=later("training.services.send_training_job"),
    queue=settings.TRAINING_QUEUE,
    on_stall="fail",
    on_failed=later("training.supervisor.kill_local_trainer"),
    cancel_field="cancel_requested",  # the supervisor passes it on to the trainer, which stops at its next step
    stale_seconds=lambda: settings.TRAINING_STALE_SECONDS,
    requeue_seconds=lambda: settings.TRAINING_REQUEUE_SECONDS,
    queued_field="enqueued_at",
    progress=lambda job: (job.step, job.total_steps),
)

SCORING = RunKind(
    name="scoring",
    project_path="job__project",
    model="training.ScoringRun",
    statuses=ALL,
    send=later("training.reward_scoring.send_scoring_run"),
    queue=settings.TRAINING_QUEUE,
    on_stall="requeue",
    stale_seconds=lambda: settings.TRAINING_STALE_SECONDS,
    requeue_seconds=lambda: settings.TRAINING_REQUEUE_SECONDS,
    progress=lambda run: (run.completions_scored, run.completions_total),
)

DIFFICULTY = RunKind(
    name="difficulty",
    model="training.DifficultyRun",
    statuses=ALL,
    send=later("training.difficulty.send_difficulty_run"),
    queue=settings.TRAINING_QUEUE,
    on_stall="requeue",
    stale_seconds=lambda: settings.TRAINING_STALE_SECONDS,
    requeue_seconds=lambda: settings.TRAINING_REQUEUE_SECONDS,
    progress=lambda run: (run.items_scored, run.items_total),
)

EVALUATION = RunKind(
    name="evaluation",
    model="training.EvaluationRun",
    statuses=ALL,
    send=later("training.evaluations.send_evaluation"),
    queue=settings.CELERY_TASK_DEFAULT_QUEUE,
    on_stall="requeue",
    stale_seconds=lambda: settings.RUN_STALE_SECONDS,
    requeue_seconds=lambda: settings.RUN_REQUEUE_SECONDS,
    progress=lambda run: (run.items_done + run.items_failed, run.items_total),
)

SERVING = RunKind(
    name="serving",
    model="training.ServingRun",
    statuses=ALL,
    send=later("training.serving_runs.send_serving_run"),
    queue=settings.TRAINING_QUEUE,
    on_stall="fail",  # the server died with its worker: nothing to resume; starting again is the user's call
    on_failed=later("training.serving_runs.after_stall"),
    stale_seconds=lambda: settings.TRAINING_STALE_SECONDS,
    requeue_seconds=lambda: settings.TRAINING_REQUEUE_SECONDS,
    queued_field="enqueued_at",
)


def register() -> None:
    for kind in (TRAINING, SCORING, DIFFICULTY, EVALUATION, SERVING):
        lifecycle.register(kind)
