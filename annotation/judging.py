"""LLM-judge runs: the judge ranks tasks as an extra, non-human labeler (every pair in both orders), claimed
with a run token in the one run lifecycle; its rankings never count as human ones.

Its task is reached only through `send_judge_run`'s function-local import (the tasks ↔ services rule:
annotation/tasks.py)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from annotation.models import (
    Completion,
    JudgeRanking,
    JudgeRun,
    RankingTask,
)
from annotation.rankings import (
    ranking_from_scores,
)
from annotation.sampling import refuse_cancelled
from annotation.services import AnnotationError
from core import lifecycle
from core.lifecycle import RunStatus
from llm.selectors import require_usable_endpoint
from projects.selectors import signed_in_or_none
from selfinstruct.text import prompt_text

logger = logging.getLogger(__name__)


# --- LLM judge as an extra labeler ----------------------------------------------------------------------------


def start_judge_run(
    *, project, endpoint, limit: int | None = None, only_ranked: bool = False, created_by=None, enqueue: bool = True
):
    """Let the judge endpoint rank the project's (non-gold) tasks; with only_ranked, just the tasks humans have
    ranked (what judge–human agreement needs). Each pair of a task's K completions costs two judge calls.
    enqueue=False: the caller runs it in its own process (`--inline`), so no worker does the work a second time."""
    require_usable_endpoint(endpoint, project=project, field="endpoint", error=AnnotationError)
    tasks = RankingTask.objects.filter(project=project, is_gold=False)
    if only_ranked:
        tasks = tasks.filter(rankings_count__gt=0)
    task_ids = list(tasks.order_by("id").values_list("id", flat=True))
    if limit is not None:
        task_ids = task_ids[:limit]
    if not task_ids:
        raise AnnotationError(f"project {project.slug} has no ranking tasks to judge")
    with transaction.atomic():
        run = JudgeRun.objects.create(
            project=project,
            endpoint=endpoint,
            task_ids=task_ids,
            created_by=signed_in_or_none(created_by),
            heartbeat_at=timezone.now(),
        )
        if enqueue:
            transaction.on_commit(lambda: send_judge_run(run.pk))
    return run


def send_judge_run(run_id: int) -> None:
    """LLM calls only: the default queue."""
    from annotation.tasks import judge_run_task

    judge_run_task.apply_async((run_id,), queue=settings.CELERY_TASK_DEFAULT_QUEUE)


def resume_judge_run(*, run: JudgeRun, enqueue: bool = True) -> None:
    """Back to queued and sent again (after a worker loss, or to retry a failed run): tasks already judged are
    skipped. A worker still holding the old run token can no longer finish it."""
    kind = lifecycle.kind("judge")
    refuse_cancelled(kind, run)
    lifecycle.move(kind, run.pk, RunStatus.QUEUED, error="", heartbeat_at=timezone.now())
    if enqueue:
        transaction.on_commit(lambda: send_judge_run(run.pk))


def cancel_judge_run(*, run: JudgeRun) -> None:
    lifecycle.cancel(lifecycle.kind("judge"), run.pk)


def judge_task(*, endpoint, task: RankingTask, project_id=None) -> dict:
    """Every pair of the task's completions judged in both orders; each completion's score is its mean over its
    pairs and orders. Returns {"ranking", "scores", "pairs"} (raises llm.judge.JudgeError)."""
    from llm.judge import judge_pair

    texts = dict(Completion.objects.filter(pk__in=task.completion_ids).values_list("pk", "text"))
    question = prompt_text(task.prompt.instruction, task.prompt.input)
    totals = {cid: [] for cid in task.completion_ids}
    pairs = []
    for index, a in enumerate(task.completion_ids):
        for b in task.completion_ids[index + 1 :]:
            verdict = judge_pair(endpoint, question=question, a=texts[a], b=texts[b], project_id=project_id)
            totals[a].append(verdict.score_a)
            totals[b].append(verdict.score_b)
            pairs.append({"a": a, "b": b, **verdict.as_dict()})
    scores = {cid: round(sum(values) / len(values), 4) for cid, values in totals.items()}
    return {"ranking": ranking_from_scores(scores), "scores": {str(k): v for k, v in scores.items()}, "pairs": pairs}


def run_judge(*, run_id: int) -> None:
    """Judge the run's tasks not judged yet (safe to run again: a judged task is skipped, counted once). Anything
    unexpected it raises ends the run failed with the error."""
    kind = lifecycle.kind("judge")
    token = lifecycle.claim(kind, run_id)
    if token is None:
        return  # a duplicate or redelivered message: the run is claimed, finished or cancelled
    with lifecycle.failing(kind, run_id, token=token), lifecycle.beating(kind, run_id, token=token):
        _run_judge(run_id, token)


def _run_judge(run_id: int, token) -> None:
    from llm.judge import JudgeError

    run = JudgeRun.objects.select_related("endpoint").get(pk=run_id)
    done = set(JudgeRanking.objects.filter(run=run).values_list("task_id", flat=True))
    failures = []
    tasks = RankingTask.objects.filter(pk__in=run.task_ids).select_related("prompt").order_by("id")
    for task in tasks:
        if task.pk in done:
            continue
        if lifecycle.status(lifecycle.kind("judge"), run_id) != RunStatus.RUNNING:
            return  # cancelled, or restarted elsewhere
        try:
            result = judge_task(endpoint=run.endpoint, task=task, project_id=run.project_id)
        except JudgeError as exc:
            logger.warning("judge run %s task %s: %s", run.pk, task.pk, exc)
            failures.append(f"task {task.pk}: {exc}")
            continue
        with transaction.atomic():
            try:
                with transaction.atomic():
                    JudgeRanking.objects.create(run=run, task=task, **result)
            except IntegrityError:
                continue  # a redelivered copy stored it first
            flipped = sum(pair["flipped"] for pair in result["pairs"])
            JudgeRun.objects.filter(pk=run.pk).update(
                tasks_done=F("tasks_done") + 1,
                pairs_judged=F("pairs_judged") + len(result["pairs"]),
                pairs_flipped=F("pairs_flipped") + flipped,
            )
    judged = JudgeRanking.objects.filter(run=run).count()
    status = RunStatus.SUCCEEDED if judged else RunStatus.FAILED
    lifecycle.finish(
        lifecycle.kind("judge"),
        run.pk,
        status,
        token=token,
        tasks_failed=len(run.task_ids) - judged,
        error="\n".join(failures),
    )
