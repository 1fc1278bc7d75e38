"""Sampling runs: K completions per prompt from one or more endpoints, in idempotent chunks on the default queue
(a slot that has its completion is skipped), in the one run lifecycle (core.lifecycle). A prompt's identical answers
(up to whitespace) are one item of its ranking task; a prompt whose answers are all one text gets no task.

Its task is reached only through `send_sampling_run`'s function-local import (the tasks ↔ services rule:
annotation/tasks.py)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotation.models import (
    MAX_K,
    MIN_K,
    Completion,
    Prompt,
    PromptSource,
    SamplingChunk,
    SamplingRun,
)
from annotation.services import AnnotationError, collect_prompts, get_ranking_config, make_ranking_task
from core import lifecycle
from core.lifecycle import RunStatus
from llm.client import LLMError, call_llm
from llm.params import validate_params
from llm.selectors import require_usable_endpoint
from projects.selectors import signed_in_or_none
from selfinstruct.text import prompt_text

logger = logging.getLogger(__name__)

SAMPLING_CHUNK_PROMPTS = 8
DEFAULT_SAMPLING_PARAMS = {"temperature": 0.9, "top_p": 0.95, "max_tokens": 768}


# --- Sampling completions -------------------------------------------------------------------------------------


def start_sampling_run(
    *,
    project,
    endpoints: list[tuple[object, dict]],
    per_prompt: int | None = None,
    sources: tuple[str, ...] = ("generated",),
    limit: int | None = None,
    created_by=None,
) -> SamplingRun:
    """Sample K completions for each prompt (slot i from endpoint i mod n, with that endpoint's parameters).
    Prompts are made from the given sources first; `imported` means prompts already imported."""
    if not endpoints:
        raise AnnotationError("name at least one endpoint", code="invalid")
    config = get_ranking_config(project=project)
    k = per_prompt or config.completions_per_prompt
    if not MIN_K <= k <= MAX_K:
        raise AnnotationError(f"per_prompt must be between {MIN_K} and {MAX_K}, got {k}")
    unknown = set(sources) - {"generated", "seed", "imported"}
    if unknown:
        raise AnnotationError(f"unknown prompt source(s): {sorted(unknown)}")
    plan = []
    for index, (endpoint, params) in enumerate(endpoints):
        field = f"endpoints.{index}"
        require_usable_endpoint(endpoint, project=project, field=f"{field}.name", error=AnnotationError)
        merged = {**DEFAULT_SAMPLING_PARAMS, **validate_params(params, field=f"{field}.params", error=AnnotationError)}
        plan.append({"endpoint": endpoint.name, "endpoint_id": endpoint.pk, "model": endpoint.model, "params": merged})
    collect_prompts(project=project, sources=tuple(s for s in sources if s != "imported"))
    source_values = [{"seed": PromptSource.SEED, "generated": PromptSource.GENERATED}.get(s, s) for s in sources]
    prompts = Prompt.objects.filter(project=project, source__in=source_values).order_by("pk")
    prompt_ids = list(prompts.values_list("pk", flat=True))
    if limit is not None:
        prompt_ids = prompt_ids[:limit]
    if not prompt_ids:
        raise AnnotationError(f"project {project.slug} has no prompts from {', '.join(sources)} to sample for")
    chunks = [prompt_ids[i : i + SAMPLING_CHUNK_PROMPTS] for i in range(0, len(prompt_ids), SAMPLING_CHUNK_PROMPTS)]
    with transaction.atomic():
        run = SamplingRun.objects.create(
            project=project,
            per_prompt=k,
            plan=plan,
            sources=list(sources),
            prompts_total=len(prompt_ids),
            chunks_total=len(chunks),
            created_by=signed_in_or_none(created_by),
            started_at=timezone.now(),
            heartbeat_at=timezone.now(),
        )
        SamplingChunk.objects.bulk_create(
            SamplingChunk(run=run, number=n, prompt_ids=ids) for n, ids in enumerate(chunks)
        )
        transaction.on_commit(lambda: send_sampling_run(run.pk))
    return run


def send_sampling_run(run_id: int) -> None:
    """Send the chunks not done yet (LLM calls only: the default queue)."""
    from annotation.tasks import sampling_chunk_task

    for number in SamplingChunk.objects.filter(run_id=run_id, done=False).values_list("number", flat=True):
        sampling_chunk_task.apply_async((run_id, number), queue=settings.CELERY_TASK_DEFAULT_QUEUE)


def refuse_cancelled(kind, run) -> None:
    if lifecycle.status(kind, run.pk) == RunStatus.CANCELLED:
        raise AnnotationError("status: the run was cancelled", code="conflict")


def resume_sampling_run(*, run: SamplingRun) -> None:
    """Send the chunks not done yet again (after a worker loss, or to retry a failed run); chunks are idempotent:
    a slot that has its completion is skipped."""
    kind = lifecycle.kind("sampling")
    refuse_cancelled(kind, run)
    lifecycle.move(kind, run.pk, RunStatus.RUNNING, among=(RunStatus.FAILED,), error="")
    lifecycle.heartbeat(kind, run.pk)
    transaction.on_commit(lambda: send_sampling_run(run.pk))


def cancel_sampling_run(*, run: SamplingRun) -> None:
    lifecycle.cancel(lifecycle.kind("sampling"), run.pk)


def _messages_for(prompt: Prompt) -> list[dict]:
    return [{"role": "user", "content": prompt_text(prompt.instruction, prompt.input)}]


def run_sampling_chunk(*, run_id: int, number: int) -> None:
    """Fill the missing completion slots of one chunk's prompts, then make their ranking tasks. Safe to run
    twice: a slot that already has its completion is skipped, and the chunk is counted done once. Anything
    unexpected the chunk raises ends the run failed with the error."""
    kind = lifecycle.kind("sampling")
    with lifecycle.failing(kind, run_id, what=f"sampling run {run_id} chunk {number}"), lifecycle.beating(kind, run_id):
        _run_sampling_chunk(run_id, number)


def _run_sampling_chunk(run_id: int, number: int) -> None:
    from llm.models import LLMEndpoint

    run = SamplingRun.objects.select_related("project").get(pk=run_id)
    chunk = SamplingChunk.objects.get(run=run, number=number)
    if chunk.done or run.status != RunStatus.RUNNING:
        return
    endpoints = {e.pk: e for e in LLMEndpoint.objects.filter(pk__in=[p["endpoint_id"] for p in run.plan])}
    config = get_ranking_config(project=run.project)
    failed = 0
    single = 0
    created_total = 0
    for prompt in Prompt.objects.filter(pk__in=chunk.prompt_ids).order_by("pk"):
        if lifecycle.status(lifecycle.kind("sampling"), run_id) != RunStatus.RUNNING:
            return  # cancelled
        have = set(Completion.objects.filter(prompt=prompt, sampling_run=run).values_list("origin_key", flat=True))
        prompt_failed = False
        for slot_no in range(run.per_prompt):
            key = f"run:{run.pk}:{slot_no}"
            if key in have:
                continue
            entry = run.plan[slot_no % len(run.plan)]
            endpoint = endpoints.get(entry["endpoint_id"])
            if endpoint is None:
                prompt_failed = True
                break
            try:
                reply = call_llm(
                    endpoint,
                    purpose="completion",
                    messages=_messages_for(prompt),
                    project_id=run.project_id,
                    **entry["params"],
                )
            except LLMError as exc:
                logger.warning("sampling run %s prompt %s slot %s: %s", run.pk, prompt.pk, slot_no, exc)
                prompt_failed = True
                break
            choice = reply.choices[0]
            if not choice.text.strip():
                prompt_failed = True
                break
            _, created = Completion.objects.get_or_create(
                prompt=prompt,
                origin_key=key,
                defaults={
                    "text": choice.text.strip(),
                    "model": reply.model or endpoint.model,
                    "endpoint": endpoint,
                    "params": entry["params"],
                    "sampling_run": run,
                    "finish_reason": choice.finish_reason or "",
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                    "latency_ms": reply.latency_ms,
                    "llm_request_id": reply.request_id,
                },
            )
            created_total += created
        if prompt_failed:
            failed += 1
            continue
        mine = list(Completion.objects.filter(prompt=prompt, sampling_run=run))
        mine.sort(key=lambda c: int(c.origin_key.rsplit(":", 1)[1]))  # slot order: slot 0 stands for its copies
        made = make_ranking_task(prompt=prompt, origin=f"run:{run.pk}", completions=mine, required=config.overlap)
        single += made.single_answer
    with transaction.atomic():
        if SamplingChunk.objects.filter(pk=chunk.pk, done=False).update(done=True) != 1:
            return  # a redelivered copy finished it first
        SamplingRun.objects.filter(pk=run.pk).update(
            heartbeat_at=timezone.now(),
            chunks_done=F("chunks_done") + 1,
            prompts_done=F("prompts_done") + len(chunk.prompt_ids) - failed,
            prompts_failed=F("prompts_failed") + failed,
            prompts_single_answer=F("prompts_single_answer") + single,
            completions_created=F("completions_created") + created_total,
        )
        run.refresh_from_db()
        if run.chunks_done >= run.chunks_total and run.status == RunStatus.RUNNING:
            status = RunStatus.SUCCEEDED if run.prompts_done else RunStatus.FAILED
            error = f"{run.prompts_failed} prompt(s) got no complete set of completions" if run.prompts_failed else ""
            lifecycle.finish(lifecycle.kind("sampling"), run.pk, status, error=error)
