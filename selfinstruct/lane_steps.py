"""The bookkeeping both stages of a generation lane share: reserving budget for the next request, the request
row, claiming a step under its lane's token, advancing the lane, and recording a failed step."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Sum
from django.utils import timezone

from core.lifecycle import RunStatus
from llm.client import LLMError, LLMReply
from selfinstruct.batches import enqueue_step, finish_batch
from selfinstruct.models import (
    GeneratedInstruction,
    GenerationBatch,
    GenerationLane,
    GenerationRequest,
    InstancesStatus,
    RequestKind,
)
from selfinstruct.prompts import BuiltPrompt


def _estimate(batch: GenerationBatch, prompt: BuiltPrompt) -> tuple[int, Decimal]:
    """Most tokens and cost the next request could use: prompt (largest seen, or chars/2) + max_tokens."""
    seen = GenerationRequest.objects.filter(batch=batch).aggregate(p=Max("prompt_tokens"))["p"] or 0
    prompt_tokens = max(int(seen * 1.2), len(prompt.text) // 2)
    completion = int(batch.params.get("max_tokens", 1024))
    cost = (
        Decimal(prompt_tokens) * batch.endpoint.price_input_per_1k
        + Decimal(completion) * batch.endpoint.price_output_per_1k
    ) / 1000
    return prompt_tokens + completion, cost


def reserve_budget(batch: GenerationBatch, lane_number: int, token, prompt: BuiltPrompt) -> str | None:
    """Hold the next request's worst case against the budgets; a reason to stop when it could exceed one."""
    if batch.token_budget is None and batch.cost_budget is None:
        return None
    tokens, cost = _estimate(batch, prompt)
    with transaction.atomic():
        locked = GenerationBatch.objects.select_for_update().get(pk=batch.pk)
        others = GenerationLane.objects.filter(batch=batch).exclude(number=lane_number)
        held = others.aggregate(t=Sum("reserved_tokens"), c=Sum("reserved_cost"))
        if locked.token_budget is not None and locked.tokens_used + (held["t"] or 0) + tokens > locked.token_budget:
            return f"token budget: the next request could exceed {locked.token_budget} tokens"
        if locked.cost_budget is not None and locked.cost_used + (held["c"] or 0) + cost > locked.cost_budget:
            return f"cost budget: the next request could exceed {locked.cost_budget}"
        GenerationLane.objects.filter(batch=batch, number=lane_number, token=token).update(
            reserved_tokens=tokens, reserved_cost=cost
        )
    return None


def request_row(batch, lane_number, step, prompt: BuiltPrompt, **fields) -> GenerationRequest:
    return GenerationRequest.objects.create(
        batch=batch,
        lane=lane_number,
        step=step,
        prompt=prompt.text,
        demo_seed_ids=[d.id for d in prompt.demos if d.source == "seed"],
        demo_instruction_ids=[d.id for d in prompt.demos if d.source == "machine"],
        **fields,
    )


MAX_INSTANCE_ATTEMPTS = 3


def count_instance_attempt(instruction: GeneratedInstruction) -> None:
    """An attempt at an instruction's instances failed; after three, give up on it and free the lane."""
    GeneratedInstruction.objects.filter(pk=instruction.pk).update(instance_attempts=F("instance_attempts") + 1)
    GeneratedInstruction.objects.filter(pk=instruction.pk, instance_attempts__gte=MAX_INSTANCE_ATTEMPTS).update(
        instances_status=InstancesStatus.FAILED, instances_lane=None
    )


def reply_fields(endpoint, reply: LLMReply) -> dict:
    return {
        "raw_text": reply.text,
        "finish_reason": reply.finish_reason,
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "cost": reply.cost,
        "latency_ms": reply.latency_ms,
        "attempts": reply.attempts,
    }


def claim_step(batch_id: int, lane_number: int, token: str, step: int) -> GenerationLane | None:
    return (
        GenerationLane.objects.select_for_update()
        .filter(batch_id=batch_id, number=lane_number, token=token, step=step)
        .first()
    )


def advance_lane(lane: GenerationLane, *, countdown: float = 0) -> None:
    lane.step += 1
    lane.heartbeat_at = timezone.now()
    lane.reserved_tokens, lane.reserved_cost = 0, Decimal(0)
    lane.save(update_fields=["step", "heartbeat_at", "reserved_tokens", "reserved_cost"])
    enqueue_step(lane, countdown=countdown)


def record_failed_step(
    batch, lane_number, token, step, prompt, exc: LLMError, *, kind=RequestKind.TASKS, instruction=None
) -> None:
    with transaction.atomic():
        lane = claim_step(batch.pk, lane_number, token, step)
        if lane is None:
            return
        request_row(
            batch,
            lane_number,
            step,
            prompt,
            attempts=exc.attempts,
            error=f"{exc.kind}: {exc}"[:4000],
            kind=kind,
            instruction=instruction,
        )
        if instruction is not None:
            count_instance_attempt(instruction)
        GenerationBatch.objects.filter(pk=batch.pk).update(consecutive_failures=F("consecutive_failures") + 1)
        failures = GenerationBatch.objects.values_list("consecutive_failures", flat=True).get(pk=batch.pk)
        if not exc.retryable:
            finish_batch(batch.pk, RunStatus.FAILED, f"{exc.kind}: {exc}")
        elif failures >= settings.GENERATION_MAX_CONSECUTIVE_FAILURES:
            finish_batch(batch.pk, RunStatus.FAILED, f"{failures} requests in a row failed; last: {exc}")
        else:
            advance_lane(lane, countdown=min(60.0, 2.0**failures))
