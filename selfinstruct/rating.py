"""Rating runs (default queue: LLM calls only): an LLM judge rates the complexity of each accepted instruction and
the quality of its response on 1–6 (llm/rating.py), stored as DifficultyScore rows of scorer "judge:<endpoint>", so
the same percentile bands filter review and dataset versions by them; and tags it (llm/tagging.py) with a task
type of selfinstruct/taxonomy.py, its root verb and that verb's object, kept on the instruction (the diversity
report's task types and verb–object chart). The run walks the instructions by id and
records where it is (`last_id`) with each chunk: a restart goes on from there; an item whose rating failed is
counted and left unrated (the next run rates it).

Its task is reached only through `send_rating_run`'s function-local import (the tasks ↔ services rule:
selfinstruct/tasks.py)."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import lifecycle
from core.errors import ServiceError
from core.lifecycle import RunStatus
from llm.client import LLMError
from llm.rating import RatingError, rate
from llm.selectors import require_usable_endpoint
from llm.tagging import TaggingError, tag
from projects.selectors import signed_in_or_none
from selfinstruct.models import RatingRun
from selfinstruct.selectors import count_instructions_to_score, instructions_to_score
from selfinstruct.services import store_difficulty_scores, store_task_tags
from selfinstruct.taxonomy import taxonomy_for

RATING_CHUNK = 16


class RatingRunError(ServiceError):
    """A rating run that cannot start or change."""


def scorer_name(endpoint) -> str:
    return f"judge:{endpoint.name}"[:200]


def start_rating_run(*, project, endpoint, created_by=None, enqueue: bool = True) -> RatingRun:
    require_usable_endpoint(endpoint, project=project, field="endpoint", error=RatingRunError)
    scorer = scorer_name(endpoint)
    active = (RunStatus.QUEUED, RunStatus.RUNNING)
    if RatingRun.objects.filter(project=project, scorer=scorer, status__in=active).exists():
        raise RatingRunError(f"endpoint: {endpoint.name} already has a rating run queued or running", code="conflict")
    with transaction.atomic():
        run = RatingRun.objects.create(
            project=project,
            endpoint=endpoint,
            scorer=scorer,
            items_total=count_instructions_to_score(
                project=project, scorer=scorer, task_types=taxonomy_for(project).keys()
            ),
            heartbeat_at=timezone.now(),
            created_by=signed_in_or_none(created_by),
        )
        if enqueue:
            transaction.on_commit(lambda pk=run.pk: send_rating_run(pk))
    return run


def send_rating_run(run_id: int) -> None:
    from selfinstruct.tasks import rating_task

    rating_task.apply_async((run_id,), queue=settings.CELERY_TASK_DEFAULT_QUEUE)


def run_rating(*, run_id: int) -> None:
    """Claim the run, then rate chunk by chunk from where it stopped; each chunk's ratings and position are stored
    before the next."""
    kind = lifecycle.kind("rating")
    token = lifecycle.claim(kind, run_id)
    if token is None:
        return  # a duplicate or redelivered message
    run = RatingRun.objects.select_related("project", "endpoint").get(pk=run_id)
    started = time.monotonic()
    with lifecycle.failing(kind, run_id, token=token), lifecycle.beating(kind, run_id, token=token):
        after = run.last_id
        while True:
            taxonomy = taxonomy_for(run.project_id)  # read per chunk: an admin may change it meanwhile
            rows = instructions_to_score(
                project=run.project, scorer=run.scorer, limit=RATING_CHUNK, after_id=after, task_types=taxonomy.keys()
            )
            if not rows:
                break
            scores, tags, failed = {}, {}, 0
            for row in rows:
                try:
                    scores[row["id"]], tags[row["id"]] = _ratings(run, row, taxonomy)
                except (RatingError, TaggingError):
                    failed += 1
            store_task_tags(tags=tags)
            store_difficulty_scores(scorer=run.scorer, scores=scores)
            after = rows[-1]["id"]
            counts = {"items_scored": F("items_scored") + len(scores), "items_failed": F("items_failed") + failed}
            if not lifecycle.heartbeat(kind, run_id, token=token, last_id=after, **counts):
                return  # cancelled, or restarted elsewhere: the ratings kept stay
    seconds = round(time.monotonic() - started, 3)
    lifecycle.finish(kind, run_id, RunStatus.SUCCEEDED, token=token, seconds=seconds)


def _ratings(run: RatingRun, row: dict, taxonomy) -> tuple[dict, tuple[str, str, str]]:
    """The instruction's complexity and, when it has a response, the response's quality; and its tags. An LLMError
    that is not worth retrying (no API key, a 4xx) fails the run: every item would fail the same way."""
    try:
        complexity = rate(run.endpoint, what="complexity", instruction=row["prompt"], project_id=run.project_id)
        tags, _ = tag(run.endpoint, instruction=row["prompt"], types=taxonomy.tagger_types(), project_id=run.project_id)
        quality = None
        if row["response"]:
            quality = rate(
                run.endpoint,
                what="quality",
                instruction=row["prompt"],
                response=row["response"],
                project_id=run.project_id,
            )
    except LLMError as exc:
        raise RuntimeError(f"endpoint {run.endpoint.name}: {exc}") from exc
    return {"complexity": complexity, "quality": quality}, (tags.task_type, tags.verb, tags.object)


def cancel_rating_run(*, run: RatingRun) -> None:
    if not lifecycle.cancel(lifecycle.kind("rating"), run.pk):
        raise RatingRunError(f"status: rating run {run.pk} is already {run.status}", code="conflict")
