"""Rankings as data: pairs, agreement, Kendall's W and ranked-pairs consensus."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotation.rankings import (
    RankingError,
    kendalls_w,
    normalize_ranking,
    ordered_pairs,
    pairwise_agreement,
    ranked_pairs,
)


@st.composite
def rankings(draw, items=(1, 2, 3, 4, 5), ties=True):
    order = draw(st.permutations(list(items)))
    groups, current = [], [order[0]]
    for item in order[1:]:
        if ties and draw(st.booleans()) and draw(st.booleans()):
            current.append(item)
        else:
            groups.append(current)
            current = [item]
    groups.append(current)
    return groups


@given(st.integers(min_value=2, max_value=9))
def test_a_ranking_of_k_gives_k_choose_2_pairs(k):
    pairs = ordered_pairs([[i] for i in range(k)])
    assert len(pairs) == math.comb(k, 2)
    assert all(chosen < rejected and distance == rejected - chosen for chosen, rejected, distance in pairs)


def test_tied_pairs_are_skipped():
    assert sorted(p[:2] for p in ordered_pairs([[1], [2, 3], [4]])) == [(1, 2), (1, 3), (1, 4), (2, 4), (3, 4)]


@given(rankings())
def test_ranked_pairs_of_one_ranking_is_that_ranking(ranking):
    items = sorted(i for g in ranking for i in g)
    assert [sorted(g) for g in ranked_pairs([ranking], items)] == [sorted(g) for g in ranking]
    assert pairwise_agreement(ranking, ranking) == 1.0


@given(st.lists(rankings(ties=False), min_size=2, max_size=6))
def test_ranked_pairs_is_a_full_order_that_keeps_every_item_and_respects_unanimity(many):
    items = [1, 2, 3, 4, 5]
    result = ranked_pairs(many, items)
    assert sorted(i for g in result for i in g) == items
    position = {i: n for n, g in enumerate(result) for i in g}
    for a in items:
        for b in items:
            if a != b and all(
                next(n for n, g in enumerate(r) if a in g) < next(n for n, g in enumerate(r) if b in g) for r in many
            ):
                assert position[a] < position[b]  # what every labeler agrees on, the consensus keeps


def test_a_condorcet_cycle_is_broken_deterministically():
    cycle = [[[1], [2], [3]], [[2], [3], [1]], [[3], [1], [2]]]
    first = ranked_pairs(cycle, [1, 2, 3])
    assert first == ranked_pairs(list(reversed(cycle)), [1, 2, 3]) == [[1], [2], [3]]


def test_kendalls_w_known_values():
    assert kendalls_w([[[1], [2], [3]], [[1], [2], [3]], [[1], [2], [3]]]) == pytest.approx(1.0)
    assert kendalls_w([[[1], [2]], [[2], [1]]]) == pytest.approx(0.0)
    # three raters, four items (textbook example): rank sums 4, 8, 9, 9 → W = 12*S/(m²(n³-n)) = 12*14/(9*60)
    w = kendalls_w([[[1], [2], [3], [4]], [[1], [3], [2], [4]], [[1], [4], [3], [2]]])
    totals = [3, 2 + 3 + 4, 3 + 2 + 3, 4 + 4 + 2]
    s = sum((t - 7.5) ** 2 for t in totals)
    assert w == pytest.approx(12 * s / (9 * 60))
    assert kendalls_w([[[1], [2]]]) is None


def test_pairwise_agreement_counts_ties_as_their_own_relation():
    assert pairwise_agreement([[1], [2], [3]], [[1], [3], [2]]) == pytest.approx(2 / 3)
    assert pairwise_agreement([[1, 2], [3]], [[1], [2], [3]]) == pytest.approx(2 / 3)


def test_normalize_accepts_flat_lists_and_rejects_bad_shapes():
    assert normalize_ranking([3, 1, 2], item_ids=[1, 2, 3], allow_ties=False) == [[3], [1], [2]]
    with pytest.raises(RankingError, match="empty group"):
        normalize_ranking([[], [1, 2, 3]], item_ids=[1, 2, 3], allow_ties=True)
    with pytest.raises(RankingError, match="non-empty list"):
        normalize_ranking({"a": 1}, item_ids=[1], allow_ties=True)
    with pytest.raises(RankingError, match="not a completion id"):
        normalize_ranking([True, 2], item_ids=[1, 2], allow_ties=True)
