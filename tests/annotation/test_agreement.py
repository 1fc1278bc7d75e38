"""Agreement built for rankings (annotation/agreement.py): Krippendorff's α against the krippendorff package and a
hand-computed case, leave-one-out reliability, the reliability-weighted consensus, and the API/CLI that show them."""

from __future__ import annotations

import json
import random
from io import StringIO

import krippendorff
import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from annotation import agreement
from annotation.claims import claim_next_ranking_task, submit_ranking
from annotation.consensus import refresh_consensus
from annotation.models import Assignment, AssignmentStatus, Consensus, Ranking, RankingTask
from annotation.rankings import ranked_pairs
from annotation.services import update_ranking_config


def _rank(task, user, groups, *, aspects=None):
    """A stored ranking without the claim flow (the statistics read rows; how they were claimed does not matter)."""
    now = timezone.now()
    assignment = Assignment.objects.create(
        task=task, labeler=user, status=AssignmentStatus.SUBMITTED, claimed_at=now, lease_expires_at=now
    )
    return Ranking.objects.create(
        task=task, labeler=user, assignment=assignment, ranking=groups, is_gold=task.is_gold, aspects=aspects or {}
    )


def _noisy(order, rng, swaps):
    order = list(order)
    for _ in range(swaps):
        i = rng.randrange(len(order) - 1)
        order[i], order[i + 1] = order[i + 1], order[i]
    return [[item] for item in order]


def test_ranking_alpha_equals_the_krippendorff_package_on_the_same_data(project, make_tasks, labelers):
    rng = random.Random(3)
    users = labelers(4)
    tasks = make_tasks(8)
    matrix: dict[tuple[int, int], dict[int, int]] = {}
    for task in tasks:
        for index, user in enumerate(users):
            if rng.random() < 0.25:
                continue  # not every labeler ranks every task
            groups = _noisy(task.completion_ids, rng, rng.randrange(4))
            if rng.random() < 0.3:
                groups = [groups[0] + groups[1], *groups[2:]]  # a tie
            _rank(task, user, groups)
            for position, group in enumerate(groups):
                ahead = sum(len(g) for g in groups[:position])
                for item in group:
                    matrix.setdefault((task.pk, item), {})[index] = ahead + 1
    units = sorted(matrix)
    data = np.full((len(users), len(units)), np.nan)
    for column, unit in enumerate(units):
        for index, value in matrix[unit].items():
            data[index, column] = value
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")
    got = agreement.ranking_alpha(project)
    assert got["alpha"] == pytest.approx(expected, abs=1e-12)
    assert got["units"] == sum(len(v) >= 2 for v in matrix.values())


def test_ranking_alpha_of_a_hand_computed_case():
    # Two labelers, two tasks of two answers: they agree on the first, reverse the second. Values 1 and 2, four of
    # each; coincidences o11 = o22 = o12 = o21 = 2; ordinal δ²(1,2) = (4 + 4 − (4 + 4)/2)² = 16;
    # α = 1 − (n − 1)·Σo·δ² / Σn_c·n_k·δ² = 1 − 7·(2·2·16) / (2·4·4·16) = 1 − 448/512 = 0.125.
    rows = [(1, [[10], [11]]), (1, [[10], [11]]), (2, [[20], [21]]), (2, [[21], [20]])]
    assert agreement.rankings_alpha(rows) == {"alpha": pytest.approx(0.125), "units": 4, "rankings": 4}
    assert agreement.rankings_alpha(rows[:2])["alpha"] == pytest.approx(1.0)
    assert agreement.rankings_alpha(rows[:1])["alpha"] is None  # nothing ranked twice


def test_aspect_alpha_uses_the_aspect_scale_and_skips_values_off_it():
    rows = [(1, {"10": {"helpfulness": 4}, "11": {"helpfulness": 0}}), (1, {"10": {"helpfulness": 4, "x": 9}})]
    definitions = [{"key": "helpfulness", "label": "Helpfulness", "label_zh": "有用性", "min": 0, "max": 4}]
    (helpful, extra) = agreement.aspects_alpha(rows, definitions)
    assert helpful["key"] == "helpfulness" and helpful["label_zh"] == "有用性"
    assert helpful["units"] == 1 and helpful["ratings"] == 3
    assert helpful["alpha"] is None  # one pairable unit, one value: α is 0/0
    assert extra["key"] == "x" and extra["alpha"] is None


def test_leave_one_out_agreement_and_task_agreement_by_hand():
    forward, backward = [[1], [2], [3]], [[3], [2], [1]]
    assert agreement.leave_one_out_agreements([[forward, forward, forward, backward], [forward]]) == [
        [1.0, 1.0, 1.0, 0.0],
        [None],
    ]
    assert agreement.task_pairwise_agreement([forward, forward, backward]) == pytest.approx(1 / 3, abs=1e-4)
    assert agreement.task_pairwise_agreement([forward]) is None


def test_reliability_ranks_a_random_labeler_below_the_careful_ones(project, make_tasks, labelers):
    rng = random.Random(5)
    *careful, noisy = labelers(4)
    tasks = make_tasks(16)
    gold = tasks[-1]
    RankingTask.objects.filter(pk=gold.pk).update(is_gold=True, gold_ranking=[[c] for c in gold.completion_ids])
    gold.refresh_from_db()
    for task in tasks:
        for user in careful:
            _rank(task, user, _noisy(task.completion_ids, rng, rng.randrange(2)))
        shuffled = list(task.completion_ids)
        rng.shuffle(shuffled)
        _rank(task, noisy, [[c] for c in shuffled])
    table = agreement.labeler_reliability(project)
    assert table[noisy.pk]["reliability"] < min(table[u.pk]["reliability"] for u in careful)
    assert table[noisy.pk]["weight"] < min(table[u.pk]["weight"] for u in careful)
    assert all(table[u.pk]["n"] == 15 and table[u.pk]["gold_n"] == 1 for u in careful)
    report = agreement.project_agreement(project)
    assert report["labelers"][-1]["labeler"] == noisy.username  # most reliable first
    assert report["rankings"]["alpha"] is not None and report["consensus_method"] == "ranked_pairs"


def test_weighted_consensus_recovers_a_known_order_better_than_ranked_pairs():
    # Three careful labelers (a few adjacent swaps), one random, one adversarial (the true order reversed): every
    # labeler ranks every task. Reliability comes from the data alone (leave-one-out), as the project computes it.
    rng = random.Random(11)
    truths = [rng.sample(range(t * 10, t * 10 + 4), 4) for t in range(1, 301)]
    tasks = []
    for truth in truths:
        rankings = [_noisy(truth, rng, rng.randrange(3)) for _ in range(3)]
        rankings.append([[c] for c in rng.sample(truth, 4)])
        rankings.append([[c] for c in reversed(truth)])
        tasks.append(rankings)
    scores = agreement.leave_one_out_agreements(tasks)
    weights = []
    for labeler in range(5):
        values = [task[labeler] for task in scores if task[labeler] is not None]
        reliability = agreement.combined_reliability(sum(values) / len(values), len(values))
        weights.append(agreement.reliability_weight(reliability))
    assert weights[3] < min(weights[:3]) and weights[4] == 0

    def accuracy(method) -> float:
        right = total = 0
        for truth, rankings in zip(truths, tasks, strict=True):
            position = {item: i for i, group in enumerate(method(rankings, truth)) for item in group}
            for i, a in enumerate(truth):
                for b in truth[i + 1 :]:
                    right += position[a] < position[b]
                    total += 1
        return right / total

    plain = accuracy(lambda rankings, truth: ranked_pairs(rankings, items=sorted(truth)))
    weighted = accuracy(lambda rankings, truth: agreement.weighted_consensus(rankings, weights, sorted(truth)))
    assert weighted > plain + 0.02, (weighted, plain)


def test_weighted_consensus_ties_equal_items_and_falls_back_without_weights():
    assert agreement.weighted_consensus([[[1], [2], [3]]], [1.0], [3, 2, 1]) == [[1], [2], [3]]
    assert agreement.weighted_consensus([[[1, 2], [3]]], [1.0], [1, 2, 3]) == [[1, 2], [3]]
    # nobody weighs anything: every labeler counts the same
    assert agreement.weighted_consensus([[[2], [1]]], [0.0], [1, 2]) == ranked_pairs([[[2], [1]]], items=[1, 2])


def test_a_ranking_keeps_the_tasks_agreement_and_the_chosen_consensus_method(project, make_tasks, labelers):
    first, second = labelers(2)
    (task,) = make_tasks(1, overlap=2, consensus_method="weighted_bt")
    ids = task.completion_ids
    for user, order in ((first, ids), (second, [ids[1], ids[0], *ids[2:]])):
        assignment = claim_next_ranking_task(project=project, labeler=user)
        submit_ranking(task=assignment.task, labeler=user, ranking=order)
    task.refresh_from_db()
    assert task.agreement == pytest.approx(5 / 6, abs=1e-4)  # one pair of six ordered the other way
    assert Consensus.objects.get(task=task).method == "weighted_bt"
    Ranking.objects.filter(task=task, labeler=second).update(rejected=True)  # a rejected ranking never counts
    refresh_consensus(task=task)
    task.refresh_from_db()
    assert task.agreement is None
    assert agreement.task_agreement(task) is None


def test_agreement_api_for_readers_and_a_bad_moment_names_the_field(project, make_tasks, labelers, api_as):
    users = labelers(2)
    (task,) = make_tasks(1)
    update_ranking_config(
        project=project, aspects=[{"key": "correctness", "label": "Correct", "label_zh": "正确", "min": 0, "max": 4}]
    )
    for user in users:
        _rank(task, user, [[c] for c in task.completion_ids], aspects={str(task.completion_ids[0]): {"correctness": 3}})
    url = f"/api/v1/projects/{project.slug}/annotation/agreement"
    body = api_as("consumer").get(url).json()
    assert body["rankings"] == {"alpha": 1.0, "units": 4, "rankings": 2}
    assert [a["key"] for a in body["aspects"]] == ["correctness"]
    assert {row["labeler"] for row in body["labelers"]} == {u.username for u in users}
    assert api_as("project_admin").get(url + "?since=2020-01-01T00:00:00Z").status_code == 200
    assert api_as("labeler").get(url).status_code == 404
    refused = api_as("project_admin").get(url + "?since=yesterday")
    assert refused.status_code == 400 and "since" in refused.json()["errors"]


def test_agreement_command_prints_json_and_text(project, make_tasks, labelers):
    users = labelers(2)
    (task,) = make_tasks(1)
    for user in users:
        _rank(task, user, [[c] for c in task.completion_ids])
    out = StringIO()
    call_command("agreement", "--project", project.slug, "--json", stdout=out)
    assert json.loads(out.getvalue())["rankings"]["alpha"] == 1.0
    out = StringIO()
    call_command("agreement", "--project", project.slug, "--refresh-consensus", stdout=out)
    assert "rankings α (ordinal): 1.000" in out.getvalue() and "consensus computed again for 1 task" in out.getvalue()


def test_bradley_terry_matches_choix_on_the_same_data():
    choix = pytest.importorskip("choix")
    rng = np.random.default_rng(0)
    for trial in range(30):
        k = int(rng.integers(2, 10))
        wins = rng.random((k, k)) * rng.integers(0, 4, (k, k))
        if trial % 3 == 0:
            wins = np.triu(np.ones((k, k)), 1) * 2.5  # one full order: only the prior keeps the fit finite
        np.fill_diagonal(wins, 0)
        ours = agreement.bradley_terry(wins.tolist())
        augmented = wins + agreement.BT_PRIOR * (1 - np.eye(k))
        reference = choix.ilsr_pairwise_dense(augmented, alpha=0, max_iter=10_000, tol=1e-12)
        assert ours == pytest.approx(list(reference - reference.mean()), abs=1e-7)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_fast_path_keeps_agreement_and_leaves_a_weighted_consensus_to_the_orm_path(
    project, make_tasks, labelers, monkeypatch
):
    from annotation import fastpath
    from annotation.claims import submit_ranking_to

    first, second, third = labelers(3)
    (plain,) = make_tasks(1, overlap=3)
    ids = plain.completion_ids
    answered = []
    real = fastpath.submit
    monkeypatch.setattr(fastpath, "submit", lambda **kw: answered.append(real(**kw)) or answered[-1])
    for user, order in ((first, ids), (second, ids[::-1])):
        claim_next_ranking_task(project=project, labeler=user)
        submit_ranking_to(task_id=plain.pk, labeler=user, ranking=order)
    plain.refresh_from_db()
    assert all(answered) and len(answered) == 2  # both through the fast path
    assert plain.agreement == 0.0 and Consensus.objects.get(task=plain).method == "ranked_pairs"
    update_ranking_config(project=project, consensus_method="weighted_bt")
    claim_next_ranking_task(project=project, labeler=third)
    submit_ranking_to(task_id=plain.pk, labeler=third, ranking=ids)
    assert answered[-1] is None  # a weighted consensus needs the labelers' weights: the ORM path stored it
    plain.refresh_from_db()
    assert plain.agreement == pytest.approx(1 / 3, abs=1e-4)
    assert Consensus.objects.get(task=plain).method == "weighted_bt"
