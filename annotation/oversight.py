"""Reads for the project admin's console on the ranking side: sampling runs and the tasks they made, what an
overlap change would do, the dashboard's charts over time, why human–RM agreement is empty, and one task's page
(its rankings, consensus, judge and reward-model views)."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from itertools import combinations

from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _

from annotation.models import (
    Completion,
    Consensus,
    JudgeRanking,
    Ranking,
    RankingTask,
    RewardScore,
    SamplingRun,
)
from annotation.rankings import pairwise_agreement
from annotation.selectors import also_from


def overlap_change_preview(*, project, overlap: int) -> dict:
    """What giving the open tasks `overlap` would do: how many would change, complete at once, or need more."""
    open_tasks = RankingTask.objects.filter(project=project, is_gold=False, is_complete=False).exclude(required=overlap)
    return {
        "open_other": open_tasks.count(),
        "would_complete": open_tasks.filter(rankings_count__gte=overlap).count(),
        "required": dict(open_tasks.values_list("required").annotate(n=Count("id")).order_by("required")),
    }


def get_project_sampling_run(*, project, run_id: int) -> SamplingRun | None:
    return SamplingRun.objects.filter(project=project, pk=run_id).first()


def sampling_runs_of_project(*, project) -> QuerySet[SamplingRun]:
    return SamplingRun.objects.filter(project=project).order_by("-id")


def tasks_of_run(*, run: SamplingRun, limit: int = 50) -> QuerySet[RankingTask]:
    """The ranking tasks a sampling run made, with their prompts, oldest first."""
    return (
        RankingTask.objects.filter(project_id=run.project_id, origin=f"run:{run.pk}")
        .select_related("prompt")
        .order_by("id")[:limit]
    )


def ranking_timeline(*, project, points: int = 48) -> dict[str, dict[str, list[list[float]]]]:
    """The dashboard's charts: rankings submitted per hour, and the pairwise agreement of multiply-ranked tasks by
    the hour their last ranking came in; x is hours since the project's first ranking. Buckets are whole hours, or
    wider when the project's rankings span more than `points` hours."""
    rows = list(
        Ranking.objects.filter(task__project=project, is_gold=False)
        .exclude(ranking=[])
        .order_by("created_at")
        .values_list("task_id", "ranking", "created_at")
    )
    if not rows:
        return {"throughput": {}, "agreement": {}}
    start = rows[0][2]
    hours = max((rows[-1][2] - start).total_seconds() / 3600, 1.0)
    width = max(1.0, math.ceil(hours / points))
    per_bucket: dict[float, int] = defaultdict(int)
    by_task: dict[int, list] = defaultdict(list)
    for task_id, order, at in rows:
        bucket = math.floor((at - start).total_seconds() / 3600 / width) * width
        per_bucket[bucket] += 1
        by_task[task_id].append((order, bucket))
    agreement: dict[float, list[float]] = defaultdict(list)
    for ranked in by_task.values():
        if len(ranked) < 2:
            continue
        values = [pairwise_agreement(a[0], b[0]) for a, b in combinations(ranked, 2)]
        agreement[ranked[-1][1]].append(statistics.fmean(values))
    throughput = [[b, n / width] for b, n in sorted(per_bucket.items())]
    agreed = [[b, round(statistics.fmean(v), 4)] for b, v in sorted(agreement.items())]
    return {"throughput": {_("rankings per hour"): throughput}, "agreement": {_("pairwise agreement"): agreed}}


def rm_agreement_gap(*, stats: dict) -> str:
    """Why the human–RM agreement is empty, when it is ("" when it is not)."""
    if stats["agreement"] is not None:
        return ""
    if not stats["scored_tasks"]:
        return _(
            "No reward model has scored this project's tasks: train a reward model on a preference version, then "
            "score the project's completions with it."
        )
    return _(
        "A reward model scored %(n)d tasks, but no human has ranked one of them since: agreement is measured on "
        "rankings submitted after a task has the reward model's order."
    ) % {"n": stats["scored_tasks"]}


def task_detail(*, project, task_id: int) -> dict | None:
    """One ranking task for the admin's task page: the prompt, its completions (with letters as labelers saw them,
    reward scores, and who else gave the same answer), every human ranking, the consensus, the newest judge ranking
    and the RM's order."""
    task = RankingTask.objects.filter(project=project, pk=task_id).select_related("prompt").first()
    if task is None:
        return None
    completions = {c.pk: c for c in Completion.objects.filter(pk__in=task.completion_ids).select_related("endpoint")}
    merged = also_from(task.completion_ids)
    letters = {cid: chr(ord("A") + i) for i, cid in enumerate(task.completion_ids)}
    scores: dict[int, float] = {}
    if task.rm_job_id:
        scores = dict(
            RewardScore.objects.filter(job_id=task.rm_job_id, completion_id__in=task.completion_ids).values_list(
                "completion_id", "score"
            )
        )
    judged = JudgeRanking.objects.filter(task=task).select_related("run__endpoint").order_by("-id").first()
    judge_scores = {int(k): v for k, v in judged.scores.items()} if judged else {}
    rows = [
        {
            "letter": letters[cid],
            "completion": completions.get(cid),
            "also_from": merged.get(cid, []),
            "rm_score": scores.get(cid),
            "judge_score": judge_scores.get(cid),
        }
        for cid in task.completion_ids
    ]

    def named(order) -> list[list[str]]:
        return [[letters.get(cid, "?") for cid in group] for group in (order or [])]

    rankings = Ranking.objects.filter(task=task).select_related("labeler").order_by("id")
    consensus = Consensus.objects.filter(task=task).first()
    return {
        "task": task,
        "prompt": task.prompt,
        "completions": rows,
        "rankings": [
            {"ranking": r, "order": named(r.ranking), "labeler": r.labeler.username, "seconds": r.time_spent_ms / 1000}
            for r in rankings
        ],
        "consensus": named(consensus.ranking) if consensus else None,
        "judge": {"order": named(judged.ranking), "endpoint": judged.run.endpoint.name} if judged else None,
        "rm_order": named([[cid] for cid in task.rm_order]) if task.rm_order else None,
    }


def get_project_task(*, project, task_id: int) -> RankingTask | None:
    return RankingTask.objects.filter(project=project, pk=task_id).first()
