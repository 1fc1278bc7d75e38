"""Writes for seed tasks."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Min, Sum
from django.utils import timezone

from core import lifecycle
from core.fields import require_whole_number
from core.lifecycle import RunStatus
from core.uploads import spool
from llm.client import LLMError, LLMReply, call_llm
from llm.params import validate_params
from llm.selectors import require_usable_endpoint
from selfinstruct.filters import NEAR_DUPLICATE_THRESHOLD, Reason, check_item, judge_instances
from selfinstruct.models import (
    GeneratedInstance,
    GeneratedInstruction,
    GenerationBatch,
    GenerationLane,
    GenerationRequest,
    InstancesStatus,
    InstructionStatus,
    Language,
    Method,
    PromptTemplate,
    RequestKind,
    SeedTask,
    Stage,
)
from selfinstruct.parsing import ParsedItem, parse_instances, parse_instruction_list, parse_triples, parse_yes_no
from selfinstruct.pool import invalidate_pool, locked_pool
from selfinstruct.prompts import (
    TRIPLE_METHODS,
    BuiltPrompt,
    Demo,
    choose_human_demos,
    render,
    render_classify,
    render_instances,
)
from selfinstruct.seeds import read_seed_file
from selfinstruct.selectors import accepted_count
from selfinstruct.templates_builtin import BUILTINS, DEFAULT_PARAMS, STAGE_TWO_PARAMS
from selfinstruct.text import detect_language, instruction_key, normalize_whitespace


@dataclass(frozen=True)
class ImportResult:
    created: int
    duplicates: int
    by_language: dict[str, int]


def import_seed_upload(*, project, upload, fmt: str = "auto") -> ImportResult:
    """Import an uploaded file (admin form or API): spooled to a private temp file under a safe name (never the
    client's own), then imported all or nothing."""
    with spool([upload]) as [(path, shown)]:
        return import_seed_file(project=project, path=path, display_name=shown, fmt=fmt)


def import_seed_file(*, project, path: Path, display_name: str | None = None, fmt: str = "auto") -> ImportResult:
    """Import a seed file (Self-Instruct/BELLE JSONL, Alpaca JSON list, CSV) into the project, all or nothing.

    Exact duplicates (whitespace-normalized, case-folded instruction), within the file or against the project's
    existing seeds, are skipped and counted. Raises SeedFileError naming file, line and field.
    """
    rows = read_seed_file(Path(path), fmt=fmt, display_name=display_name)
    source = (display_name or Path(path).name)[:200]
    created, duplicates, by_language = 0, 0, {}
    with locked_pool(project.pk):
        seen = set(SeedTask.objects.filter(project=project).values_list("instruction_key", flat=True))
        batch = []
        for row in rows:
            key = instruction_key(row.instruction)
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            language = detect_language(row.instruction + " " + " ".join(i["output"] for i in row.instances))
            by_language[language] = by_language.get(language, 0) + 1
            batch.append(
                SeedTask(
                    project=project,
                    external_id=row.external_id,
                    name=row.name,
                    instruction=normalize_whitespace(row.instruction),
                    instruction_key=key,
                    instances=row.instances,
                    is_classification=row.is_classification,
                    language=language,
                    source=source,
                )
            )
        SeedTask.objects.bulk_create(batch, batch_size=500)
        created = len(batch)
    return ImportResult(created=created, duplicates=duplicates, by_language=by_language)


# --- Templates -------------------------------------------------------------------------------------------------


def ensure_builtin_templates() -> None:
    """Create the built-in templates if missing; edits made in the admin are kept."""
    for name, spec in BUILTINS.items():
        PromptTemplate.objects.get_or_create(name=name, defaults={**spec, "is_builtin": True})


def get_template(*, name: str) -> PromptTemplate:
    ensure_builtin_templates()
    template = PromptTemplate.objects.filter(name=name).first()
    if template is None:
        names = ", ".join(PromptTemplate.objects.values_list("name", flat=True))
        raise BatchError(f"template: no template named {name!r} (have: {names})")
    return template


def save_template(*, template: PromptTemplate) -> PromptTemplate:
    """Save an edited template as a new version (batches keep the snapshot they started with)."""
    if template.pk:
        template.version = PromptTemplate.objects.get(pk=template.pk).version + 1
    template.full_clean()
    template.save()
    return template


def template_snapshot(template: PromptTemplate) -> dict:
    return {
        "name": template.name,
        "version": template.version,
        "method": template.method,
        "body": template.body,
        "topic_line": template.topic_line,
        "num_demos": template.num_demos,
        "num_machine_demos": template.num_machine_demos,
        "num_tasks": template.num_tasks,
    }


# --- Batches ---------------------------------------------------------------------------------------------------


class BatchError(ValueError):
    """A batch that cannot be started or changed, with the field or state at fault."""


# The template sets `stop`; these are the decoding parameters a batch may override (ranges: llm.params).
ALLOWED_PARAMS = ("temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty", "seed")


def start_batch(
    *,
    project,
    endpoint,
    template_name: str,
    target: int,
    language: str | None = None,
    topic: str = "",
    params: dict | None = None,
    token_budget: int | None = None,
    cost_budget: Decimal | None = None,
    created_by=None,
    seed: int = 0,
) -> GenerationBatch:
    template = get_template(name=template_name)
    language = language or ("zh" if template.method == Method.BELLE else "en")
    if language not in Language.values:
        raise BatchError(f"language: must be one of {Language.values}, got {language!r}")
    if target < 1:
        raise BatchError("target: must be at least 1")
    require_whole_number(seed, field="seed", error=BatchError)
    if token_budget is not None:
        require_whole_number(token_budget, field="token_budget", low=1, error=BatchError)
    require_usable_endpoint(endpoint, project=project, field="endpoint", error=BatchError)
    params = validate_params(params, field="params", allowed=ALLOWED_PARAMS, error=BatchError)
    if not SeedTask.objects.filter(project=project, language=language).exists():
        raise BatchError(f"language: project {project.slug} has no {language} seed tasks to use as demonstrations")
    per_request = max(1, template.num_tasks - (template.num_demos if template.method != Method.SELF_INSTRUCT else 1))
    lanes = max(1, min(endpoint.max_concurrency, settings.GENERATION_MAX_LANES, -(-target // per_request)))
    with transaction.atomic():
        batch = GenerationBatch.objects.create(
            project=project,
            endpoint=endpoint,
            template=template,
            template_snapshot=template_snapshot(template),
            language=language,
            target=target,
            topic=topic.strip(),
            params={**DEFAULT_PARAMS[template.method], **(params or {})},
            token_budget=token_budget,
            cost_budget=cost_budget,
            lanes=lanes,
            created_by=created_by,
            seed=seed,
        )
        now = timezone.now()
        for number in range(lanes):
            lane = GenerationLane.objects.create(batch=batch, number=number, token=uuid.uuid4(), heartbeat_at=now)
            _enqueue_step(lane)
    return batch


def _enqueue_step(lane: GenerationLane, countdown: float = 0) -> None:
    """LLM calls only: the default queue."""
    from selfinstruct.tasks import generation_step_task

    args = (lane.batch_id, lane.number, str(lane.token), lane.step)
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    transaction.on_commit(lambda: generation_step_task.apply_async(args, countdown=countdown, queue=queue))


def _kind():
    return lifecycle.kind("generation")


def _finish(batch_id: int, status: str, reason: str) -> bool:
    """A running batch ends (succeeded / failed) with the reason it stopped."""
    return lifecycle.finish(_kind(), batch_id, status, stop_reason=reason[:300])


def pause_batch(*, batch: GenerationBatch) -> None:
    if not lifecycle.move(_kind(), batch.pk, RunStatus.PAUSED):
        raise BatchError(f"status: only a running batch can be paused (batch {batch.pk} is {_status(batch)})")


def resume_batch(*, batch: GenerationBatch) -> None:
    with transaction.atomic():
        if not lifecycle.move(_kind(), batch.pk, RunStatus.RUNNING, among=(RunStatus.PAUSED,), consecutive_failures=0):
            raise BatchError(f"status: only a paused batch can be resumed (batch {batch.pk} is {_status(batch)})")
        for lane in GenerationLane.objects.filter(batch=batch):
            _restart_lane(lane)


def cancel_batch(*, batch: GenerationBatch) -> None:
    if not lifecycle.move(_kind(), batch.pk, RunStatus.CANCELLED, stop_reason="cancelled"):
        raise BatchError(f"status: batch {batch.pk} is already {_status(batch)}")


def _status(batch: GenerationBatch) -> str:
    return GenerationBatch.objects.values_list("status", flat=True).get(pk=batch.pk)


def _restart_lane(lane: GenerationLane) -> bool:
    """Give the lane a new token (an older chain still alive will stop) and queue its next step."""
    new_token = uuid.uuid4()
    moved = GenerationLane.objects.filter(pk=lane.pk, token=lane.token).update(
        token=new_token, heartbeat_at=timezone.now(), reserved_tokens=0, reserved_cost=0
    )
    if moved:
        lane.token = new_token
        _enqueue_step(lane)
    return bool(moved)


def send_batch(batch_id: int) -> None:
    """Restart every lane of a running batch (new tokens: any older chain still alive stops)."""
    with transaction.atomic():
        for lane in GenerationLane.objects.filter(batch_id=batch_id, batch__status=RunStatus.RUNNING):
            _restart_lane(lane)


def restart_stalled_lanes(*, stale_seconds: float | None = None) -> int:
    """Restart the lanes of running batches whose heartbeat stopped (a killed worker, a lost message)."""
    stale = settings.GENERATION_LANE_STALE_SECONDS if stale_seconds is None else stale_seconds
    cutoff = timezone.now() - timedelta(seconds=stale)
    restarted = 0
    for lane in GenerationLane.objects.filter(batch__status=RunStatus.RUNNING, heartbeat_at__lt=cutoff):
        with transaction.atomic():
            restarted += _restart_lane(lane)
    return restarted


def _human_demos(batch: GenerationBatch, n: int, rng: random.Random) -> list[Demo]:
    seeds = [
        Demo("seed", seed_id, text, (instances or [{}])[0].get("input", ""), (instances or [{}])[0].get("output", ""))
        for seed_id, text, instances in SeedTask.objects.filter(project=batch.project, language=batch.language)
        .order_by("id")
        .values_list("id", "instruction", "instances")
    ]
    return choose_human_demos(seeds, n, rng, batch.topic)


def _machine_demos(batch: GenerationBatch, n: int, rng: random.Random) -> list[Demo]:
    pool = GeneratedInstruction.objects.filter(
        project=batch.project, status=InstructionStatus.ACCEPTED, language=batch.language
    )
    bounds = pool.aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        return []
    demos: dict[int, Demo] = {}
    for _ in range(n * 3):
        row = pool.filter(id__gte=rng.randint(bounds["low"], bounds["high"])).order_by("id").first()
        if row and row.id not in demos:
            demos[row.id] = Demo("machine", row.id, row.instruction, row.input, row.output)
        if len(demos) == n:
            break
    return list(demos.values())


def build_prompt(batch: GenerationBatch, lane: int, step: int) -> BuiltPrompt:
    snapshot = batch.template_snapshot
    rng = random.Random(f"{batch.seed}:{batch.pk}:{lane}:{step}")
    machine = _machine_demos(batch, snapshot["num_machine_demos"], rng) if snapshot["num_machine_demos"] else []
    human = _human_demos(batch, snapshot["num_demos"] - len(machine), rng)
    demos = human + machine
    if snapshot["method"] == Method.SELF_INSTRUCT:
        rng.shuffle(demos)
    return render(snapshot, demos=demos, language=batch.language, topic=batch.topic)


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


def _reserve_budget(batch: GenerationBatch, lane_number: int, token, prompt: BuiltPrompt) -> str | None:
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


def run_generation_step(*, batch_id: int, lane_number: int, token: str, step: int) -> None:
    """One request of one lane. Idempotent: a stale token or an already-done step is a no-op. Anything unexpected
    it raises ends the batch failed with the error (LLM errors are counted, not raised)."""
    with lifecycle.failing(_kind(), batch_id, what=f"batch {batch_id} lane {lane_number} step {step}"):
        _run_generation_step(batch_id, lane_number, token, step)


def _run_generation_step(batch_id: int, lane_number: int, token: str, step: int) -> None:
    lane = GenerationLane.objects.filter(batch_id=batch_id, number=lane_number, token=token, step=step).first()
    if lane is None:
        return
    batch = GenerationBatch.objects.select_related("endpoint", "project").get(pk=batch_id)
    if batch.status != RunStatus.RUNNING:
        return
    if batch.stage == Stage.INSTANCES:
        _run_instance_step(batch, lane, step)
        return
    if accepted_count(batch_id) >= batch.target:
        with transaction.atomic():
            _target_reached(batch, lane)
        return
    prompt = build_prompt(batch, lane_number, step)
    stop_reason = _reserve_budget(batch, lane_number, token, prompt)
    if stop_reason:
        _finish(batch_id, RunStatus.SUCCEEDED, stop_reason)
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
        _record_failed_step(batch, lane_number, token, step, prompt, exc)
        return
    _record_step(batch, lane_number, token, step, prompt, reply)


def _request_row(batch, lane_number, step, prompt: BuiltPrompt, **fields) -> GenerationRequest:
    return GenerationRequest.objects.create(
        batch=batch,
        lane=lane_number,
        step=step,
        prompt=prompt.text,
        demo_seed_ids=[d.id for d in prompt.demos if d.source == "seed"],
        demo_instruction_ids=[d.id for d in prompt.demos if d.source == "machine"],
        **fields,
    )


def _target_reached(batch: GenerationBatch, lane: GenerationLane) -> None:
    """Inside a transaction: finish, or — for Self-Instruct — move on to classifying and writing instances."""
    if _wants_instances(batch):
        # Accepted rows are already pending (see _judge), including those a lane commits after this switch.
        GenerationBatch.objects.filter(pk=batch.pk, stage=Stage.INSTRUCTIONS).update(stage=Stage.INSTANCES)
        _advance(lane)
        return
    lane.reserved_tokens, lane.reserved_cost = 0, Decimal(0)
    lane.save(update_fields=["reserved_tokens", "reserved_cost"])
    _finish(batch.pk, RunStatus.SUCCEEDED, "target reached")


# --- Self-Instruct's second stage: classification identification and instances ---------------------------------

MAX_INSTANCE_ATTEMPTS = 3


def _count_instance_attempt(instruction: GeneratedInstruction) -> None:
    """An attempt at an instruction's instances failed; after three, give up on it and free the lane."""
    GeneratedInstruction.objects.filter(pk=instruction.pk).update(instance_attempts=F("instance_attempts") + 1)
    GeneratedInstruction.objects.filter(pk=instruction.pk, instance_attempts__gte=MAX_INSTANCE_ATTEMPTS).update(
        instances_status=InstancesStatus.FAILED, instances_lane=None
    )


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
        _finish(batch.pk, RunStatus.SUCCEEDED, "target reached; instances written")


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


def _run_instance_step(batch: GenerationBatch, lane: GenerationLane, step: int) -> None:
    token = str(lane.token)
    instruction = _claim_instruction(batch, lane.number)
    if instruction is None:
        _finish_instances_if_done(batch)
        return  # nothing left for this lane; lanes still working finish the batch
    rng = random.Random(f"{batch.seed}:{batch.pk}:{lane.number}:{step}:instances")
    classify_text, classify_stop = render_classify(instruction.instruction, batch.language)
    classify_prompt = BuiltPrompt(classify_text, [], classify_stop, 0)
    budget_probe = BuiltPrompt(classify_text * 3, [], [], 0)  # instance prompts are about this size
    stop_reason = _reserve_budget(batch, lane.number, token, budget_probe)
    if stop_reason:
        _finish(batch.pk, RunStatus.SUCCEEDED, stop_reason)
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
            _record_failed_step(
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
        _record_failed_step(
            batch, lane.number, token, step, instance_prompt, exc, kind=RequestKind.INSTANCES, instruction=instruction
        )
        return
    pairs = parse_instances(reply.text, classification=is_classification)
    reasons = judge_instances(pairs)
    with transaction.atomic():
        claimed = _claim_step(batch.pk, lane.number, token, step)
        if claimed is None:
            return
        used = 0
        cost = Decimal(0)
        if classify_reply is not None:
            cost += classify_reply.cost
            used += classify_reply.prompt_tokens + classify_reply.completion_tokens
            _request_row(
                batch,
                lane.number,
                step,
                classify_prompt,
                kind=RequestKind.CLASSIFY,
                instruction=instruction,
                **_reply_fields(batch.endpoint, classify_reply),
            )
        cost += reply.cost
        used += reply.prompt_tokens + reply.completion_tokens
        request = _request_row(
            batch,
            lane.number,
            step,
            instance_prompt,
            kind=RequestKind.INSTANCES,
            instruction=instruction,
            parsed=len(pairs),
            accepted=reasons.count(None),
            **_reply_fields(batch.endpoint, reply),
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
            _count_instance_attempt(instruction)
        GenerationBatch.objects.filter(pk=batch.pk).update(
            consecutive_failures=0, tokens_used=F("tokens_used") + used, cost_used=F("cost_used") + cost
        )
        _advance(claimed)
        _finish_instances_if_done(batch)


def _reply_fields(endpoint, reply: LLMReply) -> dict:
    return {
        "raw_text": reply.text,
        "finish_reason": reply.finish_reason,
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "cost": reply.cost,
        "latency_ms": reply.latency_ms,
        "attempts": reply.attempts,
    }


def _claim_step(batch_id: int, lane_number: int, token: str, step: int) -> GenerationLane | None:
    return (
        GenerationLane.objects.select_for_update()
        .filter(batch_id=batch_id, number=lane_number, token=token, step=step)
        .first()
    )


def _advance(lane: GenerationLane, *, countdown: float = 0) -> None:
    lane.step += 1
    lane.heartbeat_at = timezone.now()
    lane.reserved_tokens, lane.reserved_cost = 0, Decimal(0)
    lane.save(update_fields=["step", "heartbeat_at", "reserved_tokens", "reserved_cost"])
    _enqueue_step(lane, countdown=countdown)


def _record_failed_step(
    batch, lane_number, token, step, prompt, exc: LLMError, *, kind=RequestKind.TASKS, instruction=None
) -> None:
    with transaction.atomic():
        lane = _claim_step(batch.pk, lane_number, token, step)
        if lane is None:
            return
        _request_row(
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
            _count_instance_attempt(instruction)
        GenerationBatch.objects.filter(pk=batch.pk).update(consecutive_failures=F("consecutive_failures") + 1)
        failures = GenerationBatch.objects.values_list("consecutive_failures", flat=True).get(pk=batch.pk)
        if not exc.retryable:
            _finish(batch.pk, RunStatus.FAILED, f"{exc.kind}: {exc}")
        elif failures >= settings.GENERATION_MAX_CONSECUTIVE_FAILURES:
            _finish(batch.pk, RunStatus.FAILED, f"{failures} requests in a row failed; last: {exc}")
        else:
            _advance(lane, countdown=min(60.0, 2.0**failures))


def _record_step(batch, lane_number, token, step, prompt: BuiltPrompt, reply: LLMReply) -> None:
    snapshot = batch.template_snapshot
    triples = snapshot["method"] in TRIPLE_METHODS
    parse = parse_triples if triples else parse_instruction_list
    items = parse(reply.text, finish_reason=reply.finish_reason)
    if snapshot["method"] == Method.SELF_INSTRUCT and reply.finish_reason == "length":
        items = [replace(item, truncated=True) for item in items]  # Self-Instruct drops the whole reply
    cost = reply.cost
    with locked_pool(batch.project_id) as pool:
        lane = _claim_step(batch.pk, lane_number, token, step)
        if lane is None:
            return  # another delivery of this step already recorded it
        request = _request_row(
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
        accepted = sum(_judge(batch, request, item, pool, expects_output=triples) for item in items)
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
            _finish(
                batch.pk,
                RunStatus.FAILED,
                f"stalled: the last {fruitless} replies added no new instruction "
                "(the pool looks saturated for this endpoint and template)",
            )
        else:
            _advance(lane)


def _judge(batch, request, item: ParsedItem, pool, *, expects_output: bool) -> bool:
    """Filter one parsed item against the rules and the pool; store it accepted or rejected. True if accepted."""
    key = instruction_key(item.instruction)
    reason = check_item(item, language=batch.language, expects_output=expects_output)
    similar: list[tuple[str, float]] = []
    if reason is None and key in pool.keys:
        reason = Reason.DUPLICATE
    if reason is None:
        # The threshold probe decides (fast at any pool size); only an accepted row pays for the exact top 10
        # over the whole pool. A rejected row keeps the (up to 10) closest items above the threshold.
        similar = pool.index.near_duplicates(item.instruction, NEAR_DUPLICATE_THRESHOLD, k=10)
        if similar:
            reason = Reason.NEAR_DUPLICATE
        else:
            similar = pool.index.most_similar(item.instruction, k=10)
    row = GeneratedInstruction.objects.create(
        project_id=batch.project_id,
        batch=batch,
        request=request,
        instruction=item.instruction,
        input=item.input,
        output=item.output,
        instruction_key=key,
        language=batch.language,
        status=InstructionStatus.REJECTED if reason else InstructionStatus.ACCEPTED,
        reason=reason or "",
        instances_status=InstancesStatus.PENDING if not reason and _wants_instances(batch) else InstancesStatus.NONE,
        most_similar=[[pool.texts[item_id], round(score, 4)] for item_id, score in similar],
        max_similarity=similar[0][1] if similar else 0.0,
        avg_similarity=sum(s for _, s in similar) / len(similar) if similar else 0.0,
    )
    if reason:
        return False
    pool.index.add(f"g{row.pk}", row.instruction)
    pool.texts[f"g{row.pk}"] = row.instruction
    pool.keys.add(key)
    pool.instruction_hwm = row.pk
    return True


def _wants_instances(batch: GenerationBatch) -> bool:
    return batch.template_snapshot["method"] == Method.SELF_INSTRUCT and batch.generate_instances


def review_instructions(*, instructions, accept: bool, reviewer) -> tuple[int, int]:
    """Bulk accept or reject (admin review). Accepting an exact duplicate of an accepted row is skipped.
    Returns (changed, skipped)."""
    changed = skipped = 0
    for row in instructions:
        with locked_pool(row.project_id) as pool:
            if accept:
                if row.status == InstructionStatus.ACCEPTED:
                    continue
                if row.instruction_key in pool.keys:
                    skipped += 1
                    continue
                GeneratedInstruction.objects.filter(pk=row.pk).update(
                    status=InstructionStatus.ACCEPTED, reason="", reviewed_by=reviewer
                )
            else:
                if row.status == InstructionStatus.REJECTED:
                    continue
                GeneratedInstruction.objects.filter(pk=row.pk).update(
                    status=InstructionStatus.REJECTED, reason=Reason.REVIEWER, reviewed_by=reviewer
                )
            invalidate_pool(row.project_id)  # every process's index rebuilds on its next use
            changed += 1
    return changed, skipped
