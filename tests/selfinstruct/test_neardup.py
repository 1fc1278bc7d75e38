"""The exact near-duplicate index gives the same answers as comparing with every item (brute force)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from selfinstruct.neardup import NearDuplicateIndex
from tests.helpers.pool import ExhaustiveIndex

WORDS = [
    "the",
    "a",
    "of",
    "explain",
    "list",
    "write",
    "three",
    "tips",
    "healthy",
    "fruit",
    "red",
    "sort",
    "story",
    "cat",
    "dog",
    "numbers",
    "你",
    "好",
    "世",
    "界",
    "中",
    "文",
    "学",
    "习",
    "🙂",
    "C++",
    "e-mail",
    "3D",
]
texts = st.lists(st.sampled_from(WORDS), min_size=0, max_size=14).map(" ".join)


def build_both(pool, split):
    brute, index = ExhaustiveIndex(), NearDuplicateIndex()
    index.build([(str(i), t) for i, t in enumerate(pool[:split])])
    for i, text in enumerate(pool):
        brute.add(str(i), text)
        if i >= split:
            index.add(str(i), text)  # the rest incrementally
    return brute, index


@settings(max_examples=150, deadline=None)
@given(
    pool=st.lists(texts, max_size=30),
    queries=st.lists(texts, min_size=1, max_size=5),
    k=st.integers(1, 12),
    split=st.integers(0, 30),
    data=st.data(),
)
def test_most_similar_and_decisions_equal_brute_force(pool, queries, k, split, data):
    brute, index = build_both(pool, min(split, len(pool)))
    if pool:
        queries = queries + [data.draw(st.sampled_from(pool))]
    for query in queries:
        expected = brute.most_similar(query, k)
        got = index.most_similar(query, k)
        assert [i for i, _ in got] == [i for i, _ in expected]
        assert all(abs(a - b) < 1e-12 for (_, a), (_, b) in zip(got, expected, strict=True))
        for threshold in (0.7, 0.75, 0.9):
            assert index.is_near_duplicate(query, threshold) == brute.is_near_duplicate(query, threshold)


def mutate(words, edits):
    """A near-paraphrase: substitutions, insertions, deletions and swaps drawn by hypothesis."""
    words = list(words)
    for op, position, word in edits:
        if not words:
            words.append(word)
            continue
        position %= len(words)
        if op == 0:
            words[position] = word
        elif op == 1:
            words.insert(position, word)
        elif op == 2 and len(words) > 1:
            words.pop(position)
        else:
            words[position], words[-1] = words[-1], words[position]
    return words


edits = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 400), st.sampled_from(WORDS)), max_size=25)


@settings(max_examples=40, deadline=None)
@given(
    bases=st.lists(st.lists(st.sampled_from(WORDS), min_size=40, max_size=160), min_size=1, max_size=4),
    variants=st.lists(st.tuples(st.integers(0, 3), edits), min_size=1, max_size=25),
    queries=st.lists(st.tuples(st.integers(0, 3), edits), min_size=1, max_size=4),
    split=st.integers(0, 30),
)
def test_long_paraphrases_agree_with_brute_force(bases, variants, queries, split):
    """Texts of 40-200 tokens: wide length buckets, multi-word bit-parallel LCS, many near-duplicates."""
    pool = [" ".join(mutate(bases[b % len(bases)], e)) for b, e in variants]
    brute, index = build_both(pool, min(split, len(pool)))
    for b, e in queries:
        query = " ".join(mutate(bases[b % len(bases)], e))
        expected = brute.most_similar(query, 5)
        got = index.most_similar(query, 5)
        assert [i for i, _ in got] == [i for i, _ in expected]
        assert [s for _, s in got] == [s for _, s in expected]
        for threshold in (0.7, 0.8, 0.95):
            above = {index.item_id(i) for i in index.candidates_above(query, threshold)[0]}
            assert above == {i for i, s in brute.scores(query) if s > threshold}
            assert index.is_near_duplicate(query, threshold) == bool(above)


def test_growth_after_build_keeps_answers_exact():
    """Thousands of incremental adds after a build move lists, grow the arenas and compact them."""
    import random

    rng = random.Random(3)
    vocabulary = [f"w{i}" for i in range(300)]
    texts = [" ".join(rng.choices(vocabulary, k=rng.randint(3, 90))) for _ in range(3000)]
    brute = ExhaustiveIndex()
    for i, text in enumerate(texts):
        brute.add(str(i), text)
    index = NearDuplicateIndex()
    index.compact_slack = 0  # compact as soon as garbage outgrows the live entries
    index.build([(str(i), t) for i, t in enumerate(texts[:200])])
    for i, text in enumerate(texts[200:], start=200):
        index.add(str(i), text)
    assert index.compactions > 0
    for _ in range(40):
        source = rng.choice(texts).split()
        source[rng.randrange(len(source))] = rng.choice(vocabulary)
        query = " ".join(source)
        assert index.is_near_duplicate(query) == brute.is_near_duplicate(query)
        above = {index.item_id(i) for i in index.candidates_above(query)[0]}
        assert above == {i for i, s in brute.scores(query) if s > 0.7}
    assert index.most_similar(texts[-1], 3) == brute.most_similar(texts[-1], 3)


@pytest.mark.long(40)
def test_a_vocabulary_past_16_bit_token_ids_widens_the_store_and_stays_exact():
    """Token ids are stored in 16 bits until the vocabulary outgrows them; the items added before and after agree."""
    import numpy as np

    index = NearDuplicateIndex().build([(f"a{i}", f"alpha{i} beta{i} gamma{i} delta{i}") for i in range(16_000)])
    assert index._tokens.dtype == np.uint16
    index.build([(f"b{i}", f"epsilon{i} zeta{i} eta{i} theta{i} iota{i}") for i in range(4_000)])
    assert len(index._token_ids) > 65_536 and index._tokens.dtype == np.int32
    index.add("c", "alpha15999 beta15999 gamma15999 delta15999 extra")
    assert index.near_duplicates("alpha15999 beta15999 gamma15999 delta15999")[0][0] == "a15999"
    assert index.near_duplicates("epsilon3999 zeta3999 eta3999 theta3999 iota3999")[0] == ("b3999", 1.0)
    assert index.most_similar("alpha7 beta7 gamma7 delta7 extra", 2)[0] == ("a7", pytest.approx(8 / 9))


@settings(max_examples=60, deadline=None)
@given(
    a=st.lists(st.sampled_from(WORDS[:16]), min_size=1, max_size=20).map(" ".join),
    b=st.lists(st.sampled_from(WORDS[:16]), min_size=1, max_size=20).map(" ".join),
)
def test_english_scores_equal_rouge_score(a, b):
    index = NearDuplicateIndex()
    index.add("b", b)
    reference = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False).score(a, b)["rougeL"].fmeasure
    got = index.most_similar(a, 1)
    assert (got[0][1] if got else 0.0) == reference  # the same float, not just close


@pytest.mark.parametrize(
    "text",
    [
        "",
        "?!…。，",
        "🙂🙂🙂",
        "Résumé naïve café",
        "用Python写一个quick sort函数 😀",
        " ".join(f"word{i}" for i in range(200)),
        "重复重复重复重复重复重复重复重复重复重复重复重复" * 10,
    ],
)
def test_edge_cases_agree_with_brute_force(text):
    pool = [
        "",
        "Résumé of a naive cafe",
        "用Python写一个快速排序函数",
        " ".join(f"word{i}" for i in range(190)),
        "重复重复重复重复重复重复重复重复" * 12,
        "🙂",
    ]
    brute, index = build_both(pool, 3)
    assert index.most_similar(text, 10) == brute.most_similar(text, 10)
    assert index.is_near_duplicate(text) == brute.is_near_duplicate(text)


def test_long_texts_use_the_big_integer_path():
    long_a = " ".join(f"w{i}" for i in range(100))
    long_b = " ".join(f"w{i}" for i in range(5, 100))
    index = NearDuplicateIndex()
    index.add("b", long_b)
    assert index.is_near_duplicate(long_a)
    assert index.most_similar(long_a, 1)[0][1] == pytest.approx(2 * 95 / 195)


def test_chinese_near_duplicates_are_caught():
    index = NearDuplicateIndex()
    index.add("x", "把下面的会议记录整理成三条要点。")
    assert index.is_near_duplicate("把下面的会议纪要整理成三个要点。")
    assert not index.is_near_duplicate("为一家面包店起三个名字。")


def test_threshold_below_the_index_threshold_is_refused():
    with pytest.raises(ValueError, match="prunes for F > 0.7"):
        NearDuplicateIndex().is_near_duplicate("x", 0.5)


def test_formulaic_pool_with_every_token_common_keeps_answers_exact():
    """A formulaic pool (the same frames and a small vocabulary recombined, topics and constraints before or after,
    some texts longer than 64 tokens so buckets hold many lengths): every query element's list is long and most
    entries are dropped by their signature alone. Answers must still equal brute force, including near the
    threshold."""
    import random

    rng = random.Random(11)
    verbs, heads = ["list", "explain", "compare", "draft", "rank"], ["risks", "tips", "dates", "costs", "steps"]
    topics = ["school trip", "product launch", "garden party", "code review", "bike lane", "city budget"]
    tails = ["in under 100 words", "for new parents", "as a bulleted list", "with a friendly tone", "in a table"]

    def compose() -> str:
        parts = [rng.choice(verbs), rng.choice(["the", "three", "five"]), rng.choice(heads), "of a"]
        parts.append(rng.choice(topics))
        for _ in range(rng.randint(0, 3)):
            tail = rng.choice(tails)
            parts = [tail, *parts] if rng.random() < 0.5 else [*parts, tail]
        if rng.random() < 0.05:
            parts *= 6  # a long text: its length bucket spans several lengths
        return " ".join(parts)

    texts = [compose() for _ in range(3000)]
    brute, index = ExhaustiveIndex(), NearDuplicateIndex()
    for i, text in enumerate(texts):
        brute.add(str(i), text)
    index.build([(str(i), t) for i, t in enumerate(texts[:2200])])
    for i, text in enumerate(texts[2200:], start=2200):
        index.add(str(i), text)
    near = 0
    for n in range(150):
        query = compose() if n % 2 else " ".join(rng.choice(texts).split()[1:])
        scores = brute.scores(query)
        expected = {i for i, s in scores if s > 0.7}
        near += any(0.6 <= s <= 0.8 for _, s in scores)
        assert {index.item_id(i) for i in index.candidates_above(query)[0]} == expected, query
        assert index.is_near_duplicate(query) == bool(expected)
    assert near > 50  # the sample really probes the threshold


def test_top_k_worked_out_before_new_items_is_completed_exactly():
    """The accepted row's top 10 is computed before the pool lock; under it only the items added since are scored:
    the merged answer equals a fresh exact top 10, ties ordered by insertion."""
    import random

    rng = random.Random(5)
    vocabulary = [f"w{i}" for i in range(40)]
    texts = [" ".join(rng.choices(vocabulary, k=rng.randint(4, 16))) for _ in range(600)]
    index = NearDuplicateIndex().build([(str(i), t) for i, t in enumerate(texts[:500])])
    queries = [rng.choice(texts) for _ in range(20)] + [" ".join(rng.choices(vocabulary, k=8)) for _ in range(20)]
    earlier = {q: index.ranked(q, 10) for q in queries}
    since = len(index)
    for i, text in enumerate(texts[500:], start=500):
        index.add(str(i), text)
    index.add("copy", queries[0])  # an exact copy added since ranks first
    for query in queries:
        assert index.ranked_since(query, earlier[query], since, 10) == index.ranked(query, 10)
    assert index.item_id(index.ranked_since(queries[0], earlier[queries[0]], since, 1)[0][0]) in {"copy"} | {
        str(i) for i, t in enumerate(texts) if t == queries[0]
    }
