"""Writes for ranking: prompts, completions (sampled or imported), tasks, claims with leases, rankings, consensus.

Claim correctness (a labeler never gets a task twice; a task never collects more than `required` rankings, even
with many labelers at once) rests on two things:
- every change to a task's counters happens while holding that task's row (PostgreSQL: SELECT … FOR UPDATE, with
  SKIP LOCKED when picking; SQLite: the whole write transaction is serialized by BEGIN IMMEDIATE), and
- one Assignment row per (task, labeler), enforced by a unique constraint.
Leases expire lazily: a task whose earliest lease has passed is recounted, under its lock, by whoever claims it.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Min
from django.utils import timezone

from annotation.files import AnnotationFileError, CompletionRow, PromptRow, read_completion_file, read_prompt_list
from annotation.models import (
    MAX_K,
    MIN_K,
    Assignment,
    AssignmentStatus,
    Completion,
    Consensus,
    Flag,
    JudgeRanking,
    JudgeRun,
    Prompt,
    PromptSource,
    Ranking,
    RankingConfig,
    RankingTask,
    RewardScore,
    SamplingChunk,
    SamplingRun,
    TaskOrder,
)
from annotation.rankings import (
    RankingError,
    normalize_ranking,
    pairwise_agreement,
    ranked_pairs,
    ranking_from_scores,
    smallest_margin,
)
from annotation.selectors import rm_hint_visible
from core import lifecycle
from core.errors import ServiceError
from core.lifecycle import RunStatus
from core.uploads import spool
from llm.client import LLMError, call_llm
from llm.params import validate_params
from llm.selectors import require_usable_endpoint
from projects.selectors import signed_in_or_none
from selfinstruct.selectors import prompt_candidates
from selfinstruct.text import detect_language, instruction_key, prompt_text

logger = logging.getLogger(__name__)

SAMPLING_CHUNK_PROMPTS = 8
DEFAULT_SAMPLING_PARAMS = {"temperature": 0.9, "top_p": 0.95, "max_tokens": 768}
MAX_TIME_SPENT_MS = 6 * 60 * 60 * 1000


class AnnotationError(ServiceError):
    """A request that cannot be honoured; `code` lets the API choose the status, the message says why."""


# --- Settings -------------------------------------------------------------------------------------------------


def get_ranking_config(*, project) -> RankingConfig:
    """The project's settings, read once per project object (a request reads them several times)."""
    cached = getattr(project, "_ranking_config_cache", None)
    if cached is not None:
        return cached
    config, _ = RankingConfig.objects.get_or_create(project=project)
    project._ranking_config_cache = config
    return config


def update_ranking_config(*, project, **fields) -> RankingConfig:
    config = get_ranking_config(project=project)
    for name, value in fields.items():
        setattr(config, name, value)
    config.full_clean()
    config.save()
    project._ranking_config_cache = config
    return config


# --- Prompts --------------------------------------------------------------------------------------------------


def prompt_text_key(instruction: str, input_text: str) -> str:
    return instruction_key(prompt_text(instruction, input_text))


def _get_or_create_prompt(project, *, source: str, source_ref: str, instruction: str, input_text: str, **extra):
    prompt, created = Prompt.objects.get_or_create(
        project=project,
        text_key=prompt_text_key(instruction, input_text),
        defaults={
            "source": source,
            "source_ref": source_ref[:200],
            "instruction": instruction,
            "input": input_text,
            "language": extra.get("language") or detect_language(f"{instruction} {input_text}"),
            "category": extra.get("category", "")[:100],
        },
    )
    return prompt, created


def collect_prompts(*, project, sources: tuple[str, ...] = ("generated",)) -> int:
    """Make ranking prompts from accepted generated instructions and/or seeds; returns how many are new."""
    created = 0
    with transaction.atomic():
        for row in prompt_candidates(project=project, sources=sources):
            _, new = _get_or_create_prompt(
                project,
                source=row["source"],
                source_ref=row["source_ref"],
                instruction=row["instruction"],
                input_text=row["input"],
                language=row["language"],
                category=row["category"],
            )
            created += new
    return created


@dataclass
class ImportSummary:
    prompts_created: int = 0
    completions_created: int = 0
    completions_skipped: int = 0
    tasks_created: int = 0
    models: list[str] = field(default_factory=list)


def import_prompt_list(*, project, path: Path) -> ImportSummary:
    rows = read_prompt_list(Path(path))
    summary = ImportSummary()
    with transaction.atomic():
        for row in rows:
            _, new = _prompt_from_row(project, row, PromptSource.IMPORTED)
            summary.prompts_created += new
    return summary


def _prompt_from_row(project, row: PromptRow, source: str):
    return _get_or_create_prompt(
        project,
        source=source,
        source_ref=row.where,
        instruction=row.instruction,
        input_text=row.input,
        category=row.category,
    )


def import_completion_uploads(*, project, uploads) -> ImportSummary:
    """Import uploaded completion files (admin form): each spooled under a safe name of its own, so two files with
    the same name never overwrite each other (their models must still differ: see import_completions)."""
    with spool(uploads) as spooled:
        return import_completions(project=project, paths=[path for path, _ in spooled])


def import_completions(*, project, paths: list[Path], make_tasks: bool = True) -> ImportSummary:
    """Each file = one model's responses keyed by prompt. All files are read and checked before anything is
    written, and everything is written in one transaction. With make_tasks, every prompt that now has ≥ 2 imported
    completions (at most 9) gets a ranking task (origin "import") if it has none yet."""
    per_file: list[tuple[Path, list[CompletionRow]]] = [(Path(p), read_completion_file(Path(p))) for p in paths]
    owner: dict[str, Path] = {}
    for path, rows in per_file:
        for model in dict.fromkeys(row.model for row in rows):
            if owner.setdefault(model, path) != path:  # two files (maybe of the same name) answer for one model
                raise AnnotationFileError(
                    f"{path.name}: model {model!r} is also in {owner[model].name}; each file holds one model's "
                    f"answers — rename one file or give its rows a 'model' field"
                )
    summary = ImportSummary()
    touched: set[int] = set()
    with transaction.atomic():
        for path, rows in per_file:
            for row in rows:
                prompt, new_prompt = _prompt_from_row(project, row.prompt, PromptSource.IMPORTED)
                summary.prompts_created += new_prompt
                _, created = Completion.objects.get_or_create(
                    prompt=prompt,
                    origin_key=f"import:{row.model}"[:200],
                    defaults={"text": row.text, "model": row.model, "source_file": path.name[:300]},
                )
                summary.completions_created += created
                summary.completions_skipped += not created
                touched.add(prompt.pk)
                if row.model not in summary.models:
                    summary.models.append(row.model)
        if make_tasks:
            config = get_ranking_config(project=project)
            for prompt in Prompt.objects.filter(pk__in=touched).order_by("pk"):
                imported = prompt.completions.filter(origin_key__startswith="import:").order_by("pk")
                ids = list(imported.values_list("pk", flat=True))
                if MIN_K <= len(ids) <= MAX_K:
                    summary.tasks_created += create_ranking_task(
                        prompt=prompt, origin="import", completion_ids=ids, required=config.overlap
                    )[1]
    return summary


# --- Tasks ----------------------------------------------------------------------------------------------------


def create_ranking_task(*, prompt: Prompt, origin: str, completion_ids: list[int], required: int):
    """(task, created). The shown order is shuffled once here and stored, so every labeler sees the same order
    and the order never reveals which model wrote what."""
    order = list(completion_ids)
    random.Random(secrets.randbits(64)).shuffle(order)
    task, created = RankingTask.objects.get_or_create(
        prompt=prompt,
        origin=origin,
        defaults={"project_id": prompt.project_id, "completion_ids": order, "required": required},
    )
    return task, created


def set_gold(*, task: RankingTask, ranking) -> RankingTask:
    """Make a task a gold task with a known ranking (groups, best first). Gold tasks are served to every labeler
    once, at the project's gold rate, to score them; their rankings never count as data."""
    groups = normalize_ranking(ranking, item_ids=task.completion_ids, allow_ties=True)
    RankingTask.objects.filter(pk=task.pk).update(is_gold=True, gold_ranking=groups, is_complete=False)
    task.refresh_from_db()
    return task


# --- Sampling completions -------------------------------------------------------------------------------------


def start_sampling_run(
    *,
    project,
    endpoints: list[tuple[object, dict]],
    per_prompt: int | None = None,
    sources: tuple[str, ...] = ("generated",),
    limit: int | None = None,
    created_by=None,
) -> SamplingRun:
    """Sample K completions for each prompt (slot i from endpoint i mod n, with that endpoint's parameters).
    Prompts are made from the given sources first; `imported` means prompts already imported."""
    if not endpoints:
        raise AnnotationError("name at least one endpoint", code="invalid")
    config = get_ranking_config(project=project)
    k = per_prompt or config.completions_per_prompt
    if not MIN_K <= k <= MAX_K:
        raise AnnotationError(f"per_prompt must be between {MIN_K} and {MAX_K}, got {k}")
    unknown = set(sources) - {"generated", "seed", "imported"}
    if unknown:
        raise AnnotationError(f"unknown prompt source(s): {sorted(unknown)}")
    plan = []
    for index, (endpoint, params) in enumerate(endpoints):
        field = f"endpoints.{index}"
        require_usable_endpoint(endpoint, project=project, field=f"{field}.name", error=AnnotationError)
        merged = {**DEFAULT_SAMPLING_PARAMS, **validate_params(params, field=f"{field}.params", error=AnnotationError)}
        plan.append({"endpoint": endpoint.name, "endpoint_id": endpoint.pk, "model": endpoint.model, "params": merged})
    collect_prompts(project=project, sources=tuple(s for s in sources if s != "imported"))
    source_values = [{"seed": PromptSource.SEED, "generated": PromptSource.GENERATED}.get(s, s) for s in sources]
    prompts = Prompt.objects.filter(project=project, source__in=source_values).order_by("pk")
    prompt_ids = list(prompts.values_list("pk", flat=True))
    if limit is not None:
        prompt_ids = prompt_ids[:limit]
    if not prompt_ids:
        raise AnnotationError(f"project {project.slug} has no prompts from {', '.join(sources)} to sample for")
    chunks = [prompt_ids[i : i + SAMPLING_CHUNK_PROMPTS] for i in range(0, len(prompt_ids), SAMPLING_CHUNK_PROMPTS)]
    with transaction.atomic():
        run = SamplingRun.objects.create(
            project=project,
            per_prompt=k,
            plan=plan,
            sources=list(sources),
            prompts_total=len(prompt_ids),
            chunks_total=len(chunks),
            created_by=signed_in_or_none(created_by),
            started_at=timezone.now(),
            heartbeat_at=timezone.now(),
        )
        SamplingChunk.objects.bulk_create(
            SamplingChunk(run=run, number=n, prompt_ids=ids) for n, ids in enumerate(chunks)
        )
        transaction.on_commit(lambda: send_sampling_run(run.pk))
    return run


def send_sampling_run(run_id: int) -> None:
    """Send the chunks not done yet (LLM calls only: the default queue)."""
    from annotation.tasks import sampling_chunk_task

    for number in SamplingChunk.objects.filter(run_id=run_id, done=False).values_list("number", flat=True):
        sampling_chunk_task.apply_async((run_id, number), queue=settings.CELERY_TASK_DEFAULT_QUEUE)


def _refuse_cancelled(kind, run) -> None:
    if lifecycle.status(kind, run.pk) == RunStatus.CANCELLED:
        raise AnnotationError("status: the run was cancelled", code="conflict")


def resume_sampling_run(*, run: SamplingRun) -> None:
    """Send the chunks not done yet again (after a worker loss, or to retry a failed run); chunks are idempotent:
    a slot that has its completion is skipped."""
    kind = lifecycle.kind("sampling")
    _refuse_cancelled(kind, run)
    lifecycle.move(kind, run.pk, RunStatus.RUNNING, among=(RunStatus.FAILED,), error="")
    lifecycle.heartbeat(kind, run.pk)
    transaction.on_commit(lambda: send_sampling_run(run.pk))


def cancel_sampling_run(*, run: SamplingRun) -> None:
    lifecycle.cancel(lifecycle.kind("sampling"), run.pk)


def _messages_for(prompt: Prompt) -> list[dict]:
    return [{"role": "user", "content": prompt_text(prompt.instruction, prompt.input)}]


def run_sampling_chunk(*, run_id: int, number: int) -> None:
    """Fill the missing completion slots of one chunk's prompts, then make their ranking tasks. Safe to run
    twice: a slot that already has its completion is skipped, and the chunk is counted done once. Anything
    unexpected the chunk raises ends the run failed with the error."""
    kind = lifecycle.kind("sampling")
    with lifecycle.failing(kind, run_id, what=f"sampling run {run_id} chunk {number}"), lifecycle.beating(kind, run_id):
        _run_sampling_chunk(run_id, number)


def _run_sampling_chunk(run_id: int, number: int) -> None:
    from llm.models import LLMEndpoint

    run = SamplingRun.objects.select_related("project").get(pk=run_id)
    chunk = SamplingChunk.objects.get(run=run, number=number)
    if chunk.done or run.status != RunStatus.RUNNING:
        return
    endpoints = {e.pk: e for e in LLMEndpoint.objects.filter(pk__in=[p["endpoint_id"] for p in run.plan])}
    config = get_ranking_config(project=run.project)
    failed = 0
    created_total = 0
    for prompt in Prompt.objects.filter(pk__in=chunk.prompt_ids).order_by("pk"):
        if lifecycle.status(lifecycle.kind("sampling"), run_id) != RunStatus.RUNNING:
            return  # cancelled
        have = set(Completion.objects.filter(prompt=prompt, sampling_run=run).values_list("origin_key", flat=True))
        prompt_failed = False
        for slot_no in range(run.per_prompt):
            key = f"run:{run.pk}:{slot_no}"
            if key in have:
                continue
            entry = run.plan[slot_no % len(run.plan)]
            endpoint = endpoints.get(entry["endpoint_id"])
            if endpoint is None:
                prompt_failed = True
                break
            try:
                reply = call_llm(
                    endpoint,
                    purpose="completion",
                    messages=_messages_for(prompt),
                    project_id=run.project_id,
                    **entry["params"],
                )
            except LLMError as exc:
                logger.warning("sampling run %s prompt %s slot %s: %s", run.pk, prompt.pk, slot_no, exc)
                prompt_failed = True
                break
            choice = reply.choices[0]
            if not choice.text.strip():
                prompt_failed = True
                break
            _, created = Completion.objects.get_or_create(
                prompt=prompt,
                origin_key=key,
                defaults={
                    "text": choice.text.strip(),
                    "model": reply.model or endpoint.model,
                    "endpoint": endpoint,
                    "params": entry["params"],
                    "sampling_run": run,
                    "finish_reason": choice.finish_reason or "",
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                    "latency_ms": reply.latency_ms,
                    "llm_request_id": reply.request_id,
                },
            )
            created_total += created
        if prompt_failed:
            failed += 1
            continue
        mine = Completion.objects.filter(prompt=prompt, sampling_run=run).order_by("origin_key")
        ids = list(mine.values_list("pk", flat=True))
        create_ranking_task(prompt=prompt, origin=f"run:{run.pk}", completion_ids=ids, required=config.overlap)
    with transaction.atomic():
        if SamplingChunk.objects.filter(pk=chunk.pk, done=False).update(done=True) != 1:
            return  # a redelivered copy finished it first
        SamplingRun.objects.filter(pk=run.pk).update(
            heartbeat_at=timezone.now(),
            chunks_done=F("chunks_done") + 1,
            prompts_done=F("prompts_done") + len(chunk.prompt_ids) - failed,
            prompts_failed=F("prompts_failed") + failed,
            completions_created=F("completions_created") + created_total,
        )
        run.refresh_from_db()
        if run.chunks_done >= run.chunks_total and run.status == RunStatus.RUNNING:
            status = RunStatus.SUCCEEDED if run.prompts_done else RunStatus.FAILED
            error = f"{run.prompts_failed} prompt(s) got no complete set of completions" if run.prompts_failed else ""
            lifecycle.finish(lifecycle.kind("sampling"), run.pk, status, error=error)


# --- Claims, leases and submissions ---------------------------------------------------------------------------


def _lease(config: RankingConfig, now) -> timezone.datetime:
    return now + timedelta(minutes=config.lease_minutes)


def _live_assignment(project, labeler) -> Assignment | None:
    return (
        Assignment.objects.select_related("task")
        .filter(labeler=labeler, task__project=project, status=AssignmentStatus.ACTIVE)
        .order_by("claimed_at")
        .first()
    )


def _recount(task: RankingTask, now) -> None:
    """Expire the task's passed leases and recompute its counters. Caller holds the task's row lock."""
    Assignment.objects.filter(task=task, status=AssignmentStatus.ACTIVE, lease_expires_at__lte=now).update(
        status=AssignmentStatus.EXPIRED, finished_at=now
    )
    live = Assignment.objects.filter(task=task, status=AssignmentStatus.ACTIVE)
    task.active_count = live.count()
    task.next_lease_expiry = live.aggregate(m=Min("lease_expires_at"))["m"]
    task.fill = task.rankings_count + task.active_count
    task.save(update_fields=["active_count", "next_lease_expiry", "fill"])


def _unclaimed(project, labeler, *, gold: bool):
    """The project's incomplete tasks the labeler has never been assigned."""
    return RankingTask.objects.filter(project=project, is_gold=gold, is_complete=False).exclude(
        pk__in=Assignment.objects.filter(labeler=labeler).values("task_id")
    )


def _candidates(project, labeler, *, gold: bool):
    return _unclaimed(project, labeler, gold=gold).select_for_update(skip_locked=True, of=("self",))


CLAIM_ATTEMPTS = 6


def _open_tasks_locked_by_others(project, labeler) -> bool:
    """Whether open tasks exist that the labeler has not had (seen without locking: rows being claimed count)."""
    return _unclaimed(project, labeler, gold=False).filter(fill__lt=F("required")).exists()


def _pick(project, labeler, config: RankingConfig, now, rng) -> RankingTask | None:
    if config.gold_rate and rng.random() < config.gold_rate:
        gold = _candidates(project, labeler, gold=True).order_by("id").first()
        if gold is not None:
            return gold
    # Breadth-first: tasks whose leases ran out first (others started them), then the fullest open tasks.
    for task in _candidates(project, labeler, gold=False).filter(next_lease_expiry__lte=now).order_by("id")[:5]:
        _recount(task, now)
        if task.fill < task.required:
            return task
    open_tasks = _candidates(project, labeler, gold=False).filter(fill__lt=F("required"))
    return open_tasks.order_by(*CLAIM_ORDER[config.task_order]).first()


# Started tasks (highest fill) first in every order, so overlap finishes tasks instead of spreading thin; then the
# project's order. Uncertainty first: the smallest reward-model margin first; tasks no RM has scored come last.
CLAIM_ORDER = {
    TaskOrder.SEQUENTIAL: ("-fill", "id"),
    TaskOrder.RANDOM: ("-fill", "shuffle_key", "id"),
    TaskOrder.UNCERTAINTY: ("-fill", F("rm_margin").asc(nulls_last=True), "id"),
}


def claim_next_ranking_task(*, project, labeler, now=None, rng=random) -> Assignment | None:
    """The labeler's live assignment in the project (its lease renewed), else a newly claimed task, else None."""
    config = get_ranking_config(project=project)
    now = now or timezone.now()
    for attempt in range(CLAIM_ATTEMPTS):
        if attempt:
            time.sleep(0.02 * attempt)  # another claim holds the open tasks' rows: let it commit first
        try:
            with transaction.atomic():
                current = _live_assignment(project, labeler)
                if current is not None:
                    # The lease may have passed; as long as nobody recounted the task, the slot is still theirs.
                    if Assignment.objects.filter(pk=current.pk, status=AssignmentStatus.ACTIVE).update(
                        lease_expires_at=_lease(config, now)
                    ):
                        current.refresh_from_db()
                        current.task.project = project
                        return current
                task = _pick(project, labeler, config, now, rng)
                if task is None:
                    if _open_tasks_locked_by_others(project, labeler) and attempt < CLAIM_ATTEMPTS - 1:
                        continue  # SKIP LOCKED passed over tasks other claims hold right now; they may have room
                    return None
                lease = _lease(config, now)
                assignment = Assignment.objects.create(
                    task=task, labeler=labeler, claimed_at=now, lease_expires_at=lease
                )
                task.active_count += 1
                task.fill += 1
                if task.next_lease_expiry is None or lease < task.next_lease_expiry:
                    task.next_lease_expiry = lease
                task.save(update_fields=["active_count", "fill", "next_lease_expiry"])
                task.project = project
                assignment.task = task
                return assignment
        except IntegrityError:
            continue  # the same labeler claimed from two tabs at once; the retry returns the live assignment
    raise AnnotationError("could not claim a task, try again", code="conflict")


def renew_lease(*, task: RankingTask, labeler, now=None) -> bool:
    """Heartbeat from an active labeler: push the lease forward. False when they hold no live claim on the task."""
    now = now or timezone.now()
    config = get_ranking_config(project=task.project)
    return bool(
        Assignment.objects.filter(task=task, labeler=labeler, status=AssignmentStatus.ACTIVE).update(
            lease_expires_at=_lease(config, now)
        )
    )


def _locked_task(task_id: int) -> RankingTask:
    return RankingTask.objects.select_for_update().select_related("project").get(pk=task_id)


def _same_submission(existing: Ranking, groups, flag: str) -> bool:
    return existing.ranking == groups and existing.flag == flag


def submit_ranking(
    *, task: RankingTask, labeler, ranking=None, flag: str = "", comment: str = "", time_spent_ms=None, now=None
) -> tuple[Ranking, bool]:
    """Store the labeler's ranking (or flag). Returns (ranking, created); resubmitting the same thing returns the
    stored one. A submission whose lease ran out is accepted only while the task still has room for it."""
    now = now or timezone.now()
    if flag not in Flag.values:
        raise AnnotationError(f"flag: unknown flag {flag!r}; use one of {[f for f in Flag.values if f]}")
    config = get_ranking_config(project=task.project)
    if ranking in (None, []) and not flag:
        raise AnnotationError("ranking: rank the completions, or flag the task")
    groups = []
    if ranking not in (None, []):
        try:
            groups = normalize_ranking(ranking, item_ids=task.completion_ids, allow_ties=config.allow_ties)
        except RankingError as exc:
            raise AnnotationError(f"ranking: {exc}") from None
    with transaction.atomic():
        task = _locked_task(task.pk)
        assignment = Assignment.objects.filter(task=task, labeler=labeler).first()
        if assignment is None:
            raise AnnotationError("this task was never assigned to you; ask for the next task", code="not_assigned")
        existing = Ranking.objects.filter(assignment=assignment).first()
        if existing is not None:
            if _same_submission(existing, groups, flag):
                return existing, False
            raise AnnotationError("you already submitted this task; undo it first to change it", code="conflict")
        if assignment.status == AssignmentStatus.SKIPPED:
            raise AnnotationError("you skipped this task", code="conflict")
        if assignment.status == AssignmentStatus.EXPIRED:
            if not task.is_gold and task.fill >= task.required:
                raise AnnotationError(
                    "your lease on this task expired and the task went to another labeler; "
                    "your ranking was not stored — ask for the next task",
                    code="lease_lost",
                )
            task.fill += 1
        else:
            task.active_count -= 1
        task.rankings_count += 1
        task.is_complete = not task.is_gold and task.rankings_count >= task.required
        task.save(update_fields=["active_count", "rankings_count", "fill", "is_complete"])
        Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.SUBMITTED, finished_at=now)
        spent = time_spent_ms if isinstance(time_spent_ms, int) and time_spent_ms >= 0 else None
        if spent is None:
            spent = int((now - assignment.claimed_at).total_seconds() * 1000)
        row = Ranking.objects.create(
            task=task,
            labeler=labeler,
            assignment=assignment,
            ranking=groups,
            flag=flag,
            comment=comment[:5000],
            time_spent_ms=min(spent, MAX_TIME_SPENT_MS),
            is_gold=task.is_gold,
            **_reward_model_comparison(task, groups, config),
        )
        if not task.is_gold:
            refresh_consensus(task=task)
    return row, True


def _reward_model_comparison(task: RankingTask, groups, config: RankingConfig) -> dict:
    """How the submitted ranking agrees with the RM's order (recorded whether or not the hint was shown)."""
    if not groups or not task.rm_order:
        return {}
    return {
        "rm_job_id": task.rm_job_id,
        "rm_agreement": pairwise_agreement(groups, [[cid] for cid in task.rm_order]),
        "rm_hint_shown": rm_hint_visible(task=task, config=config),
    }


def skip_task(*, task: RankingTask, labeler, now=None) -> None:
    """Give the task back; the labeler will not be served it again."""
    now = now or timezone.now()
    with transaction.atomic():
        task = _locked_task(task.pk)
        assignment = Assignment.objects.filter(task=task, labeler=labeler).first()
        if assignment is None:
            raise AnnotationError("this task was never assigned to you", code="not_assigned")
        if assignment.status == AssignmentStatus.SUBMITTED:
            raise AnnotationError("you already submitted this task", code="conflict")
        if assignment.status == AssignmentStatus.ACTIVE:
            task.active_count -= 1
            task.fill -= 1
            task.save(update_fields=["active_count", "fill"])
        Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.SKIPPED, finished_at=now)


def undo_last_submission(*, project, labeler, now=None) -> Assignment:
    """Take back the labeler's latest submission in the project within the project's undo window; the task is
    theirs again (a fresh lease) so they can rank it anew."""
    now = now or timezone.now()
    config = get_ranking_config(project=project)
    last = Ranking.objects.filter(task__project=project, labeler=labeler).order_by("-created_at", "-id").first()
    if last is None:
        raise AnnotationError("nothing to undo", code="conflict")
    if (now - last.created_at).total_seconds() > config.undo_seconds:
        raise AnnotationError(f"the undo window ({config.undo_seconds} s) has passed", code="conflict")
    with transaction.atomic():
        task = _locked_task(last.task_id)
        if not Ranking.objects.filter(pk=last.pk).exists():
            raise AnnotationError("nothing to undo", code="conflict")
        Ranking.objects.filter(pk=last.pk).delete()
        lease = _lease(config, now)
        Assignment.objects.filter(pk=last.assignment_id).update(
            status=AssignmentStatus.ACTIVE, lease_expires_at=lease, finished_at=None
        )
        task.rankings_count -= 1
        task.active_count += 1
        task.is_complete = False
        if task.next_lease_expiry is None or lease < task.next_lease_expiry:
            task.next_lease_expiry = lease
        task.save(update_fields=["rankings_count", "active_count", "is_complete", "next_lease_expiry"])
        if not task.is_gold:
            refresh_consensus(task=task)
    return Assignment.objects.select_related("task").get(pk=last.assignment_id)


# --- Consensus and review -------------------------------------------------------------------------------------


def refresh_consensus(*, task: RankingTask) -> Consensus | None:
    rankings = [r.ranking for r in Ranking.objects.filter(task=task).exclude(ranking=[]).only("ranking")]
    if not rankings:
        Consensus.objects.filter(task=task).delete()
        return None
    order = ranked_pairs(rankings, items=task.completion_ids)
    consensus, _ = Consensus.objects.update_or_create(
        task=task, defaults={"ranking": order, "n_rankings": len(rankings), "method": "ranked_pairs"}
    )
    return consensus


def resolve_flags(*, ranking_ids, project=None) -> int:
    """Mark flagged submissions reviewed (only those of `project` when given); returns how many."""
    rankings = Ranking.objects.filter(pk__in=ranking_ids).exclude(flag="")
    if project is not None:
        rankings = rankings.filter(task__project=project)
    return rankings.update(flag_resolved=True)


def add_rankings_needed(*, task: RankingTask, extra: int = 1) -> None:
    """Ask for more rankings of a task (e.g. after a flag was reviewed): raises `required`, reopens it."""
    with transaction.atomic():
        task = _locked_task(task.pk)
        task.required += extra
        task.is_complete = task.rankings_count >= task.required
        task.save(update_fields=["required", "is_complete"])


# --- Reward-model scores --------------------------------------------------------------------------------------


def store_reward_scores(*, job_id: int, scores: dict[int, float]) -> int:
    """Keep reward model `job_id`'s scores (a score already stored for a completion stays), then give every task
    whose K completions are now all scored by it the RM's order and its smallest margin. Returns tasks updated."""
    with transaction.atomic():
        RewardScore.objects.bulk_create(
            [RewardScore(completion_id=cid, job_id=job_id, score=float(value)) for cid, value in scores.items()],
            ignore_conflicts=True,
        )
        prompt_ids = Completion.objects.filter(pk__in=list(scores)).values("prompt_id")
        updated = 0
        for task in RankingTask.objects.filter(prompt_id__in=prompt_ids).select_for_update():
            known = dict(
                RewardScore.objects.filter(job_id=job_id, completion_id__in=task.completion_ids).values_list(
                    "completion_id", "score"
                )
            )
            if len(known) < task.k:
                continue
            task.rm_job_id = job_id
            task.rm_order = [group[0] for group in ranking_from_scores(known, ties=False)]
            task.rm_margin = smallest_margin(known.values())
            task.save(update_fields=["rm_job_id", "rm_order", "rm_margin"])
            updated += 1
    return updated


# --- LLM judge as an extra labeler ----------------------------------------------------------------------------


def start_judge_run(
    *, project, endpoint, limit: int | None = None, only_ranked: bool = False, created_by=None, enqueue: bool = True
):
    """Let the judge endpoint rank the project's (non-gold) tasks; with only_ranked, just the tasks humans have
    ranked (what judge–human agreement needs). Each pair of a task's K completions costs two judge calls.
    enqueue=False: the caller runs it in its own process (`--inline`), so no worker does the work a second time."""
    require_usable_endpoint(endpoint, project=project, field="endpoint", error=AnnotationError)
    tasks = RankingTask.objects.filter(project=project, is_gold=False)
    if only_ranked:
        tasks = tasks.filter(rankings_count__gt=0)
    task_ids = list(tasks.order_by("id").values_list("id", flat=True))
    if limit is not None:
        task_ids = task_ids[:limit]
    if not task_ids:
        raise AnnotationError(f"project {project.slug} has no ranking tasks to judge")
    with transaction.atomic():
        run = JudgeRun.objects.create(
            project=project,
            endpoint=endpoint,
            task_ids=task_ids,
            created_by=signed_in_or_none(created_by),
            heartbeat_at=timezone.now(),
        )
        if enqueue:
            transaction.on_commit(lambda: send_judge_run(run.pk))
    return run


def send_judge_run(run_id: int) -> None:
    """LLM calls only: the default queue."""
    from annotation.tasks import judge_run_task

    judge_run_task.apply_async((run_id,), queue=settings.CELERY_TASK_DEFAULT_QUEUE)


def resume_judge_run(*, run: JudgeRun, enqueue: bool = True) -> None:
    """Back to queued and sent again (after a worker loss, or to retry a failed run): tasks already judged are
    skipped. A worker still holding the old run token can no longer finish it."""
    kind = lifecycle.kind("judge")
    _refuse_cancelled(kind, run)
    lifecycle.move(kind, run.pk, RunStatus.QUEUED, error="", heartbeat_at=timezone.now())
    if enqueue:
        transaction.on_commit(lambda: send_judge_run(run.pk))


def cancel_judge_run(*, run: JudgeRun) -> None:
    lifecycle.cancel(lifecycle.kind("judge"), run.pk)


def judge_task(*, endpoint, task: RankingTask, project_id=None) -> dict:
    """Every pair of the task's completions judged in both orders; each completion's score is its mean over its
    pairs and orders. Returns {"ranking", "scores", "pairs"} (raises llm.judge.JudgeError)."""
    from llm.judge import judge_pair

    texts = dict(Completion.objects.filter(pk__in=task.completion_ids).values_list("pk", "text"))
    question = prompt_text(task.prompt.instruction, task.prompt.input)
    totals = {cid: [] for cid in task.completion_ids}
    pairs = []
    for index, a in enumerate(task.completion_ids):
        for b in task.completion_ids[index + 1 :]:
            verdict = judge_pair(endpoint, question=question, a=texts[a], b=texts[b], project_id=project_id)
            totals[a].append(verdict.score_a)
            totals[b].append(verdict.score_b)
            pairs.append({"a": a, "b": b, **verdict.as_dict()})
    scores = {cid: round(sum(values) / len(values), 4) for cid, values in totals.items()}
    return {"ranking": ranking_from_scores(scores), "scores": {str(k): v for k, v in scores.items()}, "pairs": pairs}


def run_judge(*, run_id: int) -> None:
    """Judge the run's tasks not judged yet (safe to run again: a judged task is skipped, counted once). Anything
    unexpected it raises ends the run failed with the error."""
    kind = lifecycle.kind("judge")
    token = lifecycle.claim(kind, run_id)
    if token is None:
        return  # a duplicate or redelivered message: the run is claimed, finished or cancelled
    with lifecycle.failing(kind, run_id, token=token), lifecycle.beating(kind, run_id, token=token):
        _run_judge(run_id, token)


def _run_judge(run_id: int, token) -> None:
    from llm.judge import JudgeError

    run = JudgeRun.objects.select_related("endpoint").get(pk=run_id)
    done = set(JudgeRanking.objects.filter(run=run).values_list("task_id", flat=True))
    failures = []
    tasks = RankingTask.objects.filter(pk__in=run.task_ids).select_related("prompt").order_by("id")
    for task in tasks:
        if task.pk in done:
            continue
        if lifecycle.status(lifecycle.kind("judge"), run_id) != RunStatus.RUNNING:
            return  # cancelled, or restarted elsewhere
        try:
            result = judge_task(endpoint=run.endpoint, task=task, project_id=run.project_id)
        except JudgeError as exc:
            logger.warning("judge run %s task %s: %s", run.pk, task.pk, exc)
            failures.append(f"task {task.pk}: {exc}")
            continue
        with transaction.atomic():
            try:
                with transaction.atomic():
                    JudgeRanking.objects.create(run=run, task=task, **result)
            except IntegrityError:
                continue  # a redelivered copy stored it first
            flipped = sum(pair["flipped"] for pair in result["pairs"])
            JudgeRun.objects.filter(pk=run.pk).update(
                tasks_done=F("tasks_done") + 1,
                pairs_judged=F("pairs_judged") + len(result["pairs"]),
                pairs_flipped=F("pairs_flipped") + flipped,
            )
    judged = JudgeRanking.objects.filter(run=run).count()
    status = RunStatus.SUCCEEDED if judged else RunStatus.FAILED
    lifecycle.finish(lifecycle.kind("judge"), run.pk, status, token=token, tasks_failed=len(run.task_ids) - judged,
                     error="\n".join(failures))  # fmt: skip
