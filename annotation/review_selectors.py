"""Reads of the review stage (issue 37): the review queue a project's policy makes, what a reviewer sees of one task
(every labeler's ranking beside the consensus, the reward model's and the judge's orders, their agreement), and the
rejections a labeler is told about. Writes are annotation/review.py's."""

from __future__ import annotations

import statistics
from itertools import combinations

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from annotation.models import Consensus, JudgeRanking, Ranking, RankingTask, ReviewPolicy, ReviewState
from annotation.rankings import pairwise_agreement
from annotation.review_models import Review
from annotation.selectors import task_view
from projects.models import Role

# Who reviews: a project's reviewers and its admins (site admins count as admins).
REVIEW_ROLES = (Role.ADMIN, Role.REVIEWER)

# How many of a labeler's rejected rankings their pages list (the newest).
REJECTIONS_SHOWN = 5


def _policy_filter(config) -> Q | None:
    """The tasks the project's policy sends to review, as a filter; None when it sends none."""
    policy = config.review_policy
    if policy == ReviewPolicy.SAMPLE:
        # shuffle_key is a fixed uniform random number per task: the sample is random, and stays the same sample
        return Q(shuffle_key__lt=config.review_sample_rate)
    if policy == ReviewPolicy.LOW_AGREEMENT:
        return Q(agreement__lt=config.review_agreement_below)
    if policy == ReviewPolicy.FLAGGED:
        return Q(Exists(Ranking.objects.filter(task=OuterRef("pk")).exclude(flag="")))
    return None


def _waiting(config) -> Q:
    """Completed tasks waiting for a reviewer: those the policy picks that nobody decided on yet, and those sent
    back to review (a rejection reopens its task; it returns here once ranked again)."""
    waiting = Q(review_state=ReviewState.QUEUED)
    picked = _policy_filter(config)
    if picked is not None:
        waiting |= Q(review_state=ReviewState.NONE) & picked
    return Q(is_gold=False, is_complete=True, rankings_count__gt=0) & waiting


def review_queue(*, project, config) -> QuerySet[RankingTask]:
    """The tasks waiting for a reviewer (_waiting), oldest first."""
    return RankingTask.objects.filter(project=project).filter(_waiting(config)).order_by("id")


def next_review_task(*, project, config, after: int | None = None) -> RankingTask | None:
    """The queue's first task (after task `after`, for a reviewer who skips one)."""
    queue = review_queue(project=project, config=config)
    if after is not None:
        queue = queue.filter(pk__gt=after)
    return _with_project(queue.select_related("prompt", "consensus").first(), project)


def _with_project(task: RankingTask | None, project) -> RankingTask | None:
    """The caller's project set on the task: read again by a join, its columns cost every review call (the page's
    p99 is measured against a no-op request: bench/review_pages.py)."""
    if task is not None:
        task.project = project
    return task


def review_counts(*, project, config) -> dict:
    """{"queued": waiting now, "accepted": …, "adjudicated": …} for the page's head and the API, in one query."""
    return RankingTask.objects.filter(project=project).aggregate(
        queued=Count("pk", filter=_waiting(config)),
        accepted=Count("pk", filter=Q(review_state=ReviewState.ACCEPTED)),
        adjudicated=Count("pk", filter=Q(review_state=ReviewState.ADJUDICATED)),
    )


def get_review_task(*, project, task_id: int, to_show: bool = True) -> RankingTask | None:
    """The project's task; with its prompt and consensus when it is to be shown (a decision needs neither)."""
    tasks = RankingTask.objects.filter(project=project, pk=task_id)
    return _with_project((tasks.select_related("prompt", "consensus") if to_show else tasks).first(), project)


def _letters(order, labels: dict[int, str]) -> str:
    """An order as the page writes it: "B > A = D > C"."""
    return " > ".join(" = ".join(labels.get(cid, "?") for cid in group) for group in order or [])


def review_task_view(*, task: RankingTask) -> dict:
    """What the reviewer sees of a task: the prompt and its answers (labelled A, B, … in the task's order), each
    labeler's ranking with its agreement with the consensus, the consensus, the reward model's and the newest judge
    ranking's orders, the mean pairwise agreement of the counted rankings, and the decisions so far."""
    view = task_view(task=task)
    labels = {c["id"]: c["label"] for c in view["completions"]}
    try:  # read with the task (select_related) where the caller did so
        consensus = task.consensus
    except Consensus.DoesNotExist:
        consensus = None
    rankings = list(
        Ranking.objects.filter(task=task).annotate(labeler_name=F("labeler__username")).order_by("id")
    )  # the name alone, not every column of the user
    counted = [r.ranking for r in rankings if r.ranking and not r.rejected]
    agreement = task.agreement
    if agreement is None and len(counted) >= 2:  # not yet kept on the task: computed here, the same way
        agreement = statistics.fmean(pairwise_agreement(a, b) for a, b in combinations(counted, 2))
    # the order alone: the judge's scores and pairs are JSON this page never shows
    judge = JudgeRanking.objects.filter(task=task).order_by("-id").values_list("ranking", flat=True).first()
    orders = []
    if consensus is not None:
        orders.append({"source": "consensus", "method": consensus.method, "order": consensus.ranking})
    if task.rm_order:
        orders.append({"source": "reward_model", "method": "", "order": [[cid] for cid in task.rm_order]})
    if judge is not None:
        orders.append({"source": "judge", "method": "", "order": judge})
    for row in orders:
        row["letters"] = _letters(row["order"], labels)
    decisions = ()  # every decision bumps the version: at version 0 there is none to read
    if task.review_version:
        decisions = Review.objects.filter(task=task).annotate(reviewer_name=F("reviewer__username")).order_by("id")
    return {
        **view,
        "review_state": task.review_state,
        "review_version": task.review_version,
        "agreement": None if agreement is None else round(agreement, 4),
        "is_complete": task.is_complete,
        "rankings": [
            {
                "id": r.pk,
                "labeler": r.labeler_name,
                "order": r.ranking,
                "letters": _letters(r.ranking, labels),
                "agreement_with_consensus": (
                    round(pairwise_agreement(r.ranking, consensus.ranking), 4) if consensus and r.ranking else None
                ),
                "flag": r.flag,
                "comment": r.comment,
                "rationale": r.rationale,
                "aspects": r.aspects,
                "strengths": r.strengths,
                "time_spent_ms": r.time_spent_ms,
                "rejected": r.rejected,
                "reject_reason": r.reject_reason,
                "created_at": r.created_at,
            }
            for r in rankings
        ],
        "orders": orders,
        "reviews": [
            {
                "decision": review.decision,
                "reviewer": review.reviewer_name,
                "ranking": review.ranking_id,
                "order": review.order,
                "reason": review.reason,
                "created_at": review.created_at,
            }
            for review in decisions
        ],
    }


def rejections_for_labeler(*, project, labeler, limit: int = REJECTIONS_SHOWN) -> list[dict]:
    """The labeler's rankings a reviewer rejected, newest first, with the reviewer's reason: shown on their pages."""
    rows = (
        Ranking.objects.filter(project=project, labeler=labeler, is_gold=False, rejected=True)  # its index
        .select_related("task__prompt")
        .order_by("-id")[:limit]
    )
    return [
        {"task": r.task_id, "instruction": r.task.prompt.instruction[:120], "reason": r.reject_reason} for r in rows
    ]


def adjudicated_count(*, project) -> int:
    """Tasks whose consensus a reviewer wrote (for a dataset version's lineage)."""
    return RankingTask.objects.filter(project=project, review_state=ReviewState.ADJUDICATED).count()
