"""Reads for SFT dataset versions: the generated instructions a version's filters select, their examples streamed
in id order with each row's source (and an evolved row's lineage), and stratified sampling by task type."""

from __future__ import annotations

from django.db.models import QuerySet

from selfinstruct.models import GeneratedInstance, GeneratedInstruction, InstructionStatus


def sft_instructions(
    *, project, batch_ids=None, date_from=None, date_to=None, accepted_only=True, languages=None, evolution=None
) -> QuerySet[GeneratedInstruction]:
    """The generated instructions an SFT version's filters select (see iter_sft_examples)."""
    instructions = GeneratedInstruction.objects.filter(project=project)
    if accepted_only:
        instructions = instructions.filter(status=InstructionStatus.ACCEPTED)
    if batch_ids:
        instructions = instructions.filter(batch_id__in=batch_ids)
    if date_from:
        instructions = instructions.filter(created_at__gte=date_from)
    if date_to:
        instructions = instructions.filter(created_at__lt=date_to)
    if languages:
        instructions = instructions.filter(language__in=languages)
    if evolution:
        instructions = instructions.filter(
            evolution_depth__gte=evolution.get("min_depth", 0), evolution_depth__lte=evolution.get("max_depth", 99)
        )
    return instructions


def _evolution_source(item: dict) -> dict:
    """An evolved instruction's lineage for its rows' source (nothing for the rest: their bytes stay the same)."""
    if not item["evolution_depth"]:
        return {}
    parent = (
        {"type": "generated", "instruction_id": item["parent_instruction_id"]}
        if item["parent_instruction_id"]
        else {"type": "seed", "seed_id": item["parent_seed_id"]}
    )
    return {"evolution": {"depth": item["evolution_depth"], "operation": item["evolution"], "parent": parent}}


def iter_sft_examples(
    *,
    project,
    batch_ids: list[int] | None = None,
    date_from=None,
    date_to=None,
    accepted_only: bool = True,
    languages: list[str] | None = None,
    include_seeds: bool = True,
    evolution: dict | None = None,
    chunk_size: int = 2000,
):
    """Instruction/input/output examples, streamed in id order (never all in memory): each accepted instance of a
    generated instruction (or the instruction's own output when it has no instances), then each seed instance.
    `evolution` ({min_depth, max_depth}) keeps generated instructions that many Evol-Instruct evolutions from their
    seed; an evolved row's source names its parent, depth and operation."""
    from selfinstruct.models import SeedTask

    instructions = sft_instructions(
        project=project,
        batch_ids=batch_ids,
        date_from=date_from,
        date_to=date_to,
        accepted_only=accepted_only,
        languages=languages,
        evolution=evolution,
    )
    rows = instructions.order_by("id").values(
        "id",
        "batch_id",
        "instruction",
        "input",
        "output",
        "language",
        "is_classification",
        "batch__endpoint__name",
        "batch__template_snapshot__name",
        "evolution_depth",
        "evolution",
        "parent_instruction_id",
        "parent_seed_id",
    )
    batch: list[dict] = []

    def flush(items):
        ids = [item["id"] for item in items]
        instances: dict[int, list[tuple[str, str]]] = {}
        accepted = GeneratedInstance.objects.filter(instruction_id__in=ids, status=InstructionStatus.ACCEPTED)
        for iid, inp, out in accepted.order_by("id").values_list("instruction_id", "input", "output"):
            instances.setdefault(iid, []).append((inp, out))
        for item in items:
            examples = instances.get(item["id"]) or ([(item["input"], item["output"])] if item["output"] else [])
            for n, (inp, out) in enumerate(examples):
                yield {
                    "group": f"instruction-{item['id']}",
                    "source": {
                        "type": "generated",
                        "instruction_id": item["id"],
                        "example": n,
                        "batch_id": item["batch_id"],
                        "endpoint": item["batch__endpoint__name"],
                        "template": item["batch__template_snapshot__name"],
                        **_evolution_source(item),
                    },
                    "instruction": item["instruction"],
                    "input": inp,
                    "output": out,
                    "language": item["language"],
                    "category": "classification" if item["is_classification"] else "generation",
                }

    for item in rows.iterator(chunk_size=chunk_size):
        batch.append(item)
        if len(batch) >= chunk_size:
            yield from flush(batch)
            batch = []
    if batch:
        yield from flush(batch)
    if not include_seeds or batch_ids:
        return
    seeds = SeedTask.objects.filter(project=project)
    if languages:
        seeds = seeds.filter(language__in=languages)
    for seed in seeds.order_by("id").iterator(chunk_size=chunk_size):
        for n, instance in enumerate(seed.instances or []):
            if not isinstance(instance, dict) or not instance.get("output"):
                continue
            yield {
                "group": f"seed-{seed.pk}",
                "source": {"type": "seed", "seed_id": seed.pk, "example": n, "file": seed.source},
                "instruction": seed.instruction,
                "input": instance.get("input") or "",
                "output": instance["output"],
                "system": instance.get("system") or "",  # a turn of an imported conversation: its context
                "history": instance.get("history") or [],
                "language": seed.language,
                "category": "classification" if seed.is_classification else "generation",
            }


def stratified_ids(
    *, instructions: QuerySet[GeneratedInstruction], per_type: int, types: list[str] | None, seed: int
) -> tuple[set[int], dict[str, int]]:
    """Stratified sampling by task type: of the given instructions of each type (a rating run's tag; "untagged"
    for the rest), at most `per_type`, chosen by a seeded hash of their ids (the same seed, the same choice; a
    type with fewer keeps all); only `types` when given. Returns (the ids kept, how many per type)."""
    import hashlib

    by_type: dict[str, list[tuple[bytes, int]]] = {}
    for iid, task_type in instructions.values_list("id", "task_type").iterator(chunk_size=5000):
        key = task_type or "untagged"
        if types and key not in types:
            continue
        by_type.setdefault(key, []).append((hashlib.sha256(f"{seed}:{iid}".encode()).digest(), iid))
    kept: set[int] = set()
    counts: dict[str, int] = {}
    for key, members in sorted(by_type.items()):
        chosen = sorted(members)[:per_type]
        kept.update(iid for _, iid in chosen)
        counts[key] = len(chosen)
    return kept, counts
