"""The LLM judge as an extra labeler: every pair in both orders, rankings kept apart from humans' (no filling, no
consensus, no exports), judge–human agreement and position bias on the dashboard, resumable runs, API and CLI."""

from itertools import combinations

import pytest
from django.core.management import call_command
from django.test import Client

from annotation.claims import claim_next_ranking_task, submit_ranking
from annotation.judging import resume_judge_run, run_judge, start_judge_run
from annotation.models import Consensus, JudgeRanking, Ranking, RankingTask
from annotation.rankings import pairwise_agreement, ranking_from_scores
from annotation.selectors import agreement_stats, iter_ranked_tasks, judge_stats
from annotation.services import AnnotationError
from core.lifecycle import RunStatus
from llm.models import LLMRequest


@pytest.fixture
def ranked(project, make_tasks, labelers):
    """Three tasks of K=3 with real-looking answers, each ranked by two labelers (longest first / shortest first)."""
    from annotation.models import Completion

    tasks = make_tasks(3, k=3, overlap=2)
    for n, task in enumerate(tasks):
        for m, cid in enumerate(task.completion_ids):
            words = " ".join(["explain the item with water and rice"] * (m + 1))
            Completion.objects.filter(pk=cid).update(text=f"Item {n}: {words}.")
    long_first, short_first = labelers(2)
    for user, longest in ((long_first, True), (short_first, False)):
        while (assignment := claim_next_ranking_task(project=project, labeler=user)) is not None:
            ids = assignment.task.completion_ids
            submit_ranking(task=assignment.task, labeler=user, ranking=list(reversed(ids)) if longest else list(ids))
    return tasks


def test_the_judge_ranks_every_task_from_both_orders_of_every_pair(project, endpoint, teacher, ranked):
    run = start_judge_run(project=project, endpoint=endpoint)
    run_judge(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.tasks_done == 3 and run.tasks_failed == 0
    assert run.pairs_judged == 3 * 3 and LLMRequest.objects.filter(purpose="judge", ok=True).count() == 2 * 9
    for judged in JudgeRanking.objects.filter(run=run):
        task = judged.task
        assert {(p["a"], p["b"]) for p in judged.pairs} == set(combinations(task.completion_ids, 2))
        for pair in judged.pairs:  # each answer's score is the mean of its score in both orders
            assert pair["score_a"] == (pair["order_ab"][0] + pair["order_ba"][0]) / 2
            assert len(pair["reasons"]) == 2 and all(pair["reasons"])
        means = {int(k): v for k, v in judged.scores.items()}
        assert judged.ranking == ranking_from_scores(means)
        assert max(means, key=means.get) == task.completion_ids[-1]  # the most developed answer wins
    assert run.pairs_flipped == sum(p["flipped"] for j in JudgeRanking.objects.all() for p in j.pairs)


def test_judge_rankings_never_count_as_human_rankings(project, endpoint, teacher, ranked):
    before = {
        "tasks": list(RankingTask.objects.values_list("pk", "rankings_count", "fill", "is_complete")),
        "consensus": list(Consensus.objects.values_list("task_id", "ranking")),
        "agreement": agreement_stats(project=project),
        "export": [(t["task_id"], t["orderings"]) for t in iter_ranked_tasks(project=project)],
    }
    run = start_judge_run(project=project, endpoint=endpoint)
    run_judge(run_id=run.pk)
    assert Ranking.objects.count() == 6  # no Ranking rows for the judge
    assert before == {
        "tasks": list(RankingTask.objects.values_list("pk", "rankings_count", "fill", "is_complete")),
        "consensus": list(Consensus.objects.values_list("task_id", "ranking")),
        "agreement": agreement_stats(project=project),
        "export": [(t["task_id"], t["orderings"]) for t in iter_ranked_tasks(project=project)],
    }
    with_judge = agreement_stats(project=project, include_judge=True)  # only when asked
    assert with_judge["pairwise_agreement"] != before["agreement"]["pairwise_agreement"]
    assert with_judge["per_labeler"].keys() == before["agreement"]["per_labeler"].keys()


@pytest.mark.long(15)
def test_judge_human_agreement_and_position_bias_are_reported(project, endpoint, teacher, ranked, cast):
    run = start_judge_run(project=project, endpoint=endpoint)
    run_judge(run_id=run.pk)
    stats = judge_stats(project=project)
    judged = {j.task_id: j.ranking for j in JudgeRanking.objects.all()}
    humans = [(judged[r.task_id], r.ranking) for r in Ranking.objects.all()]
    assert stats["human_rankings_compared"] == 6 and stats["tasks_compared"] == 3
    assert stats["judge_human_agreement"] == round(sum(pairwise_agreement(a, b) for a, b in humans) / 6, 4)
    assert stats["pairs_judged"] == 9 and stats["position_bias_rate"] == round(stats["pairs_flipped"] / 9, 4)
    assert stats["runs"][0]["id"] == run.pk and stats["runs"][0]["tasks_done"] == 3
    admin = Client()
    admin.force_login(cast["admin"])
    html = admin.get("/label/alpha/dashboard/").content.decode()
    assert 'id="judge-stats"' in html and str(stats["judge_human_agreement"]) in html and "position-bias" in html
    body = admin.get("/api/v1/annotation/stats?project=alpha").json()
    assert body["judge"]["judge_human_agreement"] == stats["judge_human_agreement"]
    assert body["progress"]["pairwise_agreement"] == agreement_stats(project=project)["pairwise_agreement"]
    included = admin.get("/api/v1/annotation/stats?project=alpha&include_judge=1").json()["progress"]
    assert included["pairwise_agreement"] == agreement_stats(project=project, include_judge=True)["pairwise_agreement"]


def test_a_rerun_skips_judged_tasks_and_failures_are_counted(project, endpoint, teacher, ranked):
    run = start_judge_run(project=project, endpoint=endpoint, limit=2)
    teacher.faults(queue=["500"] * 4)  # the first call of the first task fails through all 4 attempts
    run_judge(run_id=run.pk)
    run.refresh_from_db()
    assert (run.status, run.tasks_done, run.tasks_failed) == (RunStatus.SUCCEEDED, 1, 1)
    assert f"task {run.task_ids[0]}" in run.error
    resume_judge_run(run=run)  # back to queued: the next message claims it
    calls = LLMRequest.objects.count()
    run_judge(run_id=run.pk)
    run_judge(run_id=run.pk)  # a redelivered message finds the run finished
    run.refresh_from_db()
    assert (run.tasks_done, run.tasks_failed, JudgeRanking.objects.filter(run=run).count()) == (2, 0, 2)
    assert LLMRequest.objects.count() - calls == 2 * 3  # only the failed task was judged again


def test_only_ranked_and_empty_projects(project, endpoint, ranked):
    RankingTask.objects.filter(pk=ranked[0].pk).update(rankings_count=0)  # as if nobody had ranked it
    assert start_judge_run(project=project, endpoint=endpoint, only_ranked=True).task_ids == [t.pk for t in ranked[1:]]
    assert len(start_judge_run(project=project, endpoint=endpoint).task_ids) == 3
    RankingTask.objects.all().delete()
    with pytest.raises(AnnotationError, match="no ranking tasks to judge"):
        start_judge_run(project=project, endpoint=endpoint)


def test_judge_runs_through_the_api_and_the_cli(
    project, other_project, endpoint, teacher, ranked, api_as, capsys, django_capture_on_commit_callbacks
):
    admin = api_as("admin")
    response = admin.post(
        "/api/v1/annotation/judge-runs", {"project": "alpha", "endpoint": "teach", "limit": 1}, format="json"
    )
    assert response.status_code == 201 and response.json()["tasks"] == 1 and response.json()["status"] == "queued"
    bad = admin.post("/api/v1/annotation/judge-runs", {"project": "alpha", "endpoint": "nope"}, format="json")
    assert bad.status_code == 400 and "endpoint: no endpoint named 'nope'" in bad.json()["detail"]
    run_judge(run_id=response.json()["id"])
    detail = admin.get(f"/api/v1/annotation/judge-runs/{response.json()['id']}").json()
    assert detail["status"] == "succeeded" and detail["pairs_judged"] == 3
    scoped = admin.get("/api/v1/projects/alpha/annotation/judge-runs").json()  # the project's route (issue 36)
    assert [run["id"] for run in scoped] == [response.json()["id"]]
    assert admin.get(f"/api/v1/projects/beta/annotation/judge-runs/{detail['id']}").status_code == 404
    with django_capture_on_commit_callbacks() as enqueued:
        call_command("judge_rankings", "--project", "alpha", "--endpoint", "teach", "--only-ranked", "--inline")
    assert not enqueued  # --inline runs here: no worker is sent the same run
    out = capsys.readouterr().out
    assert "3 task(s) judged, 0 failed, 9 pair(s), position-bias rate" in out
