"""Whether one parsed item joins the pool: the filter rules, an Evol-Instruct elimination, the task type's quota,
exact and near duplicates (under the pool lock); the item is stored accepted or rejected either way."""

from __future__ import annotations

from llm.tagging import Tags
from selfinstruct.filters import NEAR_DUPLICATE_THRESHOLD, Reason, check_item
from selfinstruct.models import GeneratedInstruction, GenerationBatch, InstancesStatus, InstructionStatus, Method
from selfinstruct.parsing import ParsedItem
from selfinstruct.pool import Lookahead
from selfinstruct.prompts import BuiltPrompt
from selfinstruct.text import instruction_key


def evolution_lineage(prompt: BuiltPrompt, *, eliminated: str | None) -> dict:
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


def judge_item(
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
        instances_status=InstancesStatus.PENDING if not reason and wants_instances(batch) else InstancesStatus.NONE,
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


def wants_instances(batch: GenerationBatch) -> bool:
    methods = (Method.SELF_INSTRUCT, Method.EVOL_INSTRUCT)  # evolved instructions get their answers the same way
    return batch.template_snapshot["method"] in methods and batch.generate_instances
