"""Celery shells for training: take ids, call a service. Routed to the `gpu` queue (worker concurrency 1,
prefetch 1), so one training run at a time per GPU worker.

The one rule: tasks import the use-case modules (supervisor, reward_scoring, difficulty, evaluations, serving_runs);
those never import the job-creating `services` (what both need is in `training.jobs`). The one edge back is each use
case's `send_*`, which imports its task inside the function, at call time, to queue it: a run is started and run by
the same module, and a task looked up by name instead (`send_task`) would skip eager mode in tests. That edge is the
only circle left in training, and it never runs at import time."""

from celery import shared_task

from training import difficulty, evaluations, reward_scoring, serving_runs, supervisor


@shared_task(acks_late=True)
def run_training_job_task(job_id: int) -> None:
    supervisor.run_training_job(job_id=job_id)


@shared_task(acks_late=True)
def score_completions_task(run_id: int) -> None:
    reward_scoring.run_reward_scoring(run_id=run_id)


@shared_task(acks_late=True)
def evaluation_task(run_id: int) -> None:
    evaluations.run_evaluation(run_id=run_id)


@shared_task(acks_late=True)
def difficulty_task(run_id: int) -> None:
    difficulty.run_difficulty_scoring(run_id=run_id)


@shared_task(acks_late=True)
def serving_task(run_id: int) -> None:
    """Holds its gpu worker's slot for as long as the model is served (until stopped)."""
    serving_runs.run_serving(run_id=run_id)
