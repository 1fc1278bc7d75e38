"""What labelers do: claim the next ranking task (leases, gold, task order, SKIP LOCKED with retries), renew a
lease, submit a ranking (with the reward model's comparison), skip, and undo the last submission; and, read only,
the claim a labeler holds. Claims are writes: callers make them on POST only (a GET shows `held_assignment`).
The rules applied (limits, order, leases, completion) are annotation/ranking_rules.py's, shared with the fast path."""

from __future__ import annotations

import logging
import random
import time

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Min, Q, Value, When
from django.http import Http404
from django.utils import timezone

from annotation import fastpath, guardrails
from annotation import ranking_rules as rules
from annotation.aspects import AspectError, clean_answers, questions_of
from annotation.consensus import locked_task, refresh_consensus
from annotation.models import (
    Assignment,
    AssignmentStatus,
    Ranking,
    RankingConfig,
    RankingTask,
)
from annotation.rankings import (
    RankingError,
    normalize_ranking,
    pairwise_agreement,
)
from annotation.selectors import LABELING_ROLES, get_task_for_labeler, rm_hint_visible
from annotation.services import AnnotationError, get_ranking_config

logger = logging.getLogger(__name__)


# --- Claims, leases and submissions ---------------------------------------------------------------------------


def _live_assignment(project, labeler) -> Assignment | None:
    return (
        Assignment.objects.select_related("task__prompt")
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
    return (
        _unclaimed(project, labeler, gold=gold)
        .select_related("prompt")
        .select_for_update(skip_locked=True, of=("self",))
    )


def _open_tasks_locked_by_others(project, labeler) -> bool:
    """Whether open tasks exist that the labeler has not had (seen without locking: rows being claimed count)."""
    return _unclaimed(project, labeler, gold=False).filter(fill__lt=F("required")).exists()


def _pick(project, labeler, config: RankingConfig, now, rng) -> RankingTask | None:
    if config.gold_rate and rng.random() < config.gold_rate:
        gold = _candidates(project, labeler, gold=True).order_by("id").first()
        if gold is not None:
            return gold
    # Breadth-first: tasks whose leases ran out first (others started them), then the fullest open tasks. One
    # query in the usual case; a lapsed task is recounted under its lock and taken when that frees a slot.
    lapsed = Q(next_lease_expiry__lte=now)
    first_lapsed = Case(When(lapsed, then=Value(0)), default=Value(1))
    candidates = _candidates(project, labeler, gold=False)
    task = (
        candidates.filter(lapsed | Q(fill__lt=F("required")))
        .order_by(first_lapsed, *rules.claim_order(config.task_order))
        .first()
    )
    if task is None or task.next_lease_expiry is None or task.next_lease_expiry > now:
        return task
    _recount(task, now)
    if task.fill < task.required:
        return task
    for task in candidates.filter(lapsed).order_by("id")[:5]:  # rare: the first lapsed task was still full
        _recount(task, now)
        if task.fill < task.required:
            return task
    return candidates.filter(fill__lt=F("required")).order_by(*rules.claim_order(config.task_order)).first()


def held_assignment(*, project, labeler, now=None) -> Assignment | None:
    """The claim a claim would hand back (the labeler's oldest active assignment in the project) while its lease
    runs, read only: nothing renewed, nothing claimed. What the labeler page's GET shows; a lapsed lease is left
    for the next claim (a POST) to renew or give away."""
    now = now or timezone.now()
    current = _live_assignment(project, labeler)
    if current is None or current.lease_expires_at <= now:
        return None
    current.task.project = project
    return current


def claim_next_ranking_task(*, project, labeler, now=None, rng=random) -> Assignment | None:
    """The labeler's live assignment in the project (its lease renewed), else a newly claimed task, else None."""
    claimed = claim_next_task_view(project=project, labeler=labeler, now=now, rng=rng)
    return claimed.assignment if claimed is not None else None


def claim_next_task_view(*, project, labeler, now=None, rng=random) -> fastpath.Claimed | None:
    """claim_next_ranking_task, with what the labeler's page shows: on PostgreSQL the common case is one statement
    (annotation/fastpath.py) that also reads the completions and the labeler's progress; otherwise those are left
    for the caller to read (None in the Claimed). A labeler a guardrail paused is refused (annotation/guardrails.py;
    no query for a project without guardrails)."""
    config = get_ranking_config(project=project)
    guardrails.refuse_if_paused(project=project, labeler=labeler, config=config)
    now = now or timezone.now()
    if fastpath.usable(config):
        claimed = fastpath.claim(project=project, labeler=labeler, config=config, now=now)
        if claimed is not None:
            return claimed
    assignment = _claim_with_orm(project, labeler, config, now, rng)
    return fastpath.Claimed(assignment, None, None) if assignment is not None else None


def _claim_with_orm(project, labeler, config, now, rng) -> Assignment | None:
    for attempt in range(rules.CLAIM_ATTEMPTS):
        if attempt:
            time.sleep(0.02 * attempt)  # another claim holds the open tasks' rows: let it commit first
        try:
            with transaction.atomic():
                current = _live_assignment(project, labeler)
                if current is not None:
                    # The lease may have passed; as long as nobody recounted the task, the slot is still theirs.
                    if Assignment.objects.filter(pk=current.pk, status=AssignmentStatus.ACTIVE).update(
                        lease_expires_at=rules.lease_until(config, now)
                    ):
                        current.refresh_from_db()
                        current.task.project = project
                        return current
                task = _pick(project, labeler, config, now, rng)
                if task is None:
                    if _open_tasks_locked_by_others(project, labeler) and attempt < rules.CLAIM_ATTEMPTS - 1:
                        continue  # SKIP LOCKED passed over tasks other claims hold right now; they may have room
                    return None
                lease = rules.lease_until(config, now)
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
            lease_expires_at=rules.lease_until(config, now)
        )
    )


def _same_submission(existing: Ranking, groups, flag: str, answers: dict) -> bool:
    stored = {"aspects": existing.aspects, "strengths": existing.strengths, "rationale": existing.rationale}
    return existing.ranking == groups and existing.flag == flag and stored == answers


def submit_ranking_to(
    *,
    task_id: int,
    labeler,
    ranking=None,
    flag: str = "",
    comment: str = "",
    time_spent_ms=None,
    now=None,
    project=None,
    answers: dict | None = None,
) -> tuple[Ranking, bool]:
    """submit_ranking for a task named by id: Http404 when it is not in a project the labeler labels in. On
    PostgreSQL a first submission on a live claim is one statement (annotation/fastpath.py). `project`: the task's
    project when the caller has it (with its settings: the guardrails' check then costs no query when it has none)."""
    now = now or timezone.now()
    if connection.vendor == "postgresql" and rules.submission_error(ranking, flag) is None:
        try:
            stored = fastpath.submit(
                task_id=task_id,
                labeler=labeler,
                roles=LABELING_ROLES,
                ranking=ranking,
                flag=flag,
                comment=comment,
                time_spent_ms=time_spent_ms,
                now=now,
                answers=answers,
            )
        except fastpath.NotFound:
            raise Http404("No such task.") from None
        if stored is not None:
            _judge_labeler(stored[0], labeler, project)
            return stored
    task = get_task_for_labeler(user=labeler, task_id=task_id)
    return submit_ranking(
        task=task,
        labeler=labeler,
        ranking=ranking,
        flag=flag,
        comment=comment,
        time_spent_ms=time_spent_ms,
        now=now,
        answers=answers,
    )


def _judge_labeler(row: Ranking, labeler, project) -> None:
    """The guardrails' check after a fast-path submission: with the caller's project, its settings are already read
    (no query when it has no guardrails); without it (the deprecated flat route), one read of them."""
    if project is not None and project.pk == row.project_id:
        config = get_ranking_config(project=project)
    else:
        config = RankingConfig.objects.filter(project_id=row.project_id).first()
    if config is not None:
        guardrails.after_submission(project=row.project_id, labeler=labeler, config=config)


def submit_ranking(
    *,
    task: RankingTask,
    labeler,
    ranking=None,
    flag: str = "",
    comment: str = "",
    time_spent_ms=None,
    now=None,
    answers: dict | None = None,
) -> tuple[Ranking, bool]:
    """Store the labeler's ranking (or flag). Returns (ranking, created); resubmitting the same thing returns the
    stored one. A submission whose lease ran out is accepted only while the task still has room for it. `answers`:
    what the project asks besides the order ({"aspects", "strengths", "rationale"}, annotation/aspects.py)."""
    now = now or timezone.now()
    error = rules.submission_error(ranking, flag)
    if error:
        raise AnnotationError(error)
    config = get_ranking_config(project=task.project)
    groups = []
    if ranking not in (None, []):
        try:
            groups = normalize_ranking(ranking, item_ids=task.completion_ids, allow_ties=config.allow_ties)
        except RankingError as exc:
            raise AnnotationError(f"ranking: {exc}") from None
    try:
        questions = questions_of(config)
        answers = clean_answers(
            questions=questions, completion_ids=task.completion_ids, groups=groups, flag=flag, answers=answers
        )
    except AspectError as exc:
        raise AnnotationError(str(exc)) from None
    with transaction.atomic():
        task = locked_task(task.pk)
        assignment = Assignment.objects.filter(task=task, labeler=labeler).select_related("ranking").first()
        if assignment is None:
            raise AnnotationError("this task was never assigned to you; ask for the next task", code="not_assigned")
        existing = getattr(assignment, "ranking", None)
        if existing is not None:
            if _same_submission(existing, groups, flag, answers):
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
        task.is_complete = rules.is_complete(
            is_gold=task.is_gold, rankings_count=task.rankings_count, required=task.required
        )
        task.save(update_fields=["active_count", "rankings_count", "fill", "is_complete"])
        Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.SUBMITTED, finished_at=now)
        row = Ranking.objects.create(
            task=task,
            labeler=labeler,
            assignment=assignment,
            ranking=groups,
            flag=flag,
            comment=rules.stored_comment(comment),
            time_spent_ms=rules.time_spent(time_spent_ms, assignment.claimed_at, now),
            is_gold=task.is_gold,
            **answers,
            **_reward_model_comparison(task, groups, config),
        )
        if rules.has_consensus(is_gold=task.is_gold):
            refresh_consensus(task=task)
    guardrails.after_submission(project=config.project_id, labeler=labeler, config=config)
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
        task = locked_task(task.pk)
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
        task = locked_task(last.task_id)
        if not Ranking.objects.filter(pk=last.pk).exists():
            raise AnnotationError("nothing to undo", code="conflict")
        Ranking.objects.filter(pk=last.pk).delete()
        lease = rules.lease_until(config, now)
        Assignment.objects.filter(pk=last.assignment_id).update(
            status=AssignmentStatus.ACTIVE, lease_expires_at=lease, finished_at=None
        )
        task.rankings_count -= 1
        task.active_count += 1
        task.is_complete = False
        if task.next_lease_expiry is None or lease < task.next_lease_expiry:
            task.next_lease_expiry = lease
        task.save(update_fields=["rankings_count", "active_count", "is_complete", "next_lease_expiry"])
        if rules.has_consensus(is_gold=task.is_gold):
            refresh_consensus(task=task)
    return Assignment.objects.select_related("task").get(pk=last.assignment_id)
