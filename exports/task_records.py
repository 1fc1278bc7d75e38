"""What a preference build keeps per task besides its pairs: the margin a labeler's preference strength gives a
pair, and the task's record for the aspects and disagreements shapes (exports/task_shapes.py).

Margin from strength: a labeler says, for each adjacent pair of places in the ranking (best first), how much better
the upper answer is — much_better 3, better 2, slightly_better 1, tie 0 — and a pair's margin is the sum over the
steps between its two answers (A much better than B, B slightly better than C: A over C has margin 4). TRL's
RewardTrainer reads `margin` as how far apart the two rewards should be. A ranking without strengths keeps the rank
distance. A consensus pair's margin is the mean, over the labelers who gave strengths, of their margin for that
pair (negative where a labeler ordered it the other way), never below 0.
"""

from __future__ import annotations

from annotation.rankings import positions
from selfinstruct.text import prompt_text

STRENGTH_MARGIN = {"much_better": 3, "better": 2, "slightly_better": 1, "tie": 0}


def strength_steps(ranking: list[list[int]], strengths) -> list[int] | None:
    """The ranking's strengths as numbers, one per adjacent pair of places; None when it has none that fit."""
    if not isinstance(strengths, list) or not strengths or len(strengths) != len(ranking) - 1:
        return None
    if any(s not in STRENGTH_MARGIN for s in strengths):
        return None
    return [STRENGTH_MARGIN[s] for s in strengths]


def pair_margin(pos: dict[int, int], steps: list[int], chosen: int, rejected: int) -> int:
    """The summed strength from `chosen`'s place down to `rejected`'s (negative when the ranking has them the
    other way round, 0 when it ties them)."""
    upper, lower = pos[chosen], pos[rejected]
    if upper <= lower:
        return sum(steps[upper:lower])
    return -sum(steps[lower:upper])


def consensus_margin(raw, chosen: int, rejected: int) -> float | None:
    """The mean strength margin of the pair over the rankings with strengths (≥ 0), else None."""
    margins = []
    for ranking in raw:
        steps = strength_steps(ranking.ranking, ranking.strengths)
        pos = positions(ranking.ranking)
        if steps is not None and chosen in pos and rejected in pos:
            margins.append(pair_margin(pos, steps, chosen, rejected))
    if not margins:
        return None
    return max(round(sum(margins) / len(margins), 4), 0.0)


def task_record(task: dict, *, disputed_below: float) -> dict:
    """One task's canonical record (the build adds its split). Completions in the order labelers saw them."""
    consensus = task.get("consensus")
    agreement = task["agreement"]
    return {
        "group_id": f"prompt-{task['prompt_id']}",
        "task_id": task["task_id"],
        "prompt": prompt_text(task["instruction"], task["input"]),
        "language": task["language"],
        "category": task["category"],
        "completions": [{"id": cid, "text": c["text"], "model": c["model"]} for cid, c in task["completions"].items()],
        "rankings": [
            {
                "ranking_id": r.pk,
                "labeler": r.labeler.username,
                "ranking": r.ranking,
                "strengths": r.strengths or [],
                "rationale": r.rationale,
                "aspects": r.aspects or {},
            }
            for r in task["raw"]
        ],
        "consensus": consensus.ranking if consensus is not None else None,
        "consensus_method": consensus.method if consensus is not None else None,
        "agreement": round(agreement, 4) if agreement is not None else None,
        "disputed": agreement is not None and agreement < disputed_below,
    }
