"""Claims, leases and submissions: overlap, never twice, breadth-first, expiry, idempotency, undo, gold, consensus."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.claims import claim_next_ranking_task, skip_task, submit_ranking, undo_last_submission
from annotation.models import Assignment, AssignmentStatus, Consensus, Ranking, RankingTask
from annotation.services import AnnotationError, set_gold


def best_first(task):
    return list(task.completion_ids)


def rank(project, user, now=None, **kw):
    assignment = claim_next_ranking_task(project=project, labeler=user, now=now)
    assert assignment is not None
    submit_ranking(task=assignment.task, labeler=user, ranking=best_first(assignment.task), now=now, **kw)
    return assignment.task


def test_each_task_gets_overlap_rankings_from_different_labelers(project, make_tasks, labelers):
    tasks = make_tasks(3, overlap=2)
    users = labelers(4)
    seen = {u.pk: [] for u in users}
    for _ in range(3):
        for user in users:
            assignment = claim_next_ranking_task(project=project, labeler=user)
            if assignment is None:
                continue
            seen[user.pk].append(assignment.task_id)
            submit_ranking(task=assignment.task, labeler=user, ranking=best_first(assignment.task))
    for task in RankingTask.objects.filter(pk__in=[t.pk for t in tasks]):
        assert task.rankings_count == 2 and task.is_complete and task.fill == 2 and task.active_count == 0
        assert Ranking.objects.filter(task=task).values("labeler").distinct().count() == 2
    for ids in seen.values():
        assert len(ids) == len(set(ids)), "a labeler was served a task twice"
    assert all(claim_next_ranking_task(project=project, labeler=u) is None for u in users)


def test_next_returns_the_held_task_until_it_is_submitted(project, make_tasks, labelers):
    make_tasks(2)
    (user,) = labelers(1)
    first = claim_next_ranking_task(project=project, labeler=user)
    again = claim_next_ranking_task(project=project, labeler=user)
    assert again.pk == first.pk and again.lease_expires_at >= first.lease_expires_at
    submit_ranking(task=first.task, labeler=user, ranking=best_first(first.task))
    assert claim_next_ranking_task(project=project, labeler=user).task_id != first.task_id


def test_breadth_first_serves_tasks_started_by_others_first(project, make_tasks, labelers):
    tasks = make_tasks(5, overlap=3)
    a, b, c = labelers(3)
    rank(project, a)  # a ranks task 0 → 1 of 3
    assert claim_next_ranking_task(project=project, labeler=b).task_id == tasks[0].pk
    assert claim_next_ranking_task(project=project, labeler=c).task_id == tasks[0].pk


def test_an_expired_lease_returns_the_task_and_a_late_submission_is_refused(project, make_tasks, labelers):
    make_tasks(1, lease_minutes=30)
    slow, fast = labelers(2)
    now = timezone.now()
    held = claim_next_ranking_task(project=project, labeler=slow, now=now)
    assert claim_next_ranking_task(project=project, labeler=fast, now=now) is None  # overlap 1: it is taken
    later = now + timedelta(minutes=31)
    taken = claim_next_ranking_task(project=project, labeler=fast, now=later)
    assert taken.task_id == held.task_id
    assert Assignment.objects.get(pk=held.pk).status == AssignmentStatus.EXPIRED
    with pytest.raises(AnnotationError) as err:
        submit_ranking(task=held.task, labeler=slow, ranking=best_first(held.task), now=later)
    assert err.value.code == "lease_lost" and "another labeler" in str(err.value)
    submit_ranking(task=taken.task, labeler=fast, ranking=best_first(taken.task), now=later)
    task = RankingTask.objects.get(pk=held.task_id)
    assert task.rankings_count == 1 and task.is_complete and Ranking.objects.filter(task=task).count() == 1


def test_a_late_submission_is_accepted_while_nobody_took_the_task(project, make_tasks, labelers):
    make_tasks(1, lease_minutes=30)
    (slow,) = labelers(1)
    now = timezone.now()
    held = claim_next_ranking_task(project=project, labeler=slow, now=now)
    row, created = submit_ranking(
        task=held.task, labeler=slow, ranking=best_first(held.task), now=now + timedelta(hours=2)
    )
    assert created and RankingTask.objects.get(pk=held.task_id).is_complete


def test_resubmitting_is_idempotent_and_changing_needs_undo(project, make_tasks, labelers):
    make_tasks(1)
    (user,) = labelers(1)
    assignment = claim_next_ranking_task(project=project, labeler=user)
    order = best_first(assignment.task)
    first, created = submit_ranking(task=assignment.task, labeler=user, ranking=order)
    again, created_again = submit_ranking(task=assignment.task, labeler=user, ranking=order)
    assert created and not created_again and again.pk == first.pk
    with pytest.raises(AnnotationError, match="undo it first"):
        submit_ranking(task=assignment.task, labeler=user, ranking=list(reversed(order)))
    assert RankingTask.objects.get(pk=assignment.task_id).rankings_count == 1


def test_undo_within_the_window_gives_the_task_back(project, make_tasks, labelers):
    make_tasks(2, undo_seconds=60)
    (user,) = labelers(1)
    task = rank(project, user)
    assignment = undo_last_submission(project=project, labeler=user)
    assert assignment.task_id == task.pk and assignment.status == AssignmentStatus.ACTIVE
    refreshed = RankingTask.objects.get(pk=task.pk)
    assert refreshed.rankings_count == 0 and not refreshed.is_complete and not Consensus.objects.filter(task=task)
    assert claim_next_ranking_task(project=project, labeler=user).task_id == task.pk  # theirs again
    submit_ranking(task=task, labeler=user, ranking=list(reversed(task.completion_ids)))
    with pytest.raises(AnnotationError, match="undo window"):
        undo_last_submission(project=project, labeler=user, now=timezone.now() + timedelta(seconds=61))


def test_skip_gives_the_task_to_someone_else_and_never_back(project, make_tasks, labelers):
    make_tasks(1)
    a, b = labelers(2)
    held = claim_next_ranking_task(project=project, labeler=a)
    skip_task(task=held.task, labeler=a)
    assert claim_next_ranking_task(project=project, labeler=a) is None
    assert claim_next_ranking_task(project=project, labeler=b).task_id == held.task_id


def test_bad_rankings_name_the_problem(project, make_tasks, labelers):
    make_tasks(1, k=3)
    (user,) = labelers(1)
    assignment = claim_next_ranking_task(project=project, labeler=user)
    ids = assignment.task.completion_ids
    cases = {
        "leaves out": ids[:2],
        "more than once": [ids[0], ids[0], ids[1]],
        "not in this task": [*ids[:-1], 999999],
        "allows no ties": [[ids[0], ids[1]], [ids[2]]],
        "not a completion id": [ids[0], "x", ids[2]],
        "rank the completions, or flag": None,
    }
    for message, ranking in cases.items():
        with pytest.raises(AnnotationError, match=message):
            submit_ranking(task=assignment.task, labeler=user, ranking=ranking)
    assert not Ranking.objects.exists()


def test_ties_and_flags_when_allowed(project, make_tasks, labelers):
    make_tasks(2, k=3, allow_ties=True)
    (user,) = labelers(1)
    first = claim_next_ranking_task(project=project, labeler=user)
    a, b, c = first.task.completion_ids
    row, _ = submit_ranking(task=first.task, labeler=user, ranking=[[a], [b, c]])
    assert row.ranking == [[a], [b, c]]
    second = claim_next_ranking_task(project=project, labeler=user)
    flagged, _ = submit_ranking(task=second.task, labeler=user, flag="harmful", comment="unsafe advice")
    assert flagged.flag == "harmful" and flagged.ranking == [] and flagged.comment == "unsafe advice"


def test_consensus_is_stored_apart_and_follows_the_majority(project, make_tasks, labelers):
    (task,) = make_tasks(1, k=3, overlap=3)
    users = labelers(3)
    a, b, c = task.completion_ids
    orders = [[a, b, c], [a, c, b], [b, a, c]]
    for user, order in zip(users, orders, strict=True):
        claim_next_ranking_task(project=project, labeler=user)
        submit_ranking(task=task, labeler=user, ranking=order)
    assert Consensus.objects.get(task=task).ranking == [[a], [b], [c]]
    assert [r.ranking for r in Ranking.objects.filter(task=task)] == [[[x] for x in o] for o in orders]


def test_gold_tasks_are_mixed_in_and_never_count_as_data(project, make_tasks, labelers):
    tasks = make_tasks(4, gold_rate=0.5)
    gold = set_gold(task=tasks[0], ranking=tasks[0].completion_ids)
    users = labelers(3)

    class AlwaysGold:
        @staticmethod
        def random():
            return 0.0

    for user in users:
        assignment = claim_next_ranking_task(project=project, labeler=user, rng=AlwaysGold)
        assert assignment.task_id == gold.pk  # every labeler gets the gold task once, whatever the overlap
        submit_ranking(task=gold, labeler=user, ranking=gold.completion_ids)
        assert claim_next_ranking_task(project=project, labeler=user, rng=AlwaysGold).task_id != gold.pk
    gold.refresh_from_db()
    assert gold.rankings_count == 3 and not gold.is_complete
    assert not Consensus.objects.filter(task=gold).exists()
    assert Ranking.objects.filter(task=gold, is_gold=True).count() == 3
