"""Rankings as data: validation, pairwise relations, agreement (pairwise, Kendall's W) and ranked-pairs consensus.

A ranking is a list of groups of item ids, best first; items in one group are tied. Pure functions, no Django.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations

Ranking = list[list[int]]


class RankingError(ValueError):
    """A submitted ranking that does not fit its task; the message says what is wrong."""


def normalize_ranking(value, *, item_ids: Sequence[int], allow_ties: bool) -> Ranking:
    """Groups of ids best first (a flat list of ids means no ties); every item exactly once.

    Linear in the size of what was sent, and bounded by the task before any other work: a ranking can hold no more
    entries than the task has items, so a 30,000-id submission is refused at its (K+1)-th id."""
    if not isinstance(value, list) or not value:
        raise RankingError("ranking must be a non-empty list of completion ids (or of groups of ids), best first")
    expected = set(item_ids)
    limit = len(expected)
    if len(value) > limit:
        raise RankingError(f"ranking has {len(value)} entries; this task has {limit} completions")
    groups: Ranking = []
    seen: set[int] = set()
    duplicates: set[int] = set()
    count = 0
    for position, entry in enumerate(value, start=1):
        members = entry if isinstance(entry, list) else [entry]
        if not members:
            raise RankingError(f"ranking[{position - 1}] is an empty group")
        count += len(members)
        if count > limit:
            raise RankingError(f"ranking lists more than the task's {limit} completions")
        for member in members:
            if isinstance(member, bool) or not isinstance(member, int):
                raise RankingError(f"ranking[{position - 1}] holds {str(member)[:40]!r}, not a completion id")
            if member in seen:
                duplicates.add(member)
            seen.add(member)
        if len(members) > 1 and not allow_ties:
            raise RankingError(f"ranking[{position - 1}] ties {len(members)} completions; this project allows no ties")
        groups.append(list(members))
    if duplicates:
        raise RankingError(f"ranking lists completion(s) {sorted(duplicates)} more than once")
    unknown = sorted(seen - expected)
    if unknown:
        raise RankingError(f"ranking holds completion(s) {unknown} that are not in this task")
    missing = sorted(expected - seen)
    if missing:
        raise RankingError(f"ranking leaves out completion(s) {missing}; rank all {len(expected)}")
    return groups


def positions(ranking: Ranking) -> dict[int, int]:
    """{item: group index}; tied items share an index."""
    return {item: index for index, group in enumerate(ranking) for item in group}


def ordered_pairs(ranking: Ranking) -> list[tuple[int, int, int]]:
    """(chosen, rejected, rank distance) for every untied pair: C(K,2) pairs for a ranking without ties."""
    pairs = []
    for i, upper in enumerate(ranking):
        for j in range(i + 1, len(ranking)):
            for chosen in upper:
                for rejected in ranking[j]:
                    pairs.append((chosen, rejected, j - i))
    return pairs


def _relation(pos: dict[int, int], a: int, b: int) -> int:
    return (pos[a] < pos[b]) - (pos[a] > pos[b])


def pairwise_agreement(first: Ranking, second: Ranking) -> float:
    """Share of item pairs that the two rankings order the same way (a tie agrees only with a tie)."""
    p, q = positions(first), positions(second)
    items = sorted(set(p) & set(q))
    pairs = list(combinations(items, 2))
    if not pairs:
        return 1.0
    same = sum(_relation(p, a, b) == _relation(q, a, b) for a, b in pairs)
    return same / len(pairs)


def _tied_ranks(ranking: Ranking) -> dict[int, float]:
    """Ranks 1..n with tied items given the mean of the ranks they span."""
    ranks, next_rank = {}, 1
    for group in ranking:
        mean = next_rank + (len(group) - 1) / 2
        for item in group:
            ranks[item] = mean
        next_rank += len(group)
    return ranks


def kendalls_w(rankings: Sequence[Ranking]) -> float | None:
    """Kendall's coefficient of concordance with the tie correction; None when undefined (< 2 raters or items)."""
    m = len(rankings)
    if m < 2:
        return None
    items = sorted(set.intersection(*(set(positions(r)) for r in rankings)))
    n = len(items)
    if n < 2:
        return None
    rank_maps = [_tied_ranks(r) for r in rankings]
    totals = [sum(ranks[item] for ranks in rank_maps) for item in items]
    mean = sum(totals) / n
    s = sum((total - mean) ** 2 for total in totals)
    ties = sum(len(group) ** 3 - len(group) for r in rankings for group in r)
    denominator = m * m * (n**3 - n) - m * ties
    if denominator <= 0:
        return 1.0  # every rater tied everything: perfect (if empty) concordance
    return 12 * s / denominator


def ranked_pairs(rankings: Iterable[Ranking], items: Sequence[int]) -> Ranking:
    """Tideman's ranked pairs over the rankings. Pairs are locked by margin, then winning votes, then item order
    (the order of `items`) so the result never depends on dict or database order; items left unordered (equal
    preference) share a group."""
    order = {item: index for index, item in enumerate(items)}
    wins = {(a, b): 0 for a in items for b in items if a != b}
    for ranking in rankings:
        pos = positions(ranking)
        for a, b in combinations(items, 2):
            if a in pos and b in pos and pos[a] != pos[b]:
                winner, loser = (a, b) if pos[a] < pos[b] else (b, a)
                wins[(winner, loser)] += 1
    majorities = [(wins[(a, b)] - wins[(b, a)], wins[(a, b)], a, b) for (a, b) in wins if wins[(a, b)] > wins[(b, a)]]
    majorities.sort(key=lambda m: (-m[0], -m[1], order[m[2]], order[m[3]]))
    beats: dict[int, set[int]] = {item: set() for item in items}

    def reaches(start: int, goal: int) -> bool:
        stack, seen = [start], {start}
        while stack:
            node = stack.pop()
            if node == goal:
                return True
            for nxt in beats[node] - seen:
                seen.add(nxt)
                stack.append(nxt)
        return False

    for _, _, winner, loser in majorities:
        if not reaches(loser, winner):
            beats[winner].add(loser)
    remaining = list(items)
    result: Ranking = []
    while remaining:
        beaten = {loser for w in remaining for loser in beats[w] if loser in remaining}
        sources = [item for item in remaining if item not in beaten]
        result.append(sources)
        remaining = [item for item in remaining if item not in sources]
    return result


def ranking_from_scores(scores: dict[int, float], *, ties: bool = True) -> Ranking:
    """Items best first by score; equal scores share a group when `ties` (else the lower id goes first)."""
    ordered = sorted(scores, key=lambda item: (-scores[item], item))
    groups: Ranking = []
    for item in ordered:
        if ties and groups and scores[groups[-1][0]] == scores[item]:
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def smallest_margin(scores: Iterable[float]) -> float | None:
    """The smallest gap between two of the scores: how close the scorer came to ordering some pair the other way."""
    ordered = sorted(scores)
    if len(ordered) < 2:
        return None
    return min(b - a for a, b in zip(ordered, ordered[1:], strict=False))
