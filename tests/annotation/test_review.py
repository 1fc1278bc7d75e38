"""The review stage (issue 37): the queue each policy makes; accept, reject (the labeler reads why; the ranking stops
counting for the consensus and the export) and adjudicate (the reviewer's order is the consensus and stays); two
reviewers at once: the second gets a conflict; the API, the page and the CLI."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import translation

from annotation import review
from annotation.claims import claim_next_ranking_task, submit_ranking, submit_ranking_to
from annotation.consensus import refresh_consensus
from annotation.models import Consensus, Ranking, RankingTask
from annotation.review_models import Review
from annotation.review_selectors import rejections_for_labeler, review_queue
from annotation.selectors import iter_ranked_tasks
from annotation.services import AnnotationError, get_ranking_config, update_ranking_config
from exports.dataset_rows import preference_rows
from exports.models import DatasetVersion
from exports.stats import Stats
from projects.services import create_user


@pytest.fixture
def ranked(project, make_tasks, labelers):
    """Two tasks of 3 answers, each ranked by two labelers: first in the shown order, second reversed but for one
    pair; one flag on the second task."""
    tasks = make_tasks(2, k=3, overlap=2)
    first, second = labelers(2)
    for task in tasks:
        ids = task.completion_ids
        for user, order in ((first, ids), (second, [ids[1], ids[0], ids[2]])):
            assignment = claim_next_ranking_task(project=project, labeler=user)
            assert assignment.task_id == task.pk
            flag = "bad_prompt" if user == second and task == tasks[1] else ""
            submit_ranking(task=assignment.task, labeler=user, ranking=order, flag=flag)
    return [RankingTask.objects.get(pk=t.pk) for t in tasks], first, second


def _queue(project):
    project._ranking_config_cache = None
    return list(review_queue(project=project, config=get_ranking_config(project=project)).values_list("pk", flat=True))


def test_the_queue_follows_the_policy(project, ranked):
    (one, two), _, _ = ranked
    assert _queue(project) == []  # policy none
    review.set_review_policy(project=project, policy="sample", sample_rate=1.0)
    assert _queue(project) == [one.pk, two.pk]
    review.set_review_policy(project=project, sample_rate=0.0)
    assert _queue(project) == []
    review.set_review_policy(project=project, policy="flagged")
    assert _queue(project) == [two.pk]
    RankingTask.objects.filter(pk=one.pk).update(agreement=0.2)
    RankingTask.objects.filter(pk=two.pk).update(agreement=0.9)
    review.set_review_policy(project=project, policy="low_agreement", agreement_below=0.5)
    assert _queue(project) == [one.pk]
    with pytest.raises(AnnotationError, match="review_sample_rate"):
        review.set_review_policy(project=project, sample_rate=1.5)
    with pytest.raises(AnnotationError, match="review_policy"):
        review.set_review_policy(project=project, policy="all")


def test_reject_accept_adjudicate_and_the_conflict(project, ranked, cast):
    (task, _), first, second = ranked
    update_ranking_config(project=project, review_policy="sample", review_sample_rate=1.0)
    reviewer = cast["project_admin"]
    bad = Ranking.objects.get(task=task, labeler=second)
    with pytest.raises(AnnotationError, match="reason"):
        review.reject_ranking(task=task, reviewer=reviewer, version=0, ranking_id=bad.pk, reason=" ")
    review.reject_ranking(task=task, reviewer=reviewer, version=0, ranking_id=bad.pk, reason="A before B? No.")
    task.refresh_from_db()
    assert (task.review_state, task.review_version, task.required, task.is_complete) == ("queued", 1, 3, False)
    assert Consensus.objects.get(task=task).ranking == [[cid] for cid in task.completion_ids]  # the other one's
    assert rejections_for_labeler(project=project, labeler=second)[0]["reason"] == "A before B? No."
    assert rejections_for_labeler(project=project, labeler=first) == []
    exported = next(t for t in iter_ranked_tasks(project=project) if t["task_id"] == task.pk)
    assert exported["ranking_ids"] == [Ranking.objects.get(task=task, labeler=first).pk]
    # a second reviewer deciding on the version they loaded (0) gets a conflict; nothing is recorded for them
    with pytest.raises(AnnotationError, match="another reviewer") as conflict:
        review.accept_task(task=task, reviewer=cast["admin"], version=0)
    assert conflict.value.code == "conflict" and Review.objects.filter(task=task).count() == 1
    with pytest.raises(AnnotationError, match="order"):
        review.adjudicate_task(task=task, reviewer=reviewer, version=1, order=[task.completion_ids[0]])
    c, b, a = reversed(task.completion_ids)
    order = review.order_from_labels("C > B = A", completion_ids=task.completion_ids)
    assert order == [[c], [b, a]] == review.order_from_labels("c b=a", completion_ids=task.completion_ids)
    assert review.order_from_labels("CBA", completion_ids=task.completion_ids) == [[c], [b], [a]]
    with pytest.raises(AnnotationError, match="'Z' is not an answer"):
        review.order_from_labels("Z > A", completion_ids=task.completion_ids)
    with translation.override("en"), pytest.raises(AnnotationError, match="order: A more than once"):
        review.order_from_labels("A > B > A", completion_ids=task.completion_ids)
    with translation.override("en"), pytest.raises(AnnotationError, match="order: B, C left out"):
        review.order_from_labels("A", completion_ids=task.completion_ids)
    update_ranking_config(project=project, allow_ties=True)
    task = RankingTask.objects.get(pk=task.pk)  # its project's settings read afresh
    review.adjudicate_task(task=task, reviewer=reviewer, version=1, order=order, reason="C is the only correct one")
    task.refresh_from_db()
    refresh_consensus(task=task)  # a later ranking leaves the reviewer's order as it is
    consensus = Consensus.objects.get(task=task)
    assert (consensus.ranking, consensus.method, task.review_state) == ([[c], [b, a]], "adjudicated", "adjudicated")
    assert task.pk not in _queue(project)
    other = RankingTask.objects.exclude(pk=task.pk).get()
    review.accept_task(task=other, reviewer=reviewer, version=0)
    assert _queue(project) == []
    assert [r.decision for r in Review.objects.order_by("id")] == ["reject", "adjudicate", "accept"]
    # a dataset version: the rejected ranking gives no pair; the lineage names the policy and the adjudicated count
    lineage = {}
    version = DatasetVersion(project=project, kind="preference", filters={})
    rows = list(preference_rows(version, Stats(), lineage))
    assert rows and bad.pk not in {row["source"]["ranking_id"] for row in rows}
    assert (lineage["review_policy"], lineage["adjudicated_tasks"]) == ("sample", 1)


def test_the_api_reviews_and_refuses_bad_input(project, ranked, cast, api_as):
    (task, _), _, second = ranked
    rev = create_user(username="rev", role="reviewer", password="a-long-test-password-1", project=project)[0]
    client = api_as(None)
    client.force_authenticate(rev)
    base = f"/api/v1/projects/{project.slug}/review"
    assert client.patch(f"{base}/policy", {"review_policy": "sample"}, format="json").status_code == 403
    admin = api_as("project_admin")
    bad = admin.patch(f"{base}/policy", {"review_sample_rate": 2}, format="json")
    assert bad.status_code == 400 and "review_sample_rate" in bad.json()["detail"]
    assert (
        admin.patch(f"{base}/policy", {"review_policy": "flagged"}, format="json").json()["review_policy"] == "flagged"
    )
    queue = client.get(f"{base}/queue").json()
    assert [row["task"] for row in queue["results"]] == [RankingTask.objects.exclude(pk=task.pk).get().pk]
    view = client.get(f"{base}/tasks/{task.pk}").json()
    assert len(view["rankings"]) == 2 and view["orders"][0]["source"] == "consensus" and view["agreement"] is not None
    ranking = Ranking.objects.get(task=task, labeler=second).pk
    missing = client.post(f"{base}/tasks/{task.pk}/reject", {"version": 0, "ranking": ranking}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["detail"]
    body = {"version": 0, "ranking": ranking, "reason": "swapped the first two"}
    assert client.post(f"{base}/tasks/{task.pk}/reject", body, format="json").json()["review_version"] == 1
    stale = client.post(f"{base}/tasks/{task.pk}/accept", {"version": 0}, format="json")
    assert stale.status_code == 409 and "another reviewer" in stale.json()["detail"]
    order = client.post(f"{base}/tasks/{task.pk}/adjudicate", {"version": 1, "order": [1, 2]}, format="json")
    assert order.status_code == 400 and order.json()["detail"].startswith("order:")
    assert api_as("labeler").get(f"{base}/queue").status_code == 404
    assert api_as("other_admin").get(f"{base}/tasks/{task.pk}").status_code == 404


def test_the_page_and_the_cli(project, ranked, cast, client):
    (task, _), first, _ = ranked
    update_ranking_config(project=project, review_policy="sample", review_sample_rate=1.0)
    client.force_login(cast["project_admin"])
    page = client.get(f"/label/{project.slug}/review/")
    assert page.status_code == 200 and f'href="/label/{project.slug}/review/?after={task.pk}"' in page.text
    Ranking.objects.filter(task=task, labeler=first).update(strengths=["better", "tie"])
    assert "‹Better›" in client.get(f"/label/{project.slug}/review/").text  # between the order's letters
    chinese = client.get(f"/label/{project.slug}/review/", HTTP_ACCEPT_LANGUAGE="zh-CN").text
    assert "接受共识" in chinese and "等待审核" in chinese  # the accept button; the state, picked by the policy
    answer = client.post(
        f"/label/{project.slug}/review/tasks/{task.pk}/decide",
        {"decision": "adjudicate", "version": "0", "order": "B > A > C", "reason": "B answers it"},
    )
    assert answer.status_code == 303 and answer["Location"] == f"/label/{project.slug}/review/"
    a, b, c = task.completion_ids
    assert Consensus.objects.get(task=task).ranking == [[b], [a], [c]]
    again = client.post(f"/label/{project.slug}/review/tasks/{task.pk}/decide", {"decision": "accept", "version": "0"})
    assert again["Location"].endswith(f"/review/tasks/{task.pk}/")  # the conflict: back to the task, with a message
    out = StringIO()
    call_command("review", "list", project=project.slug, stdout=out)
    assert "1 waiting, 0 accepted, 1 adjudicated" in out.getvalue()
    other = RankingTask.objects.exclude(pk=task.pk).get()
    ranking = Ranking.objects.get(task=other, labeler=first).pk
    call_command("review", "reject", project=project.slug, task=other.pk, ranking=ranking, reason="no", stdout=out)
    assert Ranking.objects.get(pk=ranking).rejected
    call_command("review", "show", project=project.slug, task=other.pk, stdout=out)
    assert "REJECTED: no" in out.getvalue()
    labeler_page = client.get(f"/label/{project.slug}/")  # the admin ranks too, and sees nothing rejected
    assert 'id="rejections"' not in labeler_page.text
    client.force_login(first)
    shown = client.get(f"/label/{project.slug}/").text
    assert 'id="rejections"' in shown and "Reason:" in shown
    assert client.get(f"/label/{project.slug}/review/").status_code == 404


@pytest.mark.django_db(transaction=True)  # on PostgreSQL the submission below takes the fast path's one statement
def test_a_later_ranking_leaves_the_adjudicated_order(project, ranked, labelers):
    (task, _), _, second = ranked
    bad = Ranking.objects.get(task=task, labeler=second)
    review.reject_ranking(task=task, reviewer=None, version=0, ranking_id=bad.pk, reason="swapped")
    backwards = [[cid] for cid in reversed(task.completion_ids)]
    review.adjudicate_task(task=task, reviewer=None, version=1, order=backwards)
    (late,) = labelers(1, prefix="late")
    assert claim_next_ranking_task(project=project, labeler=late).task_id == task.pk  # reopened by the rejection
    submit_ranking_to(task_id=task.pk, labeler=late, ranking=task.completion_ids)
    consensus = Consensus.objects.get(task=task)
    assert (consensus.ranking, consensus.method) == (backwards, "adjudicated")
