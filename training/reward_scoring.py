"""Reward-scoring runs (GPU queue): a succeeded reward model scores the completions of its project's ranking
tasks in chunks, each stored before the next, so a rerun scores only what is missing."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import lifecycle
from core.lifecycle import RunStatus
from projects.selectors import signed_in_or_none
from training.jobs import TrainingJobError, check_trained_model, trained_model_dir
from training.models import (
    JobKind,
    ScoringRun,
    TrainingJob,
)

logger = logging.getLogger(__name__)


# --- scoring completions with a trained reward model -----------------------------------------------------------

SCORING_CHUNK = 256


def reward_model_dir(job: TrainingJob) -> Path:
    """The model folder of a succeeded reward job, or TrainingJobError saying why it cannot score."""
    return trained_model_dir(job, JobKind.REWARD, "only reward models score completions")


def start_reward_scoring(*, job: TrainingJob, created_by=None, enqueue: bool = True) -> ScoringRun:
    """Queue a run that scores every completion of the project's ranking tasks the RM has not scored yet.
    enqueue=False: the caller runs it in its own process (`--inline`), so no worker does the work a second time."""
    from annotation.selectors import count_completions_to_score

    check_trained_model(job, JobKind.REWARD, "only reward models score completions")
    if ScoringRun.objects.filter(job=job, status__in=(RunStatus.QUEUED, RunStatus.RUNNING)).exists():
        raise TrainingJobError(f"job {job.pk} already has a scoring run queued or running", code="conflict")
    missing = count_completions_to_score(project=job.project, job_id=job.pk)
    with transaction.atomic():
        run = ScoringRun.objects.create(
            job=job,
            completions_total=missing,
            heartbeat_at=timezone.now(),
            created_by=signed_in_or_none(created_by),
        )
        if enqueue:
            transaction.on_commit(lambda pk=run.pk: send_scoring_run(pk))
    return run


def send_scoring_run(run_id: int) -> None:
    from training.tasks import score_completions_task

    score_completions_task.apply_async((run_id,), queue=settings.TRAINING_QUEUE)


def run_reward_scoring(*, run_id: int, scorer_factory=None) -> None:
    """Claim the run (queued → running, once), then score the unscored completions chunk by chunk; each chunk's
    scores are stored (and its tasks' RM order/margin refreshed) before the next. A rerun after a crash scores
    only what is still missing."""
    kind = lifecycle.kind("scoring")
    token = lifecycle.claim(kind, run_id)
    if token is None:
        return  # a duplicate or redelivered message
    run = ScoringRun.objects.select_related("job__project").get(pk=run_id)
    started = time.monotonic()
    with lifecycle.failing(kind, run_id, token=token), lifecycle.beating(kind, run_id, token=token):
        _score_all(run, started, scorer_factory, token)


def _score_all(run: ScoringRun, started: float, scorer_factory, token) -> None:
    from annotation.consensus import store_reward_scores
    from annotation.selectors import completions_to_score

    run_id = run.pk
    kind = lifecycle.kind("scoring")
    try:
        from training.trainer.scoring import RewardScorer

        scorer = (scorer_factory or RewardScorer)(reward_model_dir(run.job))
        batch_size = int(run.job.hyperparameters.get("batch_size") or 16)
        while True:
            rows = completions_to_score(project=run.job.project, job_id=run.job_id, limit=SCORING_CHUNK)
            if not rows:
                break
            values = scorer.score([(r["prompt"], r["text"]) for r in rows], batch_size=max(batch_size, 8))
            updated = store_reward_scores(
                job_id=run.job_id, scores={r["id"]: v for r, v in zip(rows, values, strict=True)}
            )
            counts = {
                "completions_scored": F("completions_scored") + len(rows),
                "tasks_updated": F("tasks_updated") + updated,
            }
            if not lifecycle.heartbeat(kind, run_id, token=token, **counts):
                return  # cancelled, or restarted elsewhere: the scores kept stay
    except (TrainingJobError, OSError, RuntimeError, ValueError) as exc:
        lifecycle.finish(
            kind,
            run_id,
            RunStatus.FAILED,
            token=token,
            error=f"{type(exc).__name__}: {exc}",
            seconds=round(time.monotonic() - started, 3),
        )
        return
    lifecycle.finish(kind, run_id, RunStatus.SUCCEEDED, token=token, seconds=round(time.monotonic() - started, 3))
