"""Reads for ranking: what a labeler sees, progress, agreement, labeler quality and the flagged queue."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import timedelta
from itertools import combinations

from django.db import connection
from django.db.models import Count, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from annotation import ranking_rules
from annotation.models import (
    Assignment,
    AssignmentStatus,
    Completion,
    JudgeRanking,
    JudgeRun,
    Prompt,
    Ranking,
    RankingConfig,
    RankingTask,
    SamplingRun,
)
from annotation.rankings import kendalls_w, pairwise_agreement
from annotation.render import render_markdown
from core.sql import first_row_prepared
from projects.models import Project, Role
from projects.selectors import projects_for_user
from selfinstruct.text import prompt_text

LABELING_ROLES = (Role.ADMIN, Role.LABELER)


def labeling_projects(*, user) -> QuerySet:
    return projects_for_user(user=user, roles=LABELING_ROLES)


def get_labeling_project(*, user, slug: str):
    """The project (with its ranking settings) when the user labels in it; else 404. Every claim asks this first,
    so on PostgreSQL it is one plain statement (the ORM's compiling of the same query costs more than running it)."""
    if connection.vendor == "postgresql":
        project = _labeling_project_sql(user, slug) if user.is_authenticated else None
    else:
        project = labeling_projects(user=user).select_related("ranking_config").filter(slug=slug).first()
    if project is None:
        raise Http404("No such project.")
    return project


def _labeling_project_sql(user, slug: str):
    project_fields, config_fields = Project._meta.concrete_fields, RankingConfig._meta.concrete_fields
    columns = [f"p.{f.column}" for f in project_fields] + [f"c.{f.column}" for f in config_fields]
    sql = (
        f"SELECT {', '.join(columns)} FROM projects_project p "
        "LEFT JOIN annotation_rankingconfig c ON c.project_id = p.id "
        "WHERE p.slug = %(slug)s AND (%(staff)s OR EXISTS (SELECT 1 FROM projects_membership m "
        "WHERE m.project_id = p.id AND m.user_id = %(user)s AND m.role = ANY(%(roles)s)))"
    )
    who = {"staff": user.is_staff, "user": user.pk, "roles": list(LABELING_ROLES)}
    row = first_row_prepared(sql, {"slug": slug, **who})
    if row is None:
        return None
    n = len(project_fields)
    project = Project.from_db(connection.alias, [f.attname for f in project_fields], row[:n])
    if row[n] is not None:  # its ranking settings, as select_related would have attached them
        values = [  # JSON columns (the aspects) come as text here: the field's own loader reads them, as the ORM's
            f.from_db_value(v, None, connection) if hasattr(f, "from_db_value") else v
            for f, v in zip(config_fields, row[n:], strict=True)
        ]
        config = RankingConfig.from_db(connection.alias, [f.attname for f in config_fields], values)
        Project.ranking_config.related.set_cached_value(project, config)
    return project


def get_task_for_labeler(*, user, task_id: int) -> RankingTask:
    """The task when it belongs to a project the user labels in; else 404 (never 403: no probing of ids)."""
    task = (
        RankingTask.objects.select_related("project__ranking_config", "prompt")
        .filter(pk=task_id, project__in=labeling_projects(user=user))
        .first()
    )
    if task is None:
        raise Http404("No such task.")
    return task


def sampling_runs_for_projects(*, projects) -> QuerySet[SamplingRun]:
    return SamplingRun.objects.filter(project__in=projects).select_related("project")


def judge_runs_for_projects(*, projects) -> QuerySet[JudgeRun]:
    return JudgeRun.objects.filter(project__in=projects).select_related("project", "endpoint")


def also_from(completion_ids) -> dict[int, list[dict]]:
    """{completion id: [{"model", "endpoint"}, …]}: who else gave each answer (its merged duplicates,
    annotation/duplicates.py), in id order; `endpoint` is "" for an imported answer."""
    sources: dict[int, list[dict]] = defaultdict(list)
    rows = Completion.objects.filter(same_as_id__in=list(completion_ids)).order_by("id")
    for row in rows.values("same_as_id", "model", "endpoint__name"):
        sources[row["same_as_id"]].append({"model": row["model"], "endpoint": row["endpoint__name"] or ""})
    return dict(sources)


def rm_hint_visible(*, task: RankingTask, config) -> bool:
    """Whether the labeler sees the RM's order: the project turned hints on, an RM scored the task, not gold."""
    return ranking_rules.rm_hint_shown(show_rm_hint=config.show_rm_hint, rm_order=task.rm_order, is_gold=task.is_gold)


def task_view(*, task: RankingTask, assignment: Assignment | None = None, config=None, completions=None) -> dict:
    """What the labeler sees: the prompt and the completions in the task's stored order, rendered safely. Never
    says whether the task is gold nor which model wrote which completion. Given the project's ranking config,
    `rm_hint` lists the answers' labels in the RM's order when the hint is visible (else None)."""
    rm_hint = config is not None and rm_hint_visible(task=task, config=config)
    if completions is None:  # {id: text}, unless the claim read them already
        completions = dict(Completion.objects.filter(pk__in=task.completion_ids).values_list("id", "text"))
    prompt = task.prompt
    labels = {cid: chr(ord("A") + n) for n, cid in enumerate(task.completion_ids)}
    hint = [labels[cid] for cid in task.rm_order if cid in labels] if rm_hint and task.rm_order else None
    by_text: dict[str, list[int]] = defaultdict(list)  # answers equal up to whitespace are marked as such
    for cid in task.completion_ids:
        by_text[" ".join(completions[cid].split())].append(cid)
    same_text = {
        cid: [labels[o] for o in group if o != cid] for group in by_text.values() if len(group) > 1 for cid in group
    }
    return {
        "task": task.pk,
        "project": task.project.slug,
        "prompt": {
            "instruction": prompt.instruction,
            "input": prompt.input,
            "instruction_html": render_markdown(prompt.instruction),
            "input_html": render_markdown(prompt.input) if prompt.input else "",
            "language": prompt.language,
        },
        "completions": [
            {
                "id": cid,
                "label": labels[cid],
                "text": completions[cid],
                "html": render_markdown(completions[cid]),
                "identical_to": same_text.get(cid, []),
            }
            for cid in task.completion_ids
        ],
        "rm_hint": hint,
        "lease_expires_at": assignment.lease_expires_at if assignment else None,
        "claimed_at": assignment.claimed_at if assignment else None,
    }


def labeler_progress(*, project, labeler) -> dict:
    """Tasks the labeler ranked, and tasks still open in the project (not yet fully ranked), in one query."""

    def count(queryset):
        return Subquery(queryset.order_by().values("is_gold").annotate(n=Count("pk")).values("n"))

    done = Ranking.objects.filter(project=project, labeler=labeler, is_gold=False)
    remaining = RankingTask.objects.filter(project=project, is_gold=False, is_complete=False)
    row = type(project).objects.filter(pk=project.pk).values(done=count(done), remaining=count(remaining)).first()
    return {"done": (row or {}).get("done") or 0, "remaining": (row or {}).get("remaining") or 0}


def _rankings_by_task(project, *, gold: bool) -> dict[int, list[Ranking]]:
    grouped: dict[int, list[Ranking]] = defaultdict(list)
    for ranking in (
        Ranking.objects.filter(task__project=project, is_gold=gold)
        .exclude(ranking=[])
        .select_related("labeler")
        .order_by("task_id", "id")
    ):
        grouped[ranking.task_id].append(ranking)
    return grouped


def _latest_judge_rankings(project) -> dict[int, JudgeRanking]:
    """{task id: the newest judge ranking of the task} over the project's judge runs."""
    latest: dict[int, JudgeRanking] = {}
    for row in JudgeRanking.objects.filter(run__project=project).select_related("run__endpoint").order_by("id"):
        latest[row.task_id] = row
    return latest


def agreement_stats(*, project, include_judge: bool = False) -> dict:
    """Pairwise agreement (share of item pairs two labelers order alike) and Kendall's W, over tasks ranked by
    two or more labelers; plus each labeler's mean agreement with the others. The LLM judge is not a labeler
    here unless include_judge (then each task's newest judge ranking counts as one more rater)."""
    per_pair: list[float] = []
    per_task_w: list[float] = []
    per_labeler: dict[int, list[float]] = defaultdict(list)
    by_task = _rankings_by_task(project, gold=False)
    if include_judge:
        for task_id, judged in _latest_judge_rankings(project).items():
            by_task[task_id].append(Ranking(ranking=judged.ranking, labeler_id=None))
    for rankings in by_task.values():
        if len(rankings) < 2:
            continue
        w = kendalls_w([r.ranking for r in rankings])
        if w is not None:
            per_task_w.append(w)
        for first, second in combinations(rankings, 2):
            value = pairwise_agreement(first.ranking, second.ranking)
            per_pair.append(value)
            for labeler_id in (first.labeler_id, second.labeler_id):
                if labeler_id is not None:
                    per_labeler[labeler_id].append(value)
    return {
        "multiply_ranked_tasks": len(per_task_w),
        "pairwise_agreement": round(statistics.fmean(per_pair), 4) if per_pair else None,
        "kendalls_w": round(statistics.fmean(per_task_w), 4) if per_task_w else None,
        "per_labeler": {k: round(statistics.fmean(v), 4) for k, v in per_labeler.items()},
    }


def gold_accuracy(*, project) -> dict[int, dict]:
    """{labeler id: {"gold_tasks": n, "gold_accuracy": mean pairwise agreement with the known ranking}}."""
    golds = dict(RankingTask.objects.filter(project=project, is_gold=True).values_list("pk", "gold_ranking"))
    scores: dict[int, list[float]] = defaultdict(list)
    for task_id, rankings in _rankings_by_task(project, gold=True).items():
        gold = golds.get(task_id)
        if gold:
            for ranking in rankings:
                scores[ranking.labeler_id].append(pairwise_agreement(ranking.ranking, gold))
    return {k: {"gold_tasks": len(v), "gold_accuracy": round(statistics.fmean(v), 4)} for k, v in scores.items()}


def labeler_table(*, project) -> list[dict]:
    agreement = agreement_stats(project=project)["per_labeler"]
    gold = gold_accuracy(project=project)
    times: dict[int, list[int]] = defaultdict(list)
    names: dict[int, str] = {}
    counts: dict[int, int] = defaultdict(int)
    flags: dict[int, int] = defaultdict(int)
    for row in Ranking.objects.filter(task__project=project, is_gold=False).values(
        "labeler_id", "labeler__username", "time_spent_ms", "flag"
    ):
        lid = row["labeler_id"]
        names[lid] = row["labeler__username"]
        counts[lid] += 1
        times[lid].append(row["time_spent_ms"])
        flags[lid] += bool(row["flag"])
    for lid in gold:
        names.setdefault(lid, Ranking.objects.filter(labeler_id=lid).values_list("labeler__username", flat=True)[0])
    rows = []
    for lid in sorted(names, key=lambda i: names[i]):
        rows.append(
            {
                "labeler": names[lid],
                "tasks": counts.get(lid, 0),
                "flags": flags.get(lid, 0),
                "median_seconds_per_task": round(statistics.median(times[lid]) / 1000, 1) if times.get(lid) else None,
                "gold_tasks": gold.get(lid, {}).get("gold_tasks", 0),
                "gold_accuracy": gold.get(lid, {}).get("gold_accuracy"),
                "agreement_with_others": agreement.get(lid),
            }
        )
    return rows


def project_ranking_stats(*, project, now=None, include_judge: bool = False) -> dict:
    now = now or timezone.now()
    tasks = RankingTask.objects.filter(project=project, is_gold=False)
    total = tasks.count()
    complete = tasks.filter(is_complete=True).count()
    started = tasks.filter(is_complete=False, rankings_count__gt=0).count()
    rankings = Ranking.objects.filter(task__project=project, is_gold=False)
    last_hour = rankings.filter(created_at__gte=now - timedelta(hours=1)).count()
    last_day = rankings.filter(created_at__gte=now - timedelta(days=1)).count()
    live = Assignment.objects.filter(
        task__project=project, status=AssignmentStatus.ACTIVE, lease_expires_at__gt=now
    ).count()
    agreement = agreement_stats(project=project, include_judge=include_judge)
    return {
        "tasks": total,
        "complete": complete,
        "in_progress": started,
        "not_started": total - complete - started,
        "gold_tasks": RankingTask.objects.filter(project=project, is_gold=True).count(),
        "rankings": rankings.count(),
        "rankings_last_hour": last_hour,
        "rankings_last_day": last_day,
        "active_claims": live,
        "flagged_open": rankings.exclude(flag="").filter(flag_resolved=False).count(),
        "multiply_ranked_tasks": agreement["multiply_ranked_tasks"],
        "pairwise_agreement": agreement["pairwise_agreement"],
        "kendalls_w": agreement["kendalls_w"],
    }


def reward_model_stats(*, project) -> dict:
    """How human rankings agree with the reward model's order (pairwise agreement, and how often the RM's top
    answer was the human's top), apart for rankings made with the hint shown and without it."""
    scored = RankingTask.objects.filter(project=project, is_gold=False, rm_order__isnull=False)
    rows = Ranking.objects.filter(task__project=project, is_gold=False, rm_agreement__isnull=False)
    out = {
        "scored_tasks": scored.count(),
        "reward_jobs": sorted(set(scored.values_list("rm_job_id", flat=True))),
        "rankings_compared": 0,
        "agreement": None,
    }
    split: dict[str, list[float]] = {"with_hint": [], "without_hint": []}
    tops: list[bool] = []
    for row in rows.select_related("task").only("ranking", "rm_agreement", "rm_hint_shown", "task__rm_order"):
        split["with_hint" if row.rm_hint_shown else "without_hint"].append(row.rm_agreement)
        tops.append(bool(row.task.rm_order) and row.task.rm_order[0] in row.ranking[0])
    every = split["with_hint"] + split["without_hint"]
    out["rankings_compared"] = len(every)
    out["agreement"] = round(statistics.fmean(every), 4) if every else None
    out["top_choice_agreement"] = round(sum(tops) / len(tops), 4) if tops else None
    for key, values in split.items():
        out[f"agreement_{key}"] = round(statistics.fmean(values), 4) if values else None
        out[f"rankings_{key}"] = len(values)
    return out


def judge_stats(*, project) -> dict:
    """The LLM judge against the humans: mean pairwise agreement of the judge's ranking of a task with each
    human ranking of it; and the position-bias rate, the share of pairs whose winner flipped with the order."""
    latest = _latest_judge_rankings(project)
    humans = _rankings_by_task(project, gold=False)
    agreements = [
        pairwise_agreement(judged.ranking, human.ranking)
        for task_id, judged in latest.items()
        for human in humans.get(task_id, [])
    ]
    pairs = [pair for judged in latest.values() for pair in judged.pairs]
    flipped = sum(bool(pair["flipped"]) for pair in pairs)
    runs = [
        {
            "id": run.pk,
            "endpoint": run.endpoint.name,
            "status": run.status,
            "tasks": len(run.task_ids),
            "tasks_done": run.tasks_done,
            "tasks_failed": run.tasks_failed,
            "pairs_judged": run.pairs_judged,
            "position_bias_rate": run.position_bias_rate,
        }
        for run in JudgeRun.objects.filter(project=project).select_related("endpoint").order_by("-id")[:10]
    ]
    return {
        "judged_tasks": len(latest),
        "tasks_compared": sum(1 for task_id in latest if humans.get(task_id)),
        "human_rankings_compared": len(agreements),
        "judge_human_agreement": round(statistics.fmean(agreements), 4) if agreements else None,
        "pairs_judged": len(pairs),
        "pairs_flipped": flipped,
        "position_bias_rate": round(flipped / len(pairs), 4) if pairs else None,
        "runs": runs,
    }


def _unscored(project, job_id: int) -> QuerySet[Completion]:
    prompt_ids = RankingTask.objects.filter(project=project).values("prompt_id")
    distinct = Completion.objects.filter(prompt_id__in=prompt_ids, same_as__isnull=True)  # a merged copy: no item
    return distinct.exclude(reward_scores__job_id=job_id)


def count_completions_to_score(*, project, job_id: int) -> int:
    return _unscored(project, job_id).count()


def completions_to_score(*, project, job_id: int, limit: int | None = None) -> list[dict]:
    """Completions of the project's ranking tasks that reward model `job_id` has not scored yet, with the prompt
    text the RM reads: [{"id", "prompt", "text"}], in id order."""
    rows = _unscored(project, job_id).select_related("prompt").order_by("id")
    if limit is not None:
        rows = rows[:limit]
    return [{"id": c.pk, "prompt": prompt_text(c.prompt.instruction, c.prompt.input), "text": c.text} for c in rows]


def flagged_queue(*, project, limit: int = 100) -> QuerySet[Ranking]:
    return (
        Ranking.objects.filter(task__project=project)
        .exclude(flag="")
        .filter(flag_resolved=False)
        .select_related("labeler", "task__prompt")
        .order_by("-created_at")[:limit]
    )


def rankings_for_projects(*, projects) -> QuerySet[Ranking]:
    """Raw rankings (always kept), newest last, with the consensus alongside for export."""
    return (
        Ranking.objects.filter(task__project__in=projects)
        .select_related("task__project", "labeler", "task__consensus")
        .order_by("id")
    )


def completion_counts(*, project) -> list[dict]:
    """[{"endpoint", "model", "n"}]: the project's completions by the endpoint that wrote them (two endpoints that
    serve one model name stay apart), then by model; imported answers have endpoint ""."""
    rows = (
        Completion.objects.filter(prompt__project=project)
        .values("endpoint__name", "model")
        .annotate(n=Count("id"))
        .order_by("endpoint__name", "model")
    )
    return [{"endpoint": r["endpoint__name"] or "", "model": r["model"], "n": r["n"]} for r in rows]


def iter_ranked_tasks(
    *,
    project,
    labelers: list[str] | None = None,
    date_from=None,
    date_to=None,
    languages: list[str] | None = None,
    categories: list[str] | None = None,
    use_consensus: bool = False,
    min_agreement: float | None = None,
    chunk_size: int = 500,
):
    """Ranked tasks streamed in id order, each with its prompt, completion texts and models (and `also_from`, the
    sources of identical answers merged into one), and either its raw rankings (one entry per labeler) or its
    consensus ranking. Gold rankings and flag-only submissions are left out; with min_agreement, only tasks ranked
    by ≥ 2 labelers whose mean pairwise agreement reaches it."""
    tasks = RankingTask.objects.filter(project=project, is_gold=False, rankings_count__gt=0)
    if languages:
        tasks = tasks.filter(prompt__language__in=languages)
    if categories:
        tasks = tasks.filter(prompt__category__in=categories)
    ids = list(tasks.order_by("id").values_list("id", flat=True))
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        by_task: dict[int, list[Ranking]] = defaultdict(list)
        rankings = (
            Ranking.objects.filter(task_id__in=chunk, is_gold=False, rejected=False)  # rejected: never exported
            .exclude(ranking=[])
            .select_related("labeler")
        )
        if labelers:
            rankings = rankings.filter(labeler__username__in=labelers)
        if date_from:
            rankings = rankings.filter(created_at__gte=date_from)
        if date_to:
            rankings = rankings.filter(created_at__lt=date_to)
        for ranking in rankings.order_by("id"):
            by_task[ranking.task_id].append(ranking)
        task_rows = RankingTask.objects.filter(pk__in=chunk).select_related("prompt", "consensus").order_by("id")
        completion_ids = [cid for t in task_rows for cid in t.completion_ids]
        completions = {
            c["id"]: c
            for c in Completion.objects.filter(pk__in=completion_ids).values(
                "id", "text", "model", "endpoint__name", "sampling_run_id"
            )
        }
        for cid, sources in also_from(completions).items():  # identical answers merged into one item
            completions[cid]["also_from"] = sources
        for task in task_rows:
            raw = by_task.get(task.pk, [])
            if not raw:
                continue
            agreement = None
            if len(raw) >= 2:
                agreement = statistics.fmean(pairwise_agreement(a.ranking, b.ranking) for a, b in combinations(raw, 2))
            if min_agreement is not None and (agreement is None or agreement < min_agreement):
                continue
            consensus = getattr(task, "consensus", None)
            if use_consensus:
                if consensus is None:
                    continue
                orderings = [{"ranking": consensus.ranking, "labeler": None, "ranking_id": None}]
            else:
                orderings = [{"ranking": r.ranking, "labeler": r.labeler.username, "ranking_id": r.pk} for r in raw]
            yield {
                "task_id": task.pk,
                "prompt_id": task.prompt_id,
                "instruction": task.prompt.instruction,
                "input": task.prompt.input,
                "language": task.prompt.language,
                "category": task.prompt.category,
                "completions": {cid: completions[cid] for cid in task.completion_ids if cid in completions},
                "orderings": orderings,
                "labelers": sorted({r.labeler.username for r in raw}),
                "ranking_ids": [r.pk for r in raw],
                "agreement": agreement,
                "raw": raw,  # the rankings themselves: their aspect scores, strengths and rationales (exports)
                "consensus": consensus,
            }


def stage_counts(*, project) -> dict:
    """The project's ranking side in numbers, for its overview."""
    tasks = RankingTask.objects.filter(project=project, is_gold=False)
    return {
        "prompts": Prompt.objects.filter(project=project).count(),
        "completions": Completion.objects.filter(prompt__project=project).count(),
        "tasks": tasks.count(),
        "tasks_complete": tasks.filter(is_complete=True).count(),
        "rankings": Ranking.objects.filter(task__project=project, is_gold=False).count(),
    }
