"""The generation engine: one step of one lane. Builds the prompt from demonstrations, reserves budget, calls
the teacher, parses, filters and checks near-duplicates under the pool lock, records the request and what it
accepted or rejected, and chains the lane's next step (or stops the batch with its reason)."""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Min, Sum
from django.utils import timezone

from core import lifecycle
from core.lifecycle import RunStatus
from llm.client import LLMError, LLMReply, call_llm
from llm.tagging import TaggingError, Tags, tag
from selfinstruct.batches import batch_kind, enqueue_step, finish_batch
from selfinstruct.evolution import (
    MAX_DEPTH,
    OPERATIONS,
    elimination_reason,
    parse_evolved,
    render_equality,
    render_evolution,
    says_equal,
)
from selfinstruct.filters import NEAR_DUPLICATE_THRESHOLD, Reason, check_item
from selfinstruct.models import (
    GeneratedInstruction,
    GenerationBatch,
    GenerationLane,
    GenerationRequest,
    InstancesStatus,
    InstructionStatus,
    Method,
    RequestKind,
    SeedTask,
    Stage,
)
from selfinstruct.parsing import ParsedItem, parse_instruction_list, parse_triples
from selfinstruct.pool import Lookahead, locked_pool, look_ahead
from selfinstruct.prompts import (
    TRIPLE_METHODS,
    BuiltPrompt,
    Demo,
    choose_human_demos,
    render,
)
from selfinstruct.selectors import accepted_count, type_counts
from selfinstruct.taxonomy import taxonomy_for
from selfinstruct.text import instruction_key


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


def _evolution_parent(batch: GenerationBatch, rng: random.Random) -> Demo | None:
    """A pool item of the batch's language to evolve, uniformly among the seeds and the accepted instructions
    fewer than MAX_DEPTH evolutions from a seed."""
    seeds = SeedTask.objects.filter(project=batch.project, language=batch.language).order_by("id")
    generated = GeneratedInstruction.objects.filter(
        project=batch.project,
        status=InstructionStatus.ACCEPTED,
        language=batch.language,
        evolution_depth__lt=MAX_DEPTH,
    ).order_by("id")
    n_seeds, n_generated = seeds.count(), generated.count()
    if n_seeds + n_generated == 0:
        return None
    pick = rng.randrange(n_seeds + n_generated)
    if pick < n_seeds:
        seed = seeds.values_list("id", "instruction")[pick]
        return Demo("seed", seed[0], seed[1])
    row = generated.values_list("id", "instruction")[pick - n_seeds]
    return Demo("machine", row[0], row[1])


def build_prompt(batch: GenerationBatch, lane: int, step: int) -> BuiltPrompt:
    snapshot = batch.template_snapshot
    rng = random.Random(f"{batch.seed}:{batch.pk}:{lane}:{step}")
    if snapshot["method"] == Method.EVOL_INSTRUCT:
        parent = _evolution_parent(batch, rng)
        if parent is None:
            raise ValueError(f"project {batch.project_id} has no {batch.language} instruction to evolve")
        operation = rng.choice(OPERATIONS)
        text = render_evolution(
            snapshot["body"], parent=parent.instruction, operation=operation, language=batch.language
        )
        return BuiltPrompt(text=text, demos=[parent], stop=[], first_number=1, evolution=operation)
    machine = _machine_demos(batch, snapshot["num_machine_demos"], rng) if snapshot["num_machine_demos"] else []
    human = _human_demos(batch, snapshot["num_demos"] - len(machine), rng)
    demos = human + machine
    if snapshot["method"] == Method.SELF_INSTRUCT:
        rng.shuffle(demos)
    steer = ""
    if batch.type_quotas:
        taxonomy = taxonomy_for(batch.project_id)
        steer = taxonomy.steering_line(batch.language, type_counts(batch=batch), batch.type_quotas)
    return render(snapshot, demos=demos, language=batch.language, topic=batch.topic, steer=steer)


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
    if batch.stage == Stage.INSTANCES:
        from selfinstruct.instances import _run_instance_step  # the second stage builds on this module

        _run_instance_step(batch, lane, step)
        return
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


def _target_reached(batch: GenerationBatch, lane: GenerationLane) -> None:
    """Inside a transaction: finish, or — for Self-Instruct — move on to classifying and writing instances."""
    if _wants_instances(batch):
        # Accepted rows are already pending (see _judge), including those a lane commits after this switch.
        GenerationBatch.objects.filter(pk=batch.pk, stage=Stage.INSTRUCTIONS).update(stage=Stage.INSTANCES)
        advance_lane(lane)
        return
    lane.reserved_tokens, lane.reserved_cost = 0, Decimal(0)
    lane.save(update_fields=["reserved_tokens", "reserved_cost"])
    finish_batch(batch.pk, RunStatus.SUCCEEDED, "target reached")


# --- Self-Instruct's second stage: classification identification and instances ---------------------------------

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


def _record_step(
    batch, lane_number, token, step, prompt: BuiltPrompt, reply: LLMReply, *, evolved: tuple | None = None
) -> None:
    snapshot = batch.template_snapshot
    triples = snapshot["method"] in TRIPLE_METHODS
    if evolved is not None:
        items, evolution = [evolved[0]], _lineage(prompt, eliminated=evolved[1])
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
            _judge(
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


def _lineage(prompt: BuiltPrompt, *, eliminated: str | None) -> dict:
    parent = prompt.demos[0]
    from_seed = parent.source == "seed"
    depth = 0
    if not from_seed:
        rows = GeneratedInstruction.objects.filter(pk=parent.id).values_list("evolution_depth", flat=True)
        depth = rows.first() or 0
    return {
        "eliminated": eliminated,
        "parent_seed_id": parent.id if from_seed else None,
        "parent_instruction_id": None if from_seed else parent.id,
        "evolution_depth": depth + 1,
        "evolution": prompt.evolution,
    }


def _judge(
    batch,
    request,
    item: ParsedItem,
    pool,
    ahead: Lookahead,
    *,
    expects_output: bool,
    evolution: dict | None = None,
    tags: Tags | None = None,
) -> bool:
    """Filter one parsed item against the rules and the pool; store it accepted or rejected. True if accepted."""
    key = instruction_key(item.instruction)
    reason = check_item(item, language=batch.language, expects_output=expects_output)
    lineage = {}
    if evolution is not None:
        lineage = {name: value for name, value in evolution.items() if name != "eliminated"}
        reason = reason or evolution["eliminated"]
    if tags is not None:
        lineage.update(task_type=tags.task_type, root_verb=tags.verb, root_object=tags.object)
        quota = batch.type_quotas.get(tags.task_type)
        if reason is None and quota is not None:
            of_type = GeneratedInstruction.objects.filter(
                batch=batch, status=InstructionStatus.ACCEPTED, task_type=tags.task_type
            )
            if of_type.count() >= quota:  # under the pool lock: exact across workers
                reason = Reason.OVER_QUOTA
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
            similar = ahead.most_similar(pool.index, item.instruction, k=10)
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
        **lineage,
    )
    if reason:
        return False
    pool.index.add(f"g{row.pk}", row.instruction)
    pool.texts[f"g{row.pk}"] = row.instruction
    pool.keys.add(key)
    pool.instruction_hwm = row.pk
    return True


def _wants_instances(batch: GenerationBatch) -> bool:
    methods = (Method.SELF_INSTRUCT, Method.EVOL_INSTRUCT)  # evolved instructions get their answers the same way
    return batch.template_snapshot["method"] in methods and batch.generate_instances
