"""Generation batches in the one run lifecycle: start (lanes: chains of requests, each with a token and a
heartbeat), pause, resume, cancel, and restart of stalled lanes. The steps themselves are in `engine`.

Its task is reached only through `enqueue_step`'s function-local import (the tasks ↔ services rule:
selfinstruct/tasks.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import lifecycle
from core.fields import require_whole_number
from core.lifecycle import RunStatus
from llm.params import validate_params
from llm.selectors import require_usable_endpoint
from selfinstruct.models import (
    GenerationBatch,
    GenerationLane,
    Language,
    Method,
    SeedTask,
)
from selfinstruct.services import BatchError, get_template, template_snapshot
from selfinstruct.taxonomy import taxonomy_for
from selfinstruct.templates_builtin import DEFAULT_PARAMS

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
    type_quotas: dict | None = None,
) -> GenerationBatch:
    template = get_template(name=template_name)
    type_quotas = check_type_quotas(type_quotas, keys=taxonomy_for(project).keys())
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
            type_quotas=type_quotas,
        )
        now = timezone.now()
        for number in range(lanes):
            lane = GenerationLane.objects.create(batch=batch, number=number, token=uuid.uuid4(), heartbeat_at=now)
            enqueue_step(lane)
    return batch


MAX_QUOTA = 10_000_000


def quota_pairs(parts: list[str]) -> dict[str, int]:
    """ "type=n" texts (the console's comma-separated field, the CLI's repeated --quota) as {type: n}; ValueError
    with the first that is not of that form. check_type_quotas judges the types and the numbers."""
    quotas: dict[str, int] = {}
    for part in (p.strip() for p in parts):
        if not part:
            continue
        key, _sep, number = part.partition("=")
        if not number.strip().isdigit() or len(number.strip()) > 9:
            raise ValueError(part)
        quotas[key.strip()] = int(number)
    return quotas


def check_type_quotas(value, *, keys: list[str]) -> dict[str, int]:
    """{task type of the project's taxonomy (`keys`): most accepted, 1 to MAX_QUOTA}; BatchError naming what is
    wrong."""
    if value in (None, {}):
        return {}
    if not isinstance(value, dict):
        raise BatchError("type_quotas: {task type: most accepted instructions}")
    for key, quota in value.items():
        if key not in keys:
            raise BatchError(f"type_quotas: {str(key)[:40]!r} is not a task type of the project; one of {keys}")
        if isinstance(quota, bool) or not isinstance(quota, int) or not 1 <= quota <= MAX_QUOTA:
            raise BatchError(f"type_quotas.{key}: a whole number from 1 to {MAX_QUOTA}")
    return dict(value)


def enqueue_step(lane: GenerationLane, countdown: float = 0) -> None:
    """LLM calls only: the default queue."""
    from selfinstruct.tasks import generation_step_task

    args = (lane.batch_id, lane.number, str(lane.token), lane.step)
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    transaction.on_commit(lambda: generation_step_task.apply_async(args, countdown=countdown, queue=queue))


def batch_kind():
    return lifecycle.kind("generation")


def finish_batch(batch_id: int, status: str, reason: str) -> bool:
    """A running batch ends (succeeded / failed) with the reason it stopped."""
    return lifecycle.finish(batch_kind(), batch_id, status, stop_reason=reason[:300])


def pause_batch(*, batch: GenerationBatch, by=None) -> None:
    """running → paused; the moment and who (`by`, a user; None from a script) go into the batch's events."""
    with transaction.atomic():
        if not _move_with_event(batch, RunStatus.PAUSED, "paused", by):
            raise BatchError(f"status: only a running batch can be paused (batch {batch.pk} is {_status(batch)})")


def resume_batch(*, batch: GenerationBatch, by=None) -> None:
    """paused → running, and every lane's current step is sent at once (no countdown, not left to the reconciler).

    The lanes keep their tokens: a step that was still running when the batch was paused (its LLM call under way)
    is not thrown away but recorded when it ends, and its chain goes on. Its lane's step, sent again here, then
    finds the step done (a step is claimed once, by number) and does nothing; a resume that finds the batch
    running already (twice, or racing another) changes nothing."""
    with transaction.atomic():
        if not _move_with_event(
            batch, RunStatus.RUNNING, "resumed", by, among=(RunStatus.PAUSED,), consecutive_failures=0
        ):
            raise BatchError(f"status: only a paused batch can be resumed (batch {batch.pk} is {_status(batch)})")
        lanes = GenerationLane.objects.filter(batch_id=batch.pk)
        lanes.update(heartbeat_at=timezone.now())  # a paused lane's old heartbeat must not read as a stall
        for lane in lanes:
            enqueue_step(lane)


def cancel_batch(*, batch: GenerationBatch, by=None) -> None:
    with transaction.atomic():
        if not _move_with_event(batch, RunStatus.CANCELLED, "cancelled", by, stop_reason="cancelled"):
            raise BatchError(f"status: batch {batch.pk} is already {_status(batch)}")


def _move_with_event(batch: GenerationBatch, to: str, event: str, by, **move) -> bool:
    """The move and its entry in `events` as one: the row is locked (SQLite: the IMMEDIATE transaction's write
    lock) so two people's clicks each append theirs, and a move that does not happen records nothing. Inside a
    transaction."""
    events = GenerationBatch.objects.select_for_update().values_list("events", flat=True).get(pk=batch.pk)
    entry = {"at": timezone.now().isoformat(), "event": event, "by": by.get_username() if by else ""}
    return lifecycle.move(batch_kind(), batch.pk, to, events=[*(events or []), entry], **move)


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
        enqueue_step(lane)
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
