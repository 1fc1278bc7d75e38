"""Reads for seed tasks, batches and generated instructions: a batch's progress, ranking prompt candidates and the
project's generation counts. The reads for SFT exports, the review pages and difficulty live in `sft_selectors`,
`review_selectors` and `difficulty_selectors`, and are re-exported here."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from selfinstruct.difficulty_selectors import (  # noqa: F401 - re-exported
    count_instructions_to_score,
    difficulty_band_ids,
    difficulty_histogram,
    difficulty_scorers,
    difficulty_values,
    instructions_to_score,
)
from selfinstruct.models import GeneratedInstance, GeneratedInstruction, GenerationBatch, InstructionStatus
from selfinstruct.review_selectors import (  # noqa: F401 - re-exported
    MAX_QUERY_CHARS,
    get_project_instructions,
    instructions_for_review,
    review_facets,
    seeds_of_project,
)
from selfinstruct.sft_selectors import iter_sft_examples, sft_instructions, stratified_ids  # noqa: F401 - re-exported
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


def rating_runs_for_projects(*, projects) -> QuerySet:
    from selfinstruct.models import RatingRun

    return RatingRun.objects.filter(project__in=projects).select_related("project", "endpoint")
