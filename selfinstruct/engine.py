"""The generation engine: one step of one lane. `run_generation_step` is the one entry (the task calls it) and
the one place a step is dispatched by the batch's stage: the instructions stage is here, Self-Instruct's instances
stage in `instances`. A step of the first stage builds the prompt from demonstrations, reserves budget, calls the
teacher, parses, filters and checks near-duplicates under the pool lock, records the request and what it accepted or
rejected, and chains the lane's next step (or stops the batch with its reason). The prompt is built in
`step_prompt`, each item judged in `acceptance`, and the lane bookkeeping both stages share is in `lane_steps`.

Imports run one way: engine → instances → lane_steps → batches; the batches module reaches the Celery task only
through `enqueue_step`'s function-local import (tasks → engine is the shell calling its service)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import lifecycle
from core.lifecycle import RunStatus
from llm.client import LLMError, LLMReply, call_llm
from llm.tagging import TaggingError, Tags, tag
from selfinstruct.acceptance import evolution_lineage, judge_item, wants_instances
from selfinstruct.batches import batch_kind, finish_batch
from selfinstruct.evolution import elimination_reason, parse_evolved, render_equality, says_equal
from selfinstruct.filters import NEAR_DUPLICATE_THRESHOLD, Reason, check_item
from selfinstruct.instances import run_instance_step
from selfinstruct.lane_steps import (
    advance_lane,
    claim_step,
    record_failed_step,
    request_row,
    reserve_budget,
)
from selfinstruct.models import GenerationBatch, GenerationLane, Method, Stage
from selfinstruct.parsing import ParsedItem, parse_instruction_list, parse_triples
from selfinstruct.pool import locked_pool, look_ahead
from selfinstruct.prompts import TRIPLE_METHODS, BuiltPrompt
from selfinstruct.selectors import accepted_count
from selfinstruct.step_prompt import build_prompt
from selfinstruct.taxonomy import taxonomy_for


def run_generation_step(*, batch_id: int, lane_number: int, token: str, step: int) -> None:
    """One request of one lane. Idempotent: a stale token or an already-done step is a no-op. Anything unexpected
    it raises ends the batch failed with the error (LLM errors are counted, not raised)."""
    with lifecycle.failing(batch_kind(), batch_id, what=f"batch {batch_id} lane {lane_number} step {step}"):
        _run_generation_step(batch_id, lane_number, token, step)


def _run_generation_step(batch_id: int, lane_number: int, token: str, step: int) -> None:
    lane = GenerationLane.objects.filter(batch_id=batch_id, number=lane_number, token=token, step=step).first()
    if lane is None:
        return
    batch = GenerationBatch.objects.select_related("endpoint", "project").get(pk=batch_id)
    if batch.status != RunStatus.RUNNING:
        return
    _STAGE_STEPS[batch.stage](batch, lane, step)


def _run_instruction_step(batch: GenerationBatch, lane: GenerationLane, step: int) -> None:
    batch_id, lane_number, token = batch.pk, lane.number, str(lane.token)
    if accepted_count(batch_id) >= batch.target:
        with transaction.atomic():
            _target_reached(batch, lane)
        return
    prompt = build_prompt(batch, lane_number, step)
    stop_reason = reserve_budget(batch, lane_number, token, prompt)
    if stop_reason:
        finish_batch(batch_id, RunStatus.SUCCEEDED, stop_reason)
        return
    GenerationLane.objects.filter(pk=lane.pk, token=token).update(heartbeat_at=timezone.now())
    try:
        reply = call_llm(
            batch.endpoint,
            purpose="generation",
            prompt=prompt.text,
            project_id=batch.project_id,
            stop=prompt.stop,
            **batch.params,
        )
    except LLMError as exc:
        record_failed_step(batch, lane_number, token, step, prompt, exc)
        return
    if prompt.evolution:
        try:
            evolved, reply = _evolved_item(batch, prompt, reply)
        except LLMError as exc:
            record_failed_step(batch, lane_number, token, step, prompt, exc)
            return
        _record_step(batch, lane_number, token, step, prompt, reply, evolved=evolved)
        return
    _record_step(batch, lane_number, token, step, prompt, reply)


# Where a lane's step goes, by the batch's stage (`_target_reached` moves Self-Instruct batches to the second).
_STAGE_STEPS = {Stage.INSTRUCTIONS: _run_instruction_step, Stage.INSTANCES: run_instance_step}


def _evolved_item(batch: GenerationBatch, prompt: BuiltPrompt, reply: LLMReply):
    """((the child instruction of an Evol-Instruct reply, the elimination rule it breaks or None), the reply with
    the step's whole usage). The teacher is asked whether the child gains anything over its parent only when every
    other rule passed; that question's tokens and cost count towards the step (and the batch's budgets)."""
    parent = prompt.demos[0]
    item = ParsedItem(instruction=parse_evolved(reply.text), truncated=reply.finish_reason == "length")
    reason = elimination_reason(parent.instruction, item.instruction)
    if reason is None and check_item(item, language=batch.language, expects_output=False) is None:
        answer = call_llm(
            batch.endpoint,
            purpose="generation",
            prompt=render_equality(parent=parent.instruction, child=item.instruction, language=batch.language),
            project_id=batch.project_id,
            temperature=0.0,
            max_tokens=8,
        )
        if says_equal(answer.text):
            reason = Reason.EVOL_NO_GAIN
        reply = _with_usage_of(reply, answer)
    return (item, reason), reply


def _with_usage_of(reply: LLMReply, other: LLMReply) -> LLMReply:
    """The step's reply with a side call's tokens and cost added (so the request row and the budgets count it)."""
    return replace(
        reply,
        prompt_tokens=reply.prompt_tokens + other.prompt_tokens,
        completion_tokens=reply.completion_tokens + other.completion_tokens,
        cost=reply.cost + other.cost,
    )


def _target_reached(batch: GenerationBatch, lane: GenerationLane) -> None:
    """Inside a transaction: finish, or — for Self-Instruct — move on to classifying and writing instances."""
    if wants_instances(batch):
        # Accepted rows are already pending (see judge_item), including those a lane commits after this switch.
        GenerationBatch.objects.filter(pk=batch.pk, stage=Stage.INSTRUCTIONS).update(stage=Stage.INSTANCES)
        advance_lane(lane)
        return
    lane.reserved_tokens, lane.reserved_cost = 0, Decimal(0)
    lane.save(update_fields=["reserved_tokens", "reserved_cost"])
    finish_batch(batch.pk, RunStatus.SUCCEEDED, "target reached")


def _record_step(
    batch, lane_number, token, step, prompt: BuiltPrompt, reply: LLMReply, *, evolved: tuple | None = None
) -> None:
    snapshot = batch.template_snapshot
    triples = snapshot["method"] in TRIPLE_METHODS
    if evolved is not None:
        items, evolution = [evolved[0]], evolution_lineage(prompt, eliminated=evolved[1])
    else:
        parse = parse_triples if triples else parse_instruction_list
        items, evolution = parse(reply.text, finish_reason=reply.finish_reason), None
    if snapshot["method"] == Method.SELF_INSTRUCT and reply.finish_reason == "length":
        items = [replace(item, truncated=True) for item in items]  # Self-Instruct drops the whole reply
    tags: dict[str, Tags] = {}
    if batch.type_quotas:  # each item's task type decides whether its type still has room
        try:
            tags, reply = _tag_items(batch, items, reply, expects_output=triples)
        except LLMError as exc:
            record_failed_step(batch, lane_number, token, step, prompt, exc)
            return
    cost = reply.cost
    # The exact top 10 that accepted rows keep is the costly part of the pool check: worked out before the lock
    # against this process's copy of the pool; under the lock only rows added since are scored.
    eliminated = evolution is not None and evolution["eliminated"]
    ahead = look_ahead(
        batch.project_id,
        [
            item.instruction
            for item in items
            if not eliminated and check_item(item, language=batch.language, expects_output=triples) is None
        ],
        NEAR_DUPLICATE_THRESHOLD,
    )
    with locked_pool(batch.project_id) as pool:
        lane = claim_step(batch.pk, lane_number, token, step)
        if lane is None:
            return  # another delivery of this step already recorded it
        request = request_row(
            batch,
            lane_number,
            step,
            prompt,
            raw_text=reply.text,
            finish_reason=reply.finish_reason,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            cost=cost,
            latency_ms=reply.latency_ms,
            attempts=reply.attempts,
            parsed=len(items),
        )
        accepted = sum(
            judge_item(
                batch,
                request,
                item,
                pool,
                ahead,
                expects_output=triples,
                evolution=evolution,
                tags=tags.get(item.instruction),
            )
            for item in items
        )
        request.accepted = accepted
        request.save(update_fields=["accepted"])
        GenerationBatch.objects.filter(pk=batch.pk).update(
            consecutive_failures=0,
            requests_since_accept=0 if accepted else F("requests_since_accept") + 1,
            tokens_used=F("tokens_used") + reply.prompt_tokens + reply.completion_tokens,
            cost_used=F("cost_used") + cost,
        )
        fruitless = GenerationBatch.objects.values_list("requests_since_accept", flat=True).get(pk=batch.pk)
        if accepted_count(batch.pk) >= batch.target:
            _target_reached(batch, lane)
        elif fruitless >= settings.GENERATION_STALL_REQUESTS:
            finish_batch(
                batch.pk,
                RunStatus.FAILED,
                f"stalled: the last {fruitless} replies added no new instruction "
                "(the pool looks saturated for this endpoint and template)",
            )
        else:
            advance_lane(lane)


def _tag_items(batch, items: list[ParsedItem], reply: LLMReply, *, expects_output: bool):
    """Tags of the items that pass the rules on their own, asked of the batch's endpoint (an item whose reply does
    not read stays untagged and no quota applies to it); the tagging calls' usage counts towards the step."""
    tags: dict[str, Tags] = {}
    types = taxonomy_for(batch.project_id).tagger_types()
    for item in items:
        if item.instruction in tags or check_item(item, language=batch.language, expects_output=expects_output):
            continue
        try:
            tags[item.instruction], answer = tag(
                batch.endpoint, instruction=item.instruction, types=types, project_id=batch.project_id
            )
        except TaggingError:
            continue
        reply = _with_usage_of(reply, answer)
    return tags, reply
