"""Self-Instruct's second stage: after the target, each accepted instruction is classified (classification
or not) and gets input/output instances, claimed by lanes one instruction at a time with bounded attempts."""

from __future__ import annotations

import random
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.lifecycle import RunStatus
from llm.client import LLMError, call_llm
from selfinstruct.batches import finish_batch
from selfinstruct.filters import judge_instances
from selfinstruct.lane_steps import (
    advance_lane,
    claim_step,
    count_instance_attempt,
    record_failed_step,
    reply_fields,
    request_row,
    reserve_budget,
)
from selfinstruct.models import (
    GeneratedInstance,
    GeneratedInstruction,
    GenerationBatch,
    GenerationLane,
    InstancesStatus,
    InstructionStatus,
    RequestKind,
    SeedTask,
)
from selfinstruct.parsing import parse_instances, parse_yes_no
from selfinstruct.prompts import (
    BuiltPrompt,
    Demo,
    render_classify,
    render_instances,
)
from selfinstruct.templates_builtin import STAGE_TWO_PARAMS


def _claim_instruction(batch: GenerationBatch, lane_number: int) -> GeneratedInstruction | None:
    """The instruction this lane is working on (after a restart), or the next pending one, claimed atomically."""
    rows = GeneratedInstruction.objects.filter(batch=batch, status=InstructionStatus.ACCEPTED)
    held = rows.filter(instances_status=InstancesStatus.WORKING, instances_lane=lane_number).first()
    if held:
        return held
    for row_id in (
        rows.filter(instances_status=InstancesStatus.PENDING).order_by("id").values_list("id", flat=True)[:16]
    ):
        if rows.filter(pk=row_id, instances_status=InstancesStatus.PENDING).update(
            instances_status=InstancesStatus.WORKING, instances_lane=lane_number
        ):
            return rows.get(pk=row_id)
    return None


def _finish_instances_if_done(batch: GenerationBatch) -> None:
    open_work = GeneratedInstruction.objects.filter(
        batch=batch, instances_status__in=[InstancesStatus.PENDING, InstancesStatus.WORKING]
    )
    if not open_work.exists():
        finish_batch(batch.pk, RunStatus.SUCCEEDED, "target reached; instances written")


def _instance_demos(batch: GenerationBatch, classification: bool, rng: random.Random) -> list[Demo]:
    demos = []
    for seed_id, text, instances in (
        SeedTask.objects.filter(project=batch.project, language=batch.language, is_classification=classification)
        .order_by("id")
        .values_list("id", "instruction", "instances")
    ):
        usable = [i for i in instances if i.get("output")]
        if usable:
            first = usable[0]
            demos.append(Demo("seed", seed_id, text, first.get("input", ""), first["output"]))
    return rng.sample(demos, min(2, len(demos)))


def run_instance_step(batch: GenerationBatch, lane: GenerationLane, step: int) -> None:
    """One step of a lane in the instances stage (engine.run_generation_step dispatches here): claim an
    instruction, classify it when not known yet, ask for its instances, and record them under the step's claim."""
    token = str(lane.token)
    instruction = _claim_instruction(batch, lane.number)
    if instruction is None:
        _finish_instances_if_done(batch)
        return  # nothing left for this lane; lanes still working finish the batch
    rng = random.Random(f"{batch.seed}:{batch.pk}:{lane.number}:{step}:instances")
    classify_text, classify_stop = render_classify(instruction.instruction, batch.language)
    classify_prompt = BuiltPrompt(classify_text, [], classify_stop, 0)
    budget_probe = BuiltPrompt(classify_text * 3, [], [], 0)  # instance prompts are about this size
    stop_reason = reserve_budget(batch, lane.number, token, budget_probe)
    if stop_reason:
        finish_batch(batch.pk, RunStatus.SUCCEEDED, stop_reason)
        return
    GenerationLane.objects.filter(pk=lane.pk, token=token).update(heartbeat_at=timezone.now())
    classify_reply = None
    is_classification = instruction.is_classification
    if is_classification is None:
        try:
            classify_reply = call_llm(
                batch.endpoint,
                purpose="generation-classify",
                prompt=classify_text,
                project_id=batch.project_id,
                stop=classify_stop,
                **STAGE_TWO_PARAMS["classify"],
            )
        except LLMError as exc:
            record_failed_step(
                batch,
                lane.number,
                token,
                step,
                classify_prompt,
                exc,
                kind=RequestKind.CLASSIFY,
                instruction=instruction,
            )
            return
        is_classification = bool(parse_yes_no(classify_reply.text))
    demos = _instance_demos(batch, is_classification, rng)
    instance_text = render_instances(
        instruction.instruction, batch.language, classification=is_classification, demos=demos
    )
    instance_prompt = BuiltPrompt(instance_text, demos, [], 0)
    try:
        reply = call_llm(
            batch.endpoint,
            purpose="generation-instances",
            prompt=instance_text,
            project_id=batch.project_id,
            **STAGE_TWO_PARAMS["instances"],
        )
    except LLMError as exc:
        record_failed_step(
            batch, lane.number, token, step, instance_prompt, exc, kind=RequestKind.INSTANCES, instruction=instruction
        )
        return
    pairs = parse_instances(reply.text, classification=is_classification)
    reasons = judge_instances(pairs)
    with transaction.atomic():
        claimed = claim_step(batch.pk, lane.number, token, step)
        if claimed is None:
            return
        used = 0
        cost = Decimal(0)
        if classify_reply is not None:
            cost += classify_reply.cost
            used += classify_reply.prompt_tokens + classify_reply.completion_tokens
            request_row(
                batch,
                lane.number,
                step,
                classify_prompt,
                kind=RequestKind.CLASSIFY,
                instruction=instruction,
                **reply_fields(batch.endpoint, classify_reply),
            )
        cost += reply.cost
        used += reply.prompt_tokens + reply.completion_tokens
        request = request_row(
            batch,
            lane.number,
            step,
            instance_prompt,
            kind=RequestKind.INSTANCES,
            instruction=instruction,
            parsed=len(pairs),
            accepted=reasons.count(None),
            **reply_fields(batch.endpoint, reply),
        )
        GeneratedInstance.objects.bulk_create(
            [
                GeneratedInstance(
                    instruction=instruction,
                    request=request,
                    input=inp,
                    output=out,
                    status=InstructionStatus.REJECTED if why else InstructionStatus.ACCEPTED,
                    reason=why or "",
                )
                for (inp, out), why in zip(pairs, reasons, strict=True)
            ]
        )
        instruction.is_classification = is_classification
        instruction.save(update_fields=["is_classification"])
        if None in reasons:
            GeneratedInstruction.objects.filter(pk=instruction.pk).update(
                instances_status=InstancesStatus.DONE, instances_lane=None
            )
        else:
            count_instance_attempt(instruction)
        GenerationBatch.objects.filter(pk=batch.pk).update(
            consecutive_failures=0, tokens_used=F("tokens_used") + used, cost_used=F("cost_used") + cost
        )
        advance_lane(claimed)
        _finish_instances_if_done(batch)
