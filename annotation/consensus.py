"""After rankings arrive: a task's consensus, resolving flags, asking for more rankings, and storing a reward
model's scores with each task's RM order and margin."""

from __future__ import annotations

import logging

from django.db import transaction

from annotation.agreement import (
    PRIOR_RELIABILITY,
    labeler_weights,
    reliability_weight,
    task_pairwise_agreement,
    weighted_consensus,
)
from annotation.models import (
    Completion,
    Consensus,
    ConsensusMethod,
    Ranking,
    RankingTask,
    ReviewState,
    RewardScore,
)
from annotation.ranking_rules import CONSENSUS_METHOD
from annotation.rankings import (
    ranked_pairs,
    ranking_from_scores,
    smallest_margin,
)
from annotation.services import get_ranking_config

logger = logging.getLogger(__name__)


def locked_task(task_id: int) -> RankingTask:
    return RankingTask.objects.select_for_update().select_related("project").get(pk=task_id)


# --- Consensus and review -------------------------------------------------------------------------------------


def refresh_consensus(*, task: RankingTask) -> Consensus | None:
    if task.review_state == ReviewState.ADJUDICATED:  # a reviewer's order stands (annotation/review.py)
        return Consensus.objects.filter(task=task).first()
    # a ranking a reviewer rejected never counts
    counted = Ranking.objects.filter(task=task, rejected=False).exclude(ranking=[])
    rows = list(counted.order_by("id").values_list("labeler_id", "ranking"))
    rankings = [ranking for _, ranking in rows]
    _store_agreement(task, task_pairwise_agreement(rankings))
    if not rankings:
        Consensus.objects.filter(task=task).delete()
        return None
    order, method = consensus_order(task=task, rows=rows)
    consensus = Consensus(task=task, ranking=order, n_rankings=len(rankings), method=method)
    Consensus.objects.bulk_create(  # one upsert (INSERT … ON CONFLICT (task) DO UPDATE)
        [consensus],
        update_conflicts=True,
        unique_fields=["task"],
        update_fields=["ranking", "n_rankings", "method", "computed_at"],
    )
    return consensus


def consensus_order(*, task: RankingTask, rows) -> tuple[list[list[int]], str]:
    """(order, method) of a task's counted rankings, given as (labeler id, ranking) rows, by its project's consensus
    method: ranked pairs (every labeler the same), or a Bradley–Terry fit weighted by each labeler's reliability
    (annotation/agreement.py; a labeler not yet measured weighs as the prior says)."""
    rankings = [ranking for _, ranking in rows]
    if get_ranking_config(project=task.project).consensus_method != ConsensusMethod.WEIGHTED_BT:
        return ranked_pairs(rankings, items=task.completion_ids), CONSENSUS_METHOD
    weights = labeler_weights(task.project)
    unknown = reliability_weight(PRIOR_RELIABILITY)
    chosen = [weights.get(labeler_id, unknown) for labeler_id, _ in rows]
    return weighted_consensus(rankings, chosen, task.completion_ids), ConsensusMethod.WEIGHTED_BT.value


def refresh_project_consensus(*, project) -> int:
    """Every ordinary task's agreement and consensus computed again (labeler weights first, afresh): after a change
    of consensus method, or to let the weighted consensus follow the labelers' reliability now. Returns tasks done."""
    if get_ranking_config(project=project).consensus_method == ConsensusMethod.WEIGHTED_BT:
        labeler_weights(project, fresh=True)
    done = 0
    for task_id in RankingTask.objects.filter(project=project, is_gold=False).values_list("pk", flat=True).iterator():
        with transaction.atomic():
            refresh_consensus(task=locked_task(task_id))
        done += 1
    return done


# Above this many tasks a method change is not recomputed inside a web request (minutes of locked rows); the admin
# runs `manage.py agreement --project S --refresh-consensus` instead.
INLINE_REFRESH_MAX_TASKS = 5000


def refresh_consensus_if_small(*, project) -> int | None:
    """After the consensus method changed: every task's consensus again when the project is small enough to do it
    now (returns tasks done), else None (the caller tells the admin to run the command)."""
    if RankingTask.objects.filter(project=project, is_gold=False).count() > INLINE_REFRESH_MAX_TASKS:
        return None
    return refresh_project_consensus(project=project)


def _store_agreement(task: RankingTask, agreement: float | None) -> None:
    """Keep RankingTask.agreement (what the low-agreement review policy reads) in step with its rankings."""
    if task.agreement != agreement:
        RankingTask.objects.filter(pk=task.pk).update(agreement=agreement)
        task.agreement = agreement


def resolve_flags(*, ranking_ids, project=None) -> int:
    """Mark flagged submissions reviewed (only those of `project` when given); returns how many."""
    rankings = Ranking.objects.filter(pk__in=ranking_ids).exclude(flag="")
    if project is not None:
        rankings = rankings.filter(task__project=project)
    return rankings.update(flag_resolved=True)


def add_rankings_needed(*, task: RankingTask, extra: int = 1) -> None:
    """Ask for more rankings of a task (e.g. after a flag was reviewed): raises `required`, reopens it."""
    with transaction.atomic():
        task = locked_task(task.pk)
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
