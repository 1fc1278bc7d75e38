"""Reward-model assistance: stored scores give tasks the RM's order and margin; the optional hint (never on gold);
human–RM agreement recorded per ranking; and the three task orders (sequential, random, uncertainty first)."""

import pytest
from django.test import Client

from annotation.claims import claim_next_ranking_task, submit_ranking
from annotation.consensus import store_reward_scores
from annotation.models import Ranking, RankingTask, RewardScore
from annotation.selectors import completions_to_score, reward_model_stats
from annotation.services import set_gold, update_ranking_config
from tests.helpers.labeling import start_ranking

JOB = 41


def score(task, values):
    """Give the task's completions (in stored order) these RM scores."""
    return store_reward_scores(job_id=JOB, scores=dict(zip(task.completion_ids, values, strict=True)))


def test_a_task_gets_the_rm_order_and_margin_once_all_k_are_scored(project, make_tasks):
    (task,) = make_tasks(1, k=3)
    first, second, third = task.completion_ids
    assert store_reward_scores(job_id=JOB, scores={first: 0.2, second: 1.5}) == 0  # one of three missing
    task.refresh_from_db()
    assert task.rm_order is None and task.rm_margin is None
    assert [c["id"] for c in completions_to_score(project=project, job_id=JOB)] == [third]
    assert store_reward_scores(job_id=JOB, scores={third: 0.9, first: 99.0}) == 1  # a kept score stays
    task.refresh_from_db()
    assert task.rm_order == [second, third, first] and task.rm_job_id == JOB
    assert task.rm_margin == pytest.approx(0.6)  # 0.9 → 1.5 is the closest pair (0.2 → 0.9 is 0.7)
    assert RewardScore.objects.get(completion_id=first, job_id=JOB).score == 0.2
    assert completions_to_score(project=project, job_id=JOB) == []
    assert len(completions_to_score(project=project, job_id=JOB + 1)) == 3  # another RM has scored nothing


def test_agreement_with_the_rm_is_recorded_with_and_without_the_hint(project, make_tasks, labelers, cast):
    tasks = make_tasks(2, k=3)
    for task in tasks:
        score(task, [3.0, 2.0, 1.0])  # the RM's order is the stored order
    user, other = labelers(2)
    a = claim_next_ranking_task(project=project, labeler=user)
    submit_ranking(task=a.task, labeler=user, ranking=list(a.task.completion_ids))  # agrees fully
    update_ranking_config(project=project, show_rm_hint=True)
    b = claim_next_ranking_task(project=project, labeler=other)
    reverse = list(reversed(b.task.completion_ids))
    submit_ranking(task=b.task, labeler=other, ranking=reverse)  # disagrees on every pair
    rows = {r.labeler_id: r for r in Ranking.objects.all()}
    assert (rows[user.pk].rm_agreement, rows[user.pk].rm_hint_shown, rows[user.pk].rm_job_id) == (1.0, False, JOB)
    assert (rows[other.pk].rm_agreement, rows[other.pk].rm_hint_shown) == (0.0, True)
    stats = reward_model_stats(project=project)
    assert stats["scored_tasks"] == 2 and stats["reward_jobs"] == [JOB] and stats["rankings_compared"] == 2
    assert stats["agreement"] == 0.5 and stats["top_choice_agreement"] == 0.5
    assert (stats["agreement_with_hint"], stats["agreement_without_hint"]) == (0.0, 1.0)
    admin = Client()
    admin.force_login(cast["admin"])
    html = admin.get("/label/alpha/dashboard/").content.decode()
    assert 'id="rm-stats"' in html and "job 41" in html and "with hint shown" in html


def test_a_ranking_of_an_unscored_task_records_no_rm_comparison(project, make_tasks, labelers):
    make_tasks(1)
    (user,) = labelers(1)
    a = claim_next_ranking_task(project=project, labeler=user)
    submit_ranking(task=a.task, labeler=user, ranking=list(a.task.completion_ids))
    row = Ranking.objects.get()
    assert row.rm_agreement is None and row.rm_job_id is None and not row.rm_hint_shown
    assert reward_model_stats(project=project)["agreement"] is None


def test_the_hint_is_off_by_default_shown_when_asked_and_never_on_gold(cast, project, make_tasks, api_as):
    (task,) = make_tasks(1, k=3)
    score(task, [1.0, 3.0, 2.0])  # RM: B > C > A
    page = Client()
    page.force_login(cast["labeler"])
    assert 'id="rm-hint"' not in start_ranking(page).content.decode()
    assert api_as("labeler").post("/api/v1/annotation/next?project=alpha").json()["rm_hint"] is None
    update_ranking_config(project=project, show_rm_hint=True)
    html = page.get("/label/alpha/").content.decode()
    assert 'id="rm-hint"' in html and "<b>B > C > A</b>" in html
    assert api_as("labeler").post("/api/v1/annotation/next?project=alpha").json()["rm_hint"] == ["B", "C", "A"]
    page.post(f"/label/alpha/tasks/{task.pk}/skip")
    gold = set_gold(task=task, ranking=list(task.completion_ids))
    update_ranking_config(project=project, gold_rate=0.5)
    admin = Client()
    admin.force_login(cast["admin"])
    seen = []
    for _ in range(40):  # the gold task is served at the gold rate; it must never carry the hint
        html = start_ranking(admin).content.decode()
        if f'data-task="{gold.pk}"' in html:
            seen.append('id="rm-hint"' in html)
            break
    assert seen == [False]


def claim_order(project, labeler):
    order = []
    while (assignment := claim_next_ranking_task(project=project, labeler=labeler)) is not None:
        order.append(assignment.task_id)
        submit_ranking(task=assignment.task, labeler=labeler, ranking=list(assignment.task.completion_ids))
    return order


def test_uncertainty_first_serves_the_smallest_margins_first_and_unscored_last(project, make_tasks, labelers):
    tasks = make_tasks(5, k=3)
    margins = {tasks[0].pk: 2.0, tasks[1].pk: 0.1, tasks[2].pk: 1.0, tasks[3].pk: 0.5}
    for task in tasks[:4]:
        score(task, [0.0, margins[task.pk], 10.0])  # smallest gap = margins[task]
    update_ranking_config(project=project, task_order="uncertainty")
    (user,) = labelers(1)
    assert claim_order(project, user) == [tasks[1].pk, tasks[3].pk, tasks[2].pk, tasks[0].pk, tasks[4].pk]


def test_sequential_is_oldest_first_and_random_follows_the_shuffle_key(project, make_tasks, labelers):
    tasks = make_tasks(6)
    first, second = labelers(2)
    assert claim_order(project, first) == [t.pk for t in tasks]
    RankingTask.objects.update(is_complete=False, rankings_count=0, fill=0)
    update_ranking_config(project=project, task_order="random")
    keys = dict(RankingTask.objects.values_list("pk", "shuffle_key"))
    assert len(set(keys.values())) == 6
    assert claim_order(project, second) == sorted(keys, key=keys.get)


def test_started_tasks_are_finished_first_in_every_order(project, make_tasks, labelers):
    tasks = make_tasks(3, k=3, overlap=2, task_order="uncertainty")
    for task, margin in zip(tasks, [0.1, 0.2, 5.0], strict=True):
        score(task, [0.0, margin, 20.0])
    first, second = labelers(2)
    a = claim_next_ranking_task(project=project, labeler=first)
    assert a.task_id == tasks[0].pk  # the least certain
    b = claim_next_ranking_task(project=project, labeler=second)
    assert b.task_id == tasks[0].pk  # already started (fill 1): finish it before the next uncertain one
