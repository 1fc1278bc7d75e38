"""Reads for labeler quality (issue 37): each labeler's standing in a project (paused by a guardrail or not, and
why, in the reader's language), and what the ranking dashboard and the console's quality page show — α of the
rankings and per aspect, each labeler's reliability, and both over time. The measures are annotation/agreement.py's.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from annotation import agreement
from annotation.aspects import aspect_label
from annotation.models import LabelerStatus, Ranking, RankingConfig
from projects.models import Membership, Role

# A pause's stored reason holds its message in every language of the site, one a line, in this order
# (annotation/guardrails.py writes it); each reader is shown the line of their own language (pause_message).
REASON_LANGUAGES = ("en", "zh-hans")

# The α-over-time chart reads at most this many of the project's newest rankings (the pages showing it poll).
TIMELINE_MAX_RANKINGS = 20_000
# Lines on the per-labeler chart: the labelers with the most judged rankings (a legend of hundreds helps nobody).
TIMELINE_MAX_LABELERS = 12
# At most this many points per line: hours since the first ranking, in buckets of whole hours or wider.
TIMELINE_POINTS = 48


def pause_message(reason: str) -> str:
    """A stored reason in the active language (its line for it; a reason of one line is shown as written)."""
    lines = reason.splitlines()
    language = (translation.get_language() or REASON_LANGUAGES[0]).lower()
    for code, line in zip(REASON_LANGUAGES, lines, strict=False):
        if language.split("-")[0] == code.split("-")[0]:
            return line
    return lines[0] if lines else reason


def get_project_labeler(*, project, username: str):
    """The user named `username` when they label in the project (a labeler membership) or have ranked in it."""
    return (
        get_user_model()
        .objects.filter(username=username)
        .filter(Q(memberships__project=project, memberships__role=Role.LABELER) | Q(rankings__project=project))
        .distinct()
        .first()
    )


def labeler_standings(*, project) -> list[dict]:
    """Every labeler of the project (a labeler membership, a ranking or a status), by name: paused or not, why (in
    the active language), and who reinstated them last."""
    statuses = {s.labeler_id: s for s in LabelerStatus.objects.filter(project=project).select_related("reinstated_by")}
    members = Membership.objects.filter(project=project, role=Role.LABELER).values("user_id")
    ranked = Ranking.objects.filter(project=project).values("labeler_id")
    users = get_user_model().objects.filter(Q(pk__in=members) | Q(pk__in=ranked) | Q(pk__in=list(statuses)))
    rows = []
    for user in users.order_by("username"):
        status = statuses.get(user.pk)
        rows.append(
            {
                "labeler_id": user.pk,
                "labeler": user.username,
                "paused": bool(status and status.paused),
                "reason": pause_message(status.reason) if status and status.paused else "",
                "paused_at": status.paused_at if status else None,
                "reinstated_by": status.reinstated_by.username if status and status.reinstated_by else None,
                "reinstated_at": status.reinstated_at if status else None,
            }
        )
    return rows


def quality_overview(*, project) -> dict:
    """What the dashboards show: α of the rankings ({"alpha", "units", "rankings"}), α per aspect (each with its
    `name` in the active language), every labeler's standing with their reliability (agreement.labeler_reliability's
    figures, None where they have none), how many are paused, and the charts over time (quality_timeline)."""
    language = translation.get_language() or "en"
    aspects = [{**row, "name": aspect_label(row, language)} for row in agreement.aspect_alpha(project)]
    reliability = agreement.labeler_reliability(project)
    empty = dict.fromkeys(("consensus_agreement", "n", "gold_accuracy", "gold_n", "reliability", "weight"))
    labelers = [
        {**empty, **reliability.get(row["labeler_id"], {}), **row} for row in labeler_standings(project=project)
    ]
    return {
        "alpha": agreement.ranking_alpha(project),
        "aspects": aspects,
        "labelers": labelers,
        "paused": sum(row["paused"] for row in labelers),
        "timeline": quality_timeline(project=project),
    }


# --- Over time ----------------------------------------------------------------------------------------------------


def _axis(times: list) -> tuple:
    """(the first time, the bucket width in hours) of the charts' x axis: hours since the first ranking."""
    start = min(times)
    hours = max((max(times) - start).total_seconds() / 3600, 1.0)
    return start, max(1.0, math.ceil(hours / TIMELINE_POINTS))


def _bucket(at, start, width: float) -> float:
    return math.floor((at - start).total_seconds() / 3600 / width) * width


def quality_timeline(*, project) -> dict[str, dict[str, list[list[float]]]]:
    """The quality charts, as {chart: {line: [[x, y], …]}}, x in hours since the project's first counted ranking:
    - "reliability", a line per labeler (the TIMELINE_MAX_LABELERS with the most judged rankings): the mean agreement
      of their rankings with the leave-one-out consensus, by the hour each ranking came in;
    - "alpha", a line for the rankings and one per aspect: Krippendorff's α (ordinal) over the tasks whose last
      ranking came in that hour (of the newest TIMELINE_MAX_RANKINGS), where two labelers rated something."""
    judged = [
        row for row in agreement.ranking_reliabilities(project) if not row["is_gold"] and row["agreement"] is not None
    ]
    newest = (
        Ranking.objects.filter(project=project, is_gold=False, rejected=False)
        .exclude(ranking=[])
        .order_by("-id")
        .values_list("task_id", "ranking", "aspects", "created_at")[:TIMELINE_MAX_RANKINGS]
    )
    rows = list(newest)
    times = [row["created_at"] for row in judged] + [row[3] for row in rows]
    if not times:
        return {"reliability": {}, "alpha": {}}
    start, width = _axis(times)
    return {"reliability": _reliability_lines(judged, start, width), "alpha": _alpha_lines(project, rows, start, width)}


def _reliability_lines(judged: list[dict], start, width: float) -> dict:
    values: dict[int, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in judged:
        values[row["labeler_id"]][_bucket(row["created_at"], start, width)].append(row["agreement"])
    busiest = sorted(values, key=lambda lid: -sum(len(v) for v in values[lid].values()))[:TIMELINE_MAX_LABELERS]
    names = dict(get_user_model().objects.filter(pk__in=busiest).values_list("pk", "username"))
    return {
        names.get(lid, str(lid)): [[b, round(statistics.fmean(v), 4)] for b, v in sorted(values[lid].items())]
        for lid in sorted(busiest, key=lambda lid: names.get(lid, ""))
    }


def _alpha_lines(project, rows: list, start, width: float) -> dict:
    definitions = RankingConfig.objects.filter(project=project).values_list("aspects", flat=True).first() or []
    by_task: dict[int, list] = defaultdict(list)
    for row in rows:
        by_task[row[0]].append(row)
    buckets: dict[float, list[int]] = defaultdict(list)
    for task_id, ranked in by_task.items():
        if len(ranked) >= 2:
            buckets[_bucket(max(r[3] for r in ranked), start, width)].append(task_id)
    language = translation.get_language() or "en"
    lines: dict[str, list[list[float]]] = defaultdict(list)
    for bucket in sorted(buckets):
        ranked = [r for task_id in buckets[bucket] for r in by_task[task_id]]
        value = agreement.rankings_alpha((r[0], r[1]) for r in ranked)["alpha"]
        if value is not None:
            lines[_("the rankings")].append([bucket, round(value, 4)])
        for aspect in agreement.aspects_alpha([(r[0], r[2]) for r in ranked if r[2]], definitions):
            if aspect["alpha"] is not None:
                lines[aspect_label(aspect, language)].append([bucket, round(aspect["alpha"], 4)])
    return dict(lines)
