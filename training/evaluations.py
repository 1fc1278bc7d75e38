"""Evaluation runs (LLM calls only: the default queue): a model answers a prompt set and a judge scores each
answer against the reference in both orders; resumable (judged items kept, failed ones retried); the per-category
table."""

from __future__ import annotations

import json
import logging
import math

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import lifecycle
from core.lifecycle import RunStatus
from llm.params import validate_params
from llm.selectors import require_usable_endpoint
from projects.selectors import signed_in_or_none
from training.jobs import TrainingJobError
from training.models import (
    EvaluationItem,
    EvaluationRun,
    TrainingJob,
)

logger = logging.getLogger(__name__)


# --- evaluating a model against reference answers with an LLM judge --------------------------------------------

DEFAULT_EVAL_GENERATION = {"temperature": 0.0, "max_tokens": 512}


def start_evaluation(
    *,
    project,
    model_endpoint,
    judge_endpoint,
    items: list[dict],
    prompt_set: str,
    job: TrainingJob | None = None,
    generation: dict | None = None,
    created_by=None,
    enqueue: bool = True,
    opponent_endpoint=None,
) -> EvaluationRun:
    """Queue an evaluation: the model answers each item's question, the judge scores answer vs reference in both
    orders. `items`: [{"question", "reference", "category"}] (training.evalsets reads files into this).
    enqueue=False: the caller runs it in its own process (`--inline`), so no worker does the work a second time."""
    if not items:
        raise TrainingJobError("prompts: the prompt set is empty")
    empty = [
        n
        for n, item in enumerate(items)
        if not item.get("question") or (not item.get("reference") and opponent_endpoint is None)
    ]
    if empty:
        raise TrainingJobError(f"prompts.{empty[0]}: a prompt needs a question and a reference answer")
    if job is not None and job.project_id != project.pk:
        raise TrainingJobError(f"job: job {job.pk} belongs to another project", code="not_found")
    for field, endpoint in (
        ("model_endpoint", model_endpoint),
        ("judge_endpoint", judge_endpoint),
        ("opponent_endpoint", opponent_endpoint),
    ):
        if endpoint is not None or field != "opponent_endpoint":
            require_usable_endpoint(endpoint, project=project, field=field, error=TrainingJobError)
    generation = validate_params(generation, field="generation", error=TrainingJobError)
    with transaction.atomic():
        run = EvaluationRun.objects.create(
            project=project,
            job=job,
            model_endpoint=model_endpoint,
            judge_endpoint=judge_endpoint,
            opponent_endpoint=opponent_endpoint,
            prompt_set=prompt_set[:300],
            generation={**DEFAULT_EVAL_GENERATION, **(generation or {})},
            items_total=len(items),
            created_by=signed_in_or_none(created_by),
            heartbeat_at=timezone.now(),
        )
        EvaluationItem.objects.bulk_create(
            EvaluationItem(
                run=run,
                number=n,
                category=i.get("category", "")[:100],
                question=i["question"],
                reference=i["reference"],
            )
            for n, i in enumerate(items)
        )
        if enqueue:
            transaction.on_commit(lambda pk=run.pk: send_evaluation(pk))
    return run


def send_evaluation(run_id: int) -> None:
    """LLM calls only: the default queue, never the one-at-a-time GPU queue that `training.tasks.*` routes to."""
    from training.tasks import evaluation_task

    evaluation_task.apply_async((run_id,), queue=settings.CELERY_TASK_DEFAULT_QUEUE)


def resume_evaluation(*, run: EvaluationRun, enqueue: bool = True) -> int:
    """Back to queued and sent again (after a worker loss, or to retry what failed): items judged are kept, items
    that failed (no score) are tried again, answers already given are reused. Returns how many items will be
    (re)done. A worker still holding the old run token can no longer finish it."""
    with transaction.atomic():
        retry = EvaluationItem.objects.filter(run=run, model_score__isnull=True)
        count = retry.update(done=False, error="")
        lifecycle.move(lifecycle.kind("evaluation"), run.pk, RunStatus.QUEUED, error="", heartbeat_at=timezone.now())
        if enqueue:
            transaction.on_commit(lambda: send_evaluation(run.pk))
    return count


def run_evaluation(*, run_id: int) -> None:
    """Answer and judge every item not done yet (safe to run twice), then write the per-category table. Anything
    unexpected it raises ends the run failed with the error."""
    kind = lifecycle.kind("evaluation")
    token = lifecycle.claim(kind, run_id)
    if token is None:
        return  # a duplicate or redelivered message: the run is claimed or finished
    with lifecycle.failing(kind, run_id, token=token), lifecycle.beating(kind, run_id, token=token):
        _run_evaluation(run_id, token)


def _run_evaluation(run_id: int, token) -> None:
    from llm.client import LLMError, call_llm
    from llm.judge import JudgeError, judge_pair

    kind = lifecycle.kind("evaluation")
    run = EvaluationRun.objects.select_related("model_endpoint", "judge_endpoint", "opponent_endpoint").get(pk=run_id)
    for item in run.items.filter(done=False).order_by("number"):
        fields = {}
        try:
            answer = item.answer
            if not answer:
                reply = call_llm(
                    run.model_endpoint,
                    purpose="evaluation",
                    project_id=run.project_id,
                    messages=[{"role": "user", "content": item.question}],
                    **run.generation,
                )
                answer = reply.text.strip()
                EvaluationItem.objects.filter(pk=item.pk).update(answer=answer)
            reference = item.reference
            if not reference and run.opponent_endpoint is not None:  # a win-rate run: the other model answers
                reply = call_llm(
                    run.opponent_endpoint,
                    purpose="evaluation",
                    project_id=run.project_id,
                    messages=[{"role": "user", "content": item.question}],
                    **run.generation,
                )
                reference = reply.text.strip()
                EvaluationItem.objects.filter(pk=item.pk).update(reference=reference)
            verdict = judge_pair(
                run.judge_endpoint, question=item.question, a=answer, b=reference, project_id=run.project_id
            )
            fields = {
                "model_score": verdict.score_a,
                "reference_score": verdict.score_b,
                "flipped": verdict.flipped,
                "verdicts": verdict.as_dict(),
                "error": "",
            }
        except (LLMError, JudgeError) as exc:
            fields = {"error": str(exc)[:2000]}
        EvaluationItem.objects.filter(pk=item.pk).update(done=True, **fields)
        if not lifecycle.heartbeat(kind, run_id, token=token):
            return  # restarted elsewhere
    items = list(run.items.all())
    failed = sum(1 for i in items if i.model_score is None)
    lifecycle.finish(
        kind,
        run.pk,
        RunStatus.SUCCEEDED if failed < len(items) else RunStatus.FAILED,
        token=token,
        items_done=len(items) - failed,
        items_failed=failed,
        results=evaluation_table(items),
        error=next((i.error for i in items if i.error), ""),
    )


def evaluation_table(items) -> dict:
    """Per category and overall: items judged, the model's and the reference's mean judge score (1–10), the
    relative score (model / reference), wins/ties/losses against the reference, and the position-bias rate."""

    def summary(rows) -> dict:
        judged = [r for r in rows if r.model_score is not None]
        if not judged:
            return {"items": len(rows), "judged": 0}
        model = sum(r.model_score for r in judged) / len(judged)
        reference = sum(r.reference_score for r in judged) / len(judged)
        return {
            "items": len(rows),
            "judged": len(judged),
            "model_score": round(model, 3),
            "reference_score": round(reference, 3),
            "relative_score": round(model / reference, 3) if reference else None,
            "wins": sum(r.model_score > r.reference_score for r in judged),
            "ties": sum(r.model_score == r.reference_score for r in judged),
            "losses": sum(r.model_score < r.reference_score for r in judged),
            "position_bias_rate": round(sum(r.flipped for r in judged) / len(judged), 3),
            **win_rate(judged),
        }

    categories: dict[str, list] = {}
    for item in items:
        categories.setdefault(item.category or "(none)", []).append(item)
    return {
        "categories": [{"category": name, **summary(rows)} for name, rows in sorted(categories.items())],
        "overall": summary(list(items)),
    }


def start_evaluation_from_upload(
    *, project, upload, model_endpoint, judge_endpoint, per_category=None, max_tokens=512, job=None, created_by=None
) -> tuple[EvaluationRun, int]:
    """An evaluation of an uploaded prompt set (the console's form): read all or nothing, items without a reference
    left out (their count returned with the run), optionally the first N of each category."""
    from core.uploads import spool
    from training.evalsets import EvalSetError, read_eval_set, sample_per_category, with_reference

    with spool([upload]) as [(path, shown)]:
        try:
            items = read_eval_set(path)
        except EvalSetError as exc:
            raise TrainingJobError(f"prompts: {exc}") from None
    items, skipped = with_reference(items)
    if per_category:
        items = sample_per_category(items, per_category)
    if not items:
        raise TrainingJobError(f"prompts: no prompt of {shown} has a reference answer")
    run = start_evaluation(
        project=project,
        model_endpoint=model_endpoint,
        judge_endpoint=judge_endpoint,
        items=items,
        prompt_set=shown[:300],
        job=job,
        generation={"max_tokens": max_tokens},
        created_by=created_by,
    )
    return run, skipped


def win_rate(judged) -> dict:
    """The model's win rate against the reference (or opponent) answers — a tie counts half — with its 95% Wilson
    score interval, which stays inside [0, 1] and honest for the small per-category counts a round has."""
    n = len(judged)
    if not n:
        return {}
    p = (
        sum(r.model_score > r.reference_score for r in judged)
        + 0.5 * sum(r.model_score == r.reference_score for r in judged)
    ) / n
    z = 1.959964
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {
        "win_rate": round(p, 3),
        "win_rate_ci": [round(max(0.0, centre - spread), 3), round(min(1.0, centre + spread), 3)],
    }


MAX_ROUND_PROMPTS = 1000


def start_round_evaluation(
    *, job: TrainingJob, judge_endpoint, opponent_endpoint=None, limit: int = 200, created_by=None, enqueue=True
) -> EvaluationRun:
    """A round's win-rate: the job's served model (endpoint job-<id>) against the model it started from (its base
    job's endpoint, or `opponent_endpoint`) on the held-out prompts of the job's dataset version, judged in both
    orders. Did this round of labeling pay off?"""
    from exports.services import materialize
    from llm.selectors import get_endpoint
    from training.jobs import check_trained_model
    from training.models import GENERATIVE_KINDS

    check_trained_model(job, GENERATIVE_KINDS, "only language models (SFT, DPO, KTO, RL) answer prompts")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_ROUND_PROMPTS:
        raise TrainingJobError(f"limit: from 1 to {MAX_ROUND_PROMPTS}")
    model = get_endpoint(name=f"job-{job.pk}")
    if model is None or model.project_id != job.project_id or not model.is_active:
        raise TrainingJobError(
            f"job: serve job-{job.pk} first: the Serve button on the console's models page, or "
            f"`manage.py serve_model {job.pk} --queue` (a gpu worker serves it; from a shell on the GPU machine: "
            f"`manage.py serve_model {job.pk} [--port P]`)",
            code="not_ready",
        )
    if opponent_endpoint is None:
        if job.base_job_id is None:
            raise TrainingJobError("opponent_endpoint: the job started from a base checkpoint; name the model to beat")
        opponent_endpoint = get_endpoint(name=f"job-{job.base_job_id}")
        if (
            opponent_endpoint is None
            or opponent_endpoint.project_id != job.project_id
            or not opponent_endpoint.is_active
        ):
            raise TrainingJobError(
                f"opponent_endpoint: serve job-{job.base_job_id} (the model it started from) too: its Serve button "
                "on the models page"
            )
    version = job.dataset_version
    if not version.test_rows:
        raise TrainingJobError(f"job: dataset version {version.pk} has no held-out prompts (test split)")
    shape = "trl-sft" if version.kind == "sft" else "trl-prompts"
    path, _ = materialize(version=version, shape=shape, split="test", file_type="jsonl", compress=False)
    prompts, seen = [], set()
    with open(path, encoding="utf-8") as rows:
        for line in rows:
            prompt = json.loads(line)["prompt"]
            if prompt not in seen:
                seen.add(prompt)
                prompts.append({"question": prompt, "reference": "", "category": ""})
            if len(prompts) >= limit:
                break
    return start_evaluation(
        project=job.project,
        model_endpoint=model,
        judge_endpoint=judge_endpoint,
        opponent_endpoint=opponent_endpoint,
        items=prompts,
        prompt_set=f"held-out prompts of {version.kind} v{version.number}",
        job=job,
        created_by=created_by,
        enqueue=enqueue,
    )
