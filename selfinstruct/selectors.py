"""Reads for seed tasks, batches and generated instructions."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from selfinstruct.models import GeneratedInstance, GeneratedInstruction, GenerationBatch, InstructionStatus
from selfinstruct.text import prompt_text
from selfinstruct.timeline import batch_timeline  # noqa: F401 - read here with the batch's other numbers


def accepted_count(batch_id: int) -> int:
    return GeneratedInstruction.objects.filter(batch_id=batch_id, status=InstructionStatus.ACCEPTED).count()


def batches_for_projects(*, projects: QuerySet) -> QuerySet[GenerationBatch]:
    return GenerationBatch.objects.filter(project__in=projects).select_related("project", "endpoint")


def _quota_progress(batch: GenerationBatch) -> list[dict]:
    """Per task type with a quota: accepted so far and the quota (empty for batches without quotas)."""
    if not batch.type_quotas:
        return []
    counts = type_counts(batch=batch)
    return [{"type": key, "accepted": counts.get(key, 0), "quota": quota} for key, quota in batch.type_quotas.items()]


def type_counts(*, batch: GenerationBatch) -> dict[str, int]:
    """Accepted instructions of the batch per task type (tagged ones only)."""
    rows = GeneratedInstruction.objects.filter(batch=batch, status=InstructionStatus.ACCEPTED).exclude(task_type="")
    return dict(rows.values_list("task_type").annotate(n=Count("id")).order_by())


def batch_progress(*, batch: GenerationBatch) -> dict:
    """What the admin, the API and `generate --wait` show: counts, rejections by reason, usage and rate."""
    rows = GeneratedInstruction.objects.filter(batch=batch)
    accepted = rows.filter(status=InstructionStatus.ACCEPTED).count()
    rejected = dict(
        rows.filter(status=InstructionStatus.REJECTED).values_list("reason").annotate(n=Count("id")).order_by("reason")
    )
    requests = batch.requests.aggregate(
        total=Count("id"),
        failed=Count("id", filter=~Q(error="")),
        prompt_tokens=Sum("prompt_tokens"),
        completion_tokens=Sum("completion_tokens"),
        cost=Sum("cost"),
    )
    stage_two = {}
    if batch.generate_instances:  # only such a batch's rows get a stage-two status: the others skip the scan
        stage_two = dict(
            rows.filter(status=InstructionStatus.ACCEPTED)
            .exclude(instances_status="")
            .values_list("instances_status")
            .annotate(n=Count("id"))
            .order_by()
        )
    if stage_two:
        stage_two["instances"] = GeneratedInstance.objects.filter(
            instruction__batch=batch, status=InstructionStatus.ACCEPTED
        ).count()
    end = batch.finished_at or timezone.now()
    minutes = max((end - batch.created_at).total_seconds() / 60, 1e-9)
    return {
        "status": batch.status,
        "stage": batch.stage,
        "stop_reason": batch.stop_reason,
        "target": batch.target,
        "accepted": accepted,
        "rejected": sum(rejected.values()),
        "rejected_by_reason": rejected,
        "requests": requests["total"],
        "failed_requests": requests["failed"],
        "prompt_tokens": requests["prompt_tokens"] or 0,
        "completion_tokens": requests["completion_tokens"] or 0,
        "cost": float(requests["cost"] or 0),
        "elapsed_s": round(minutes * 60, 1),
        "accepted_per_min": round(accepted / minutes, 2),
        "types": _quota_progress(batch),
        "instances": stage_two,
    }


def format_progress(progress: dict) -> str:
    reasons = ", ".join(f"{k} {v}" for k, v in progress["rejected_by_reason"].items()) or "none"
    return (
        f"{progress['status']}: {progress['accepted']}/{progress['target']} accepted, {progress['rejected']} rejected "
        f"({reasons}), {progress['requests']} requests ({progress['failed_requests']} failed), "
        f"{progress['prompt_tokens'] + progress['completion_tokens']} tokens, cost {progress['cost']:.4f}, "
        f"{progress['accepted_per_min']} accepted/min"
        + (
            f", instances for {progress['instances'].get('done', 0)} instructions "
            f"({progress['instances'].get('instances', 0)} instances, {progress['instances'].get('failed', 0)} gave up)"
            if progress["instances"]
            else ""
        )
        + (f" — {progress['stop_reason']}" if progress["stop_reason"] else "")
    )


def prompt_candidates(*, project, sources: tuple[str, ...]) -> list[dict]:
    """Instructions that can be turned into ranking prompts: accepted generated instructions and/or seed tasks,
    each with the input of its first example (empty when it takes none), oldest first."""
    from selfinstruct.models import SeedTask

    rows: list[dict] = []
    if "seed" in sources:
        for seed in SeedTask.objects.filter(project=project).order_by("id"):
            first = seed.instances[0] if seed.instances else {}
            rows.append(
                {
                    "source": "seed",
                    "source_ref": f"seed:{seed.pk}",
                    "instruction": seed.instruction,
                    "input": (first.get("input") or "") if isinstance(first, dict) else "",
                    "language": seed.language,
                    "category": "classification" if seed.is_classification else "",
                }
            )
    if "generated" in sources:
        accepted = GeneratedInstruction.objects.filter(project=project, status=InstructionStatus.ACCEPTED)
        first_inputs = dict(
            GeneratedInstance.objects.filter(instruction__in=accepted, status=InstructionStatus.ACCEPTED)
            .order_by("instruction_id", "-id")
            .values_list("instruction_id", "input")
        )  # later rows overwrite earlier ones in dict(): ordering by -id keeps the first instance
        for item in accepted.order_by("id"):
            rows.append(
                {
                    "source": "generated",
                    "source_ref": f"instruction:{item.pk}",
                    "instruction": item.instruction,
                    "input": item.input or first_inputs.get(item.pk, ""),
                    "language": item.language,
                    "category": "classification" if item.is_classification else "",
                }
            )
    return rows


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


def stage_counts(*, project) -> dict:
    """The project's generation side in numbers, for its overview."""
    from selfinstruct.models import SeedTask

    seeds = SeedTask.objects.filter(project=project)
    instructions = GeneratedInstruction.objects.filter(project=project)
    return {
        "seeds": seeds.count(),
        "seeds_by_language": dict(seeds.values_list("language").annotate(n=Count("id")).order_by("language")),
        "batches": GenerationBatch.objects.filter(project=project).count(),
        "accepted": instructions.filter(status=InstructionStatus.ACCEPTED).count(),
        "rejected": instructions.filter(status=InstructionStatus.REJECTED).count(),
    }


def prompt_templates() -> QuerySet:
    """The generation templates a batch can use (built-in and custom), by name."""
    from selfinstruct.models import PromptTemplate

    return PromptTemplate.objects.order_by("name")


def get_project_batch(*, project, batch_id: int) -> GenerationBatch | None:
    return GenerationBatch.objects.select_related("project", "endpoint").filter(project=project, pk=batch_id).first()


MAX_QUERY_CHARS = 200  # a search box's text is bounded (icontains is linear in it)


def seeds_of_project(*, project, query: str = "", language: str = "") -> QuerySet:
    """The project's seed tasks, newest import last, optionally searched (instruction, name, id) and by language."""
    from selfinstruct.models import SeedTask

    seeds = SeedTask.objects.filter(project=project).order_by("id")
    query = query.strip()[:MAX_QUERY_CHARS]
    if query:
        seeds = seeds.filter(Q(instruction__icontains=query) | Q(name__icontains=query) | Q(external_id=query))
    if language:
        seeds = seeds.filter(language=language)
    return seeds


def instructions_for_review(
    *,
    project,
    batch_id: int | None = None,
    status: str = "",
    reason: str = "",
    language: str = "",
    query: str = "",
    band: dict | None = None,
) -> QuerySet[GeneratedInstruction]:
    """Generated instructions with their instances, filtered as the review page asks, newest first. `band`
    ({scorer, metric, drop_easiest, drop_hardest, side}): the scored instructions inside the difficulty band, or
    outside it (the easiest and hardest, to reject)."""
    rows = (
        GeneratedInstruction.objects.filter(project=project)
        .select_related("parent_instruction", "parent_seed")
        .prefetch_related("instances")
        .order_by("-id")
    )
    if band:
        kept = difficulty_band_ids(
            project=project,
            scorer=band["scorer"],
            metric=band["metric"],
            drop_easiest=band["drop_easiest"],
            drop_hardest=band["drop_hardest"],
        )
        if band.get("side") == "outside":
            scored = difficulty_values(project=project, scorer=band["scorer"], metric=band["metric"])
            kept = set(scored) - kept
        rows = rows.filter(pk__in=kept)
    if batch_id is not None:
        rows = rows.filter(batch_id=batch_id)
    if status:
        rows = rows.filter(status=status)
    if reason:
        rows = rows.filter(reason=reason)
    if language:
        rows = rows.filter(language=language)
    query = query.strip()[:MAX_QUERY_CHARS]
    if query:
        rows = rows.filter(instruction__icontains=query)
    return rows


def review_facets(*, project) -> dict:
    """What the review page's filters offer: the project's batches and the reasons its rows were rejected for."""
    rows = GeneratedInstruction.objects.filter(project=project)
    return {
        "batches": list(GenerationBatch.objects.filter(project=project).order_by("-id").values_list("id", flat=True)),
        "reasons": dict(rows.exclude(reason="").values_list("reason").annotate(n=Count("id")).order_by("reason")),
    }


def get_project_instructions(*, project, ids: list[int]) -> QuerySet[GeneratedInstruction]:
    return GeneratedInstruction.objects.filter(project=project, pk__in=ids).order_by("id")


# --- Difficulty ---------------------------------------------------------------------------------------------------


def _unscored_for_difficulty(project, scorer: str, task_types: list[str] | None = None):
    """Accepted instructions `scorer` has not scored; with `task_types` (the project's taxonomy keys), also those
    tagged with a type no longer in it (a rating run tags them again)."""
    from selfinstruct.models import DifficultyScore

    scored = DifficultyScore.objects.filter(scorer=scorer, instruction__project=project).values("instruction_id")
    wanted = ~Q(pk__in=scored)
    if task_types is not None:
        wanted |= ~Q(task_type="") & ~Q(task_type__in=task_types)
    return GeneratedInstruction.objects.filter(wanted, project=project, status=InstructionStatus.ACCEPTED)


def count_instructions_to_score(*, project, scorer: str, task_types: list[str] | None = None) -> int:
    return _unscored_for_difficulty(project, scorer, task_types).count()


def instructions_to_score(
    *, project, scorer: str, limit: int | None = None, after_id: int = 0, task_types: list[str] | None = None
) -> list[dict]:
    """Accepted instructions `scorer` has not scored yet (and, given `task_types`, those tagged with a type outside
    it), in id order (after `after_id`): [{"id", "prompt",
    "response"}] — the prompt as SFT rows write it, the response the instruction's own output, else its first
    accepted instance's (whose input then joins the prompt), else "" (only the instruction's perplexity is then
    computed, or its complexity rated)."""
    unscored = _unscored_for_difficulty(project, scorer, task_types).filter(pk__gt=after_id).order_by("id")
    rows = list(unscored[:limit].values("id", "instruction", "input", "output"))
    missing = [r["id"] for r in rows if not r["output"]]
    first: dict[int, tuple[str, str]] = {}
    accepted = GeneratedInstance.objects.filter(instruction_id__in=missing, status=InstructionStatus.ACCEPTED)
    for iid, inp, out in accepted.order_by("-id").values_list("instruction_id", "input", "output"):
        first[iid] = (inp, out)  # the lowest id wins (read last)
    out = []
    for r in rows:
        inp, response = (r["input"], r["output"]) if r["output"] else first.get(r["id"], (r["input"], ""))
        out.append({"id": r["id"], "prompt": prompt_text(r["instruction"], inp), "response": response})
    return out


def difficulty_scorers(*, project) -> list[dict]:
    """The models that scored this project's instructions: [{"scorer", "n"}], most recent first."""
    from django.db.models import Max

    from selfinstruct.models import DifficultyScore

    rows = (
        DifficultyScore.objects.filter(instruction__project=project)
        .values("scorer")
        .annotate(n=Count("id"), last=Max("id"))
        .order_by("-last")
    )
    return [{"scorer": r["scorer"], "n": r["n"]} for r in rows]


def difficulty_values(*, project, scorer: str, metric: str, batch_ids: list[int] | None = None) -> dict[int, float]:
    """{instruction id: value} of `metric` by `scorer` for the project's accepted instructions (those without it —
    no response, for the response metrics — are absent)."""
    from selfinstruct.models import DifficultyScore

    rows = DifficultyScore.objects.filter(
        scorer=scorer, instruction__project=project, instruction__status=InstructionStatus.ACCEPTED
    ).exclude(**{f"{metric}__isnull": True})
    if batch_ids:
        rows = rows.filter(instruction__batch_id__in=batch_ids)
    return dict(rows.values_list("instruction_id", metric))


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


def difficulty_band_ids(*, project, scorer: str, metric: str, drop_easiest: float, drop_hardest: float) -> set[int]:
    """The accepted instructions kept when the easiest `drop_easiest` percent and the hardest `drop_hardest` percent
    by `metric` (higher is harder for every metric) are dropped; unscored instructions are not in the set."""
    from selfinstruct.difficulty import band_bounds

    values = difficulty_values(project=project, scorer=scorer, metric=metric)
    bounds = band_bounds(list(values.values()), drop_lowest=drop_easiest, drop_highest=drop_hardest)
    if bounds is None:
        return set()
    low, high = bounds
    return {iid for iid, v in values.items() if low <= v <= high}


def difficulty_histogram(*, project, scorer: str, metric: str, batch_ids=None, bins: int = 24) -> dict:
    """The distribution of `metric` for a chart: counts in `bins` bins equal in log10 (perplexities span orders of
    magnitude), their labels, and the 5th/10th/50th/90th/95th percentiles."""
    import math

    from selfinstruct.difficulty import RATINGS, band_bounds

    values = sorted(difficulty_values(project=project, scorer=scorer, metric=metric, batch_ids=batch_ids).values())
    if not values:
        return {"n": 0, "labels": [], "counts": [], "percentiles": {}}
    percentiles = {}
    for p in (5, 10, 50, 90, 95):
        bounds = band_bounds(values, drop_lowest=p, drop_highest=0)
        percentiles[str(p)] = round(bounds[0], 4) if bounds else None
    if metric in RATINGS:  # a judge's whole numbers: one bar per rating
        counts = [sum(1 for v in values if round(v) == r) for r in range(1, 7)]
        return {"n": len(values), "labels": [str(r) for r in range(1, 7)], "counts": counts, "percentiles": percentiles}
    logs = [math.log10(max(v, 1e-9)) for v in values]
    low, high = logs[0], logs[-1]
    width = (high - low) / bins or 1.0
    counts = [0] * bins
    for x in logs:
        counts[min(bins - 1, int((x - low) / width))] += 1
    labels = [f"{10 ** (low + (i + 0.5) * width):.3g}" for i in range(bins)]
    return {"n": len(values), "labels": labels, "counts": counts, "percentiles": percentiles}


def rating_runs_for_projects(*, projects) -> QuerySet:
    from selfinstruct.models import RatingRun

    return RatingRun.objects.filter(project__in=projects).select_related("project", "endpoint")
