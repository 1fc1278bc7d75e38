"""Reads for seed tasks, batches and generated instructions."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from selfinstruct.models import GeneratedInstance, GeneratedInstruction, GenerationBatch, InstructionStatus


def batches_for_projects(*, projects: QuerySet) -> QuerySet[GenerationBatch]:
    return GenerationBatch.objects.filter(project__in=projects).select_related("project", "endpoint")


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
