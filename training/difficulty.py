"""Difficulty runs (GPU queue): a causal LM — a base model under TRAINING_MODEL_ROOTS, or one of the project's
succeeded SFT/DPO/KTO/RL jobs — computes perplexities and IFD (training.trainer.perplexity) for the project's accepted
instructions in chunks, each stored before the next (selfinstruct's DifficultyScore), so a rerun scores only what
is missing. The scores then filter review and dataset versions by percentile band."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import lifecycle
from core.lifecycle import RunStatus
from projects.selectors import signed_in_or_none
from training.jobs import TrainingJobError, check_base_model, check_trained_model, trained_model_dir
from training.models import GENERATIVE_KINDS, DifficultyRun, JobKind, TrainingJob
from training.paths import base_model_label

DIFFICULTY_CHUNK = 128
MAX_LENGTH_BOUNDS = (32, 8192)
SCORING_KINDS = (*GENERATIVE_KINDS, JobKind.RLOO)


def start_difficulty_run(
    *,
    project,
    job: TrainingJob | None = None,
    base_model: str = "",
    max_length: int = 1024,
    created_by=None,
    enqueue: bool = True,
) -> DifficultyRun:
    """Queue a run scoring the project's accepted instructions that this model has not scored yet. Exactly one of
    `job` (the project's own) and `base_model` (a name under TRAINING_MODEL_ROOTS). enqueue=False: the caller runs
    it in its own process (`--inline`)."""
    from selfinstruct.selectors import count_instructions_to_score

    if (job is None) == (not base_model):
        raise TrainingJobError("job: name one trained job or one base model (base_model), not both or neither")
    if isinstance(max_length, bool) or not isinstance(max_length, int):
        raise TrainingJobError("max_length: a whole number")
    if not MAX_LENGTH_BOUNDS[0] <= max_length <= MAX_LENGTH_BOUNDS[1]:
        raise TrainingJobError(f"max_length: from {MAX_LENGTH_BOUNDS[0]} to {MAX_LENGTH_BOUNDS[1]}")
    if job is not None:
        if job.project_id != project.pk:
            raise TrainingJobError(f"job: no training job {job.pk} in this project", code="not_found")
        check_trained_model(job, SCORING_KINDS, "only language models (SFT, DPO, KTO, RL) score difficulty")
        scorer = f"job-{job.pk}"
    else:
        base_model = check_base_model(base_model)  # the resolved folder, stored; users see its name
        scorer = base_model_label(base_model)[:200]
    active = DifficultyRun.objects.filter(
        project=project, scorer=scorer, status__in=(RunStatus.QUEUED, RunStatus.RUNNING)
    )
    if active.exists():
        raise TrainingJobError(f"scorer: {scorer} already has a difficulty run queued or running", code="conflict")
    with transaction.atomic():
        run = DifficultyRun.objects.create(
            project=project,
            job=job,
            base_model="" if job is not None else base_model,
            scorer=scorer,
            max_length=max_length,
            items_total=count_instructions_to_score(project=project, scorer=scorer),
            heartbeat_at=timezone.now(),
            created_by=signed_in_or_none(created_by),
        )
        if enqueue:
            transaction.on_commit(lambda pk=run.pk: send_difficulty_run(pk))
    return run


def send_difficulty_run(run_id: int) -> None:
    from training.tasks import difficulty_task

    difficulty_task.apply_async((run_id,), queue=settings.TRAINING_QUEUE)


def _model_dir(run: DifficultyRun) -> Path:
    if run.job_id:
        return trained_model_dir(run.job, SCORING_KINDS, "only language models score difficulty")
    return Path(check_base_model(run.base_model))


def run_difficulty_scoring(*, run_id: int, scorer_factory=None) -> None:
    """Claim the run (queued → running, once), then score the unscored instructions chunk by chunk; a rerun after a
    crash scores only what is still missing."""
    kind = lifecycle.kind("difficulty")
    token = lifecycle.claim(kind, run_id)
    if token is None:
        return  # a duplicate or redelivered message
    run = DifficultyRun.objects.select_related("project", "job").get(pk=run_id)
    started = time.monotonic()
    with lifecycle.failing(kind, run_id, token=token), lifecycle.beating(kind, run_id, token=token):
        _score_all(run, started, scorer_factory, token)


def _score_all(run: DifficultyRun, started: float, scorer_factory, token) -> None:
    from selfinstruct.selectors import instructions_to_score
    from selfinstruct.services import store_difficulty_scores

    kind = lifecycle.kind("difficulty")
    try:
        from training.trainer.perplexity import PerplexityScorer

        scorer = (scorer_factory or PerplexityScorer)(_model_dir(run), max_length=run.max_length)
        while True:
            rows = instructions_to_score(project=run.project, scorer=run.scorer, limit=DIFFICULTY_CHUNK)
            if not rows:
                break
            values = scorer.score([(r["prompt"], r["response"]) for r in rows])
            store_difficulty_scores(scorer=run.scorer, scores={r["id"]: v for r, v in zip(rows, values, strict=True)})
            if not lifecycle.heartbeat(kind, run.pk, token=token, items_scored=F("items_scored") + len(rows)):
                return  # cancelled, or restarted elsewhere: the scores kept stay
    except (TrainingJobError, OSError, RuntimeError, ValueError) as exc:
        seconds = round(time.monotonic() - started, 3)
        lifecycle.finish(
            kind, run.pk, RunStatus.FAILED, token=token, error=f"{type(exc).__name__}: {exc}", seconds=seconds
        )
        return
    lifecycle.finish(kind, run.pk, RunStatus.SUCCEEDED, token=token, seconds=round(time.monotonic() - started, 3))


def cancel_difficulty_run(*, run: DifficultyRun) -> None:
    """A queued run is cancelled at once, a running one at its next chunk (the scores kept stay)."""
    if not lifecycle.cancel(lifecycle.kind("difficulty"), run.pk):
        raise TrainingJobError(f"status: difficulty run {run.pk} is already {run.status}", code="conflict")
