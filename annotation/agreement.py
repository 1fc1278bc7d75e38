"""Agreement built for rankings and ratings (issue 37): Krippendorff's α (ordinal) over rankings and per aspect, each
task's pairwise agreement, each labeler's reliability (agreement with the leave-one-out consensus and with gold), and
the reliability-weighted Bradley–Terry consensus. Reads only; consensus.py stores what these compute.

What counts everywhere here: a labeler's ranking that ranks something (flag-only submissions have none) and that no
reviewer rejected. The LLM judge is never a labeler here.

Public functions (the dashboards, guardrails, exports and the benchmark call these):
- pure, on rankings as data: `rankings_alpha`, `aspects_alpha`, `task_pairwise_agreement`, `leave_one_out_agreements`,
  `combined_reliability`, `reliability_weight`, `bradley_terry`, `weighted_consensus`;
- on a project's stored rankings: `ranking_alpha`, `aspect_alpha`, `task_agreement`, `ranking_reliabilities`,
  `labeler_reliability`, `labeler_weights`, `project_agreement`.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import combinations

import numpy as np
from django.core.cache import cache

from annotation.models import Ranking, RankingConfig, RankingTask
from annotation.rankings import pairwise_agreement, positions, ranked_pairs

Groups = list[list[int]]

# A labeler of unknown reliability counts as this reliable, worth this many judged rankings: a few rankings move a
# labeler's weight only a little, so one lucky or unlucky task cannot decide it.
PRIOR_RELIABILITY = 0.75
PRIOR_RANKINGS = 5
# Weights are log-odds of agreeing on a pair (the optimal vote weight of independent voters), so chance (0.5) and
# worse weigh nothing; capped so that one labeler can never outvote every other.
MAX_RELIABILITY = 0.99
# Labeler weights are recomputed from the whole project at most this often (a submission reads them when its
# project's consensus method is weighted_bt).
WEIGHTS_TTL_S = 300
# Bradley–Terry: pseudo-wins each way on every pair (keeps the fit defined when an item never wins or never loses,
# as with a single ranking); the fit stops when no log-strength moves more than BT_TOL in a sweep, or after
# BT_MAX_SWEEPS; log-strengths closer than BT_TIE are a tie in the consensus.
BT_PRIOR = 0.1
BT_TOL = 1e-10
BT_MAX_SWEEPS = 1000
BT_TIE = 1e-6


# --- Krippendorff's α (ordinal) -------------------------------------------------------------------------------


def rank_values(groups: Groups) -> dict[int, int]:
    """{item: 1 + how many items the ranking puts strictly ahead of it}: [[a], [b, c], [d]] → a 1, b 2, c 2, d 4.
    The ordinal value α compares; a tie shares the better rank and the next item keeps its place."""
    values, ahead = {}, 0
    for group in groups:
        for item in group:
            values[item] = ahead + 1
        ahead += len(group)
    return values


def _alpha(units: Sequence[int], values: Sequence[int], domain: Sequence[int]) -> tuple[float | None, int]:
    """(ordinal α, pairable units) of values given to units (one entry per rating). Vectorised: the value counts per
    unit are one bincount, and krippendorff computes α from them. None when there is nothing to compare or every
    value is the same (α is 0/0 there)."""
    if not units or len(domain) < 2:
        return None, 0
    keys, unit_index = np.unique(np.asarray(units, dtype=np.int64), return_inverse=True)
    lowest, width = domain[0], len(domain)
    cells = unit_index * width + (np.asarray(values, dtype=np.int64) - lowest)
    counts = np.bincount(cells, minlength=len(keys) * width).reshape(len(keys), width)
    counts = counts[counts.sum(axis=1) >= 2]  # a unit only one labeler rated says nothing about agreement
    if not len(counts):
        return None, 0
    used = counts.sum(axis=0) > 0
    if used.sum() < 2:
        return None, len(counts)
    import krippendorff  # here, not at import: every process that loads the claims path imports this module

    value = krippendorff.alpha(value_counts=counts, value_domain=list(domain), level_of_measurement="ordinal")
    return (None if math.isnan(value) else float(value)), len(counts)


def rankings_alpha(rows: Iterable[tuple[int, Groups]]) -> dict:
    """Ordinal α of rankings given as (task id, groups): the units are a task's completions, each labeler's value for
    a unit is the completion's rank (`rank_values`). {"alpha", "units", "rankings"}."""
    units: list[int] = []
    values: list[int] = []
    count, largest = 0, 0
    for task_id, groups in rows:
        count += 1
        base = task_id << 32  # one unit per (task, completion), as one int64
        ahead = 0
        for group in groups:
            for item in group:
                units.append(base | item)
                values.append(ahead + 1)
            ahead += len(group)
        largest = max(largest, ahead)
    alpha, paired = _alpha(units, values, list(range(1, largest + 1)))
    return {"alpha": alpha, "units": paired, "rankings": count}


def aspects_alpha(rows: Iterable[tuple[int, dict]], definitions: Sequence[dict] = ()) -> list[dict]:
    """Ordinal α per aspect, from (task id, {completion id: {aspect key: value}}) rows; the units are a task's
    completions. `definitions` (a project's aspects: key, label, label_zh, min, max) give each aspect's scale and
    order; an aspect found only in the data is measured on the range it was given. One dict per aspect:
    {"key", "label", "label_zh", "alpha", "units", "ratings"}."""
    units: dict[str, list[int]] = defaultdict(list)
    values: dict[str, list[int]] = defaultdict(list)
    for task_id, scores in rows:
        for completion, ratings in (scores or {}).items():
            if not str(completion).isdigit() or not isinstance(ratings, dict):
                continue  # not a completion's scores (the submission rules keep these out; old rows may not)
            for key, value in ratings.items():
                if isinstance(value, int) and not isinstance(value, bool):
                    units[key].append((task_id << 32) | int(completion))
                    values[key].append(value)
    known = {d["key"]: d for d in definitions}
    out = []
    for key in [*known, *sorted(set(units) - set(known))]:
        definition = known.get(key, {})
        seen = values.get(key, [])
        low = definition.get("min", min(seen, default=0))
        high = definition.get("max", max(seen, default=0))
        kept = [(u, v) for u, v in zip(units.get(key, []), seen, strict=True) if low <= v <= high]
        alpha, paired = _alpha([u for u, _ in kept], [v for _, v in kept], list(range(low, high + 1)))
        out.append(
            {
                "key": key,
                "label": definition.get("label", key),
                "label_zh": definition.get("label_zh", definition.get("label", key)),
                "alpha": alpha,
                "units": paired,
                "ratings": len(kept),
            }
        )
    return out


# --- Per-task agreement and per-labeler reliability ------------------------------------------------------------


def task_pairwise_agreement(rankings: Sequence[Groups]) -> float | None:
    """Mean pairwise agreement (annotation.rankings.pairwise_agreement) over every two of a task's rankings; None
    with fewer than two. What RankingTask.agreement holds and the review queue's low-agreement policy reads."""
    if len(rankings) < 2:
        return None
    return round(statistics.fmean(pairwise_agreement(a, b) for a, b in combinations(rankings, 2)), 4)


def leave_one_out_agreements(tasks: Iterable[Sequence[Groups]]) -> list[list[float | None]]:
    """For each task (its rankings), each ranking's agreement with the others' consensus: on every item pair, the
    relation (ahead, tied, behind) most of the other rankings give it; the share of the pairs where that plurality
    is clear that this ranking orders alike. None for a ranking alone on its task or with no clear pair.

    Vectorised: tasks of the same shape (rankings × items) are stacked and computed at once, so 100,000 rankings
    take well under a second."""
    tasks = [list(t) for t in tasks]
    out: list[list[float | None]] = [[None] * len(t) for t in tasks]
    shapes: dict[tuple[int, int], list[int]] = defaultdict(list)
    for index, rankings in enumerate(tasks):
        if len(rankings) >= 2:
            shapes[(len(rankings), sum(len(g) for g in rankings[0]))].append(index)
    for (m, k), members in shapes.items():
        ranks = np.empty((len(members), m, k), dtype=np.int16)
        for row, index in enumerate(members):
            items = sorted(positions(tasks[index][0]))
            for r, groups in enumerate(tasks[index]):
                value = rank_values(groups)
                ranks[row, r] = [value.get(item, 0) for item in items]
        # rel[t, r, a, b] = +1 when ranking r puts a ahead of b, -1 behind, 0 tied
        rel = np.sign(ranks[:, :, None, :] - ranks[:, :, :, None]).astype(np.int8)
        totals = np.stack([(rel == v).sum(axis=1, dtype=np.int16) for v in (-1, 0, 1)])  # (3, T, K, K)
        others = totals[:, :, None] - np.stack([(rel == v) for v in (-1, 0, 1)]).astype(np.int16)  # (3, T, m, K, K)
        top = others.max(axis=0)
        clear = ((others == top).sum(axis=0) == 1) & np.triu(np.ones((k, k), dtype=bool), 1)
        plurality = others.argmax(axis=0).astype(np.int8) - 1
        agreed = ((rel == plurality) & clear).sum(axis=(2, 3))
        judged = clear.sum(axis=(2, 3))
        for row, index in enumerate(members):
            out[index] = [
                round(float(agreed[row, r] / judged[row, r]), 4) if judged[row, r] else None for r in range(m)
            ]
    return out


def combined_reliability(
    consensus_agreement: float | None, n: int, gold_accuracy: float | None = None, gold_n: int = 0
) -> float:
    """One reliability in 0–1 from agreement with the consensus (over n rankings) and with gold (over gold_n),
    each weighted by how many rankings it rests on, shrunk toward PRIOR_RELIABILITY by PRIOR_RANKINGS."""
    total = PRIOR_RELIABILITY * PRIOR_RANKINGS
    weight = PRIOR_RANKINGS
    if consensus_agreement is not None and n:
        total += consensus_agreement * n
        weight += n
    if gold_accuracy is not None and gold_n:
        total += gold_accuracy * gold_n
        weight += gold_n
    return total / weight


def reliability_weight(reliability: float) -> float:
    """A labeler's vote weight in the weighted consensus: the log-odds of agreeing on a pair, 0 at chance or worse
    (an adversarial labeler is ignored, not inverted), capped at MAX_RELIABILITY's."""
    r = min(max(reliability, 0.5), MAX_RELIABILITY)
    return math.log(r / (1 - r))


def bradley_terry(wins, prior: float = BT_PRIOR) -> list[float]:
    """Log-strengths (mean 0) of the Bradley–Terry model fitted by maximum likelihood to `wins` (wins[i][j]: how
    much i beat j; weighted, so fractional) plus `prior` wins each way on every pair. Newman's iteration (2022),
    one item at a time with the others' newest strengths: a few dozen sweeps for K ≤ 9. Plain floats, not numpy:
    on 9 items numpy's per-call cost is most of the time. tests/annotation/test_agreement.py checks it against
    choix's I-LSR on the same data."""
    k = len(wins)
    data = [[float(wins[i][j]) + prior if i != j else 0.0 for j in range(k)] for i in range(k)]
    strength = [1.0] * k
    for _ in range(BT_MAX_SWEEPS):
        before = strength[:]
        for i in range(k):
            gained = lost = 0.0
            for j in range(k):
                if j != i:
                    share = 1.0 / (strength[i] + strength[j])
                    gained += data[i][j] * strength[j] * share
                    lost += data[j][i] * share
            strength[i] = gained / lost
        scale = math.exp(statistics.fmean(math.log(x) for x in strength))
        strength = [x / scale for x in strength]
        if max(abs(math.log(a / b)) for a, b in zip(strength, before, strict=True)) < BT_TOL:
            break
    return [math.log(x) for x in strength]


def weighted_consensus(rankings: Sequence[Groups], weights: Sequence[float], items: Sequence[int]) -> Groups:
    """A Bradley–Terry fit (`bradley_terry`) to the rankings broken into pairs, each pair counted with its labeler's
    weight (a tie half to each side); best first, strengths within BT_TIE tied, equal strengths in `items` order.
    When no ranking has a positive weight, every labeler counts the same (annotation.rankings.ranked_pairs)."""
    index = {item: i for i, item in enumerate(items)}
    wins = [[0.0] * len(items) for _ in items]
    for groups, weight in zip(rankings, weights, strict=True):
        if weight <= 0:
            continue
        rank = rank_values(groups)
        for a, b in combinations(items, 2):
            if a not in rank or b not in rank:
                continue
            if rank[a] < rank[b]:
                wins[index[a]][index[b]] += weight
            elif rank[a] > rank[b]:
                wins[index[b]][index[a]] += weight
            else:
                wins[index[a]][index[b]] += weight / 2
                wins[index[b]][index[a]] += weight / 2
    if not any(any(row) for row in wins):
        return ranked_pairs(rankings, items=items)
    strengths = bradley_terry(wins)
    ordered = sorted(items, key=lambda item: (-strengths[index[item]], index[item]))
    result: Groups = []
    for item in ordered:
        if result and strengths[index[result[-1][-1]]] - strengths[index[item]] < BT_TIE:
            result[-1].append(item)
        else:
            result.append([item])
    return result


# --- On a project's stored rankings ----------------------------------------------------------------------------


def _counted(project, *, gold: bool = False, since=None, until=None):
    rows = Ranking.objects.filter(project=project, is_gold=gold, rejected=False).exclude(ranking=[])
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    return rows


def _aspect_definitions(project) -> list[dict]:
    aspects = RankingConfig.objects.filter(project=project).values_list("aspects", flat=True).first()
    return [a for a in aspects or [] if isinstance(a, dict) and "key" in a]


def ranking_alpha(project, since=None, until=None) -> dict:
    """Ordinal α of the project's rankings (those created in [since, until) when given): {"alpha", "units",
    "rankings"}; alpha None when no completion was ranked by two labelers."""
    return rankings_alpha(_counted(project, since=since, until=until).values_list("task_id", "ranking").iterator())


def aspect_alpha(project, since=None, until=None) -> list[dict]:
    """Ordinal α per aspect of the project (its defined aspects first, in their order, then any other found in the
    rankings): [{"key", "label", "label_zh", "alpha", "units", "ratings"}]."""
    rows = _counted(project, since=since, until=until).exclude(aspects={}).values_list("task_id", "aspects")
    return aspects_alpha(rows.iterator(), _aspect_definitions(project))


def task_agreement(task: RankingTask) -> float | None:
    """The task's pairwise agreement over its counted rankings (`task_pairwise_agreement`), read afresh."""
    rankings = Ranking.objects.filter(task=task, rejected=False).exclude(ranking=[]).order_by("id")
    return task_pairwise_agreement(list(rankings.values_list("ranking", flat=True)))


def ranking_reliabilities(project) -> list[dict]:
    """Every counted ranking of the project with its agreement: {"ranking_id", "labeler_id", "task_id",
    "created_at", "is_gold", "agreement"} — with the leave-one-out consensus for an ordinary task (None when no
    other labeler ranked it), with the known ranking for a gold task. The per-ranking series that
    `labeler_reliability` sums up and dashboards chart over time."""
    by_task: dict[int, list[dict]] = defaultdict(list)
    fields = ("id", "labeler_id", "task_id", "created_at", "ranking")
    for row in _counted(project).order_by("task_id", "id").values(*fields).iterator():
        by_task[row["task_id"]].append(row)
    groups = list(by_task.values())
    scores = leave_one_out_agreements([[row["ranking"] for row in rows] for rows in groups])
    out = []
    for rows, values in zip(groups, scores, strict=True):
        for row, value in zip(rows, values, strict=True):
            out.append(_reliability_row(row, is_gold=False, agreement=value))
    golds = dict(RankingTask.objects.filter(project=project, is_gold=True).values_list("pk", "gold_ranking"))
    for row in _counted(project, gold=True).values(*fields).iterator():
        gold = golds.get(row["task_id"])
        if gold:
            out.append(
                _reliability_row(row, is_gold=True, agreement=round(pairwise_agreement(row["ranking"], gold), 4))
            )
    return out


def _reliability_row(row: dict, *, is_gold: bool, agreement: float | None) -> dict:
    return {
        "ranking_id": row["id"],
        "labeler_id": row["labeler_id"],
        "task_id": row["task_id"],
        "created_at": row["created_at"],
        "is_gold": is_gold,
        "agreement": agreement,
    }


def labeler_reliability(project, since=None, until=None) -> dict[int, dict]:
    """{labeler id: {"consensus_agreement", "n", "gold_accuracy", "gold_n", "reliability", "weight"}} over the
    labelers' rankings created in [since, until) (all when not given): consensus_agreement is the mean agreement with
    the leave-one-out consensus over the n rankings it could be judged on (None when n is 0), gold_accuracy the mean
    pairwise agreement with gold over gold_n gold tasks; reliability combines both (`combined_reliability`), weight
    is its vote in the weighted consensus (`reliability_weight`). Labelers with no counted ranking are left out."""
    series: dict[int, dict[bool, list[float]]] = defaultdict(lambda: {False: [], True: []})
    for row in ranking_reliabilities(project):
        created = row["created_at"]
        if (since is not None and created < since) or (until is not None and created >= until):
            continue
        values = series[row["labeler_id"]][row["is_gold"]]
        if row["agreement"] is not None:
            values.append(row["agreement"])
    out = {}
    for labeler_id, values in series.items():
        consensus, gold = values[False], values[True]
        agreement = round(statistics.fmean(consensus), 4) if consensus else None
        accuracy = round(statistics.fmean(gold), 4) if gold else None
        reliability = combined_reliability(agreement, len(consensus), accuracy, len(gold))
        out[labeler_id] = {
            "consensus_agreement": agreement,
            "n": len(consensus),
            "gold_accuracy": accuracy,
            "gold_n": len(gold),
            "reliability": round(reliability, 4),
            "weight": round(reliability_weight(reliability), 4),
        }
    return out


def labeler_weights(project, *, fresh: bool = False) -> dict[int, float]:
    """{labeler id: vote weight} for the weighted consensus, recomputed from the whole project at most every
    WEIGHTS_TTL_S seconds (fresh: now). A labeler not in it weighs reliability_weight(PRIOR_RELIABILITY)."""
    key = f"annotation:labeler-weights:{project.pk}:{project.created_at.timestamp() if project.created_at else ''}"
    weights = None if fresh else cache.get(key)
    if weights is None:
        weights = {lid: row["weight"] for lid, row in labeler_reliability(project).items()}
        cache.set(key, weights, WEIGHTS_TTL_S)
    return weights


def project_agreement(project, since=None, until=None) -> dict:
    """Everything the agreement API, CLI and export lineage show, over the rankings made in [since, until) (all when
    not given): the consensus method, α of the rankings, α per aspect, and each labeler's reliability (with their
    username), most reliable first."""
    from django.contrib.auth import get_user_model  # the user model is the project's setting, read when called

    method = RankingConfig.objects.filter(project=project).values_list("consensus_method", flat=True).first()
    reliability = labeler_reliability(project, since=since, until=until)
    names = dict(get_user_model().objects.filter(pk__in=list(reliability)).values_list("pk", "username"))
    labelers = [{"labeler_id": lid, "labeler": names.get(lid, ""), **row} for lid, row in reliability.items()]
    labelers.sort(key=lambda row: (-row["reliability"], row["labeler"]))
    return {
        "consensus_method": method or RankingConfig._meta.get_field("consensus_method").default,
        "rankings": ranking_alpha(project, since=since, until=until),
        "aspects": aspect_alpha(project, since=since, until=until),
        "labelers": labelers,
    }
