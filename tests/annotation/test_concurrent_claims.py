"""50 labelers asking at once: nobody gets a task twice, no task collects more than its overlap, none is lost.

Runs in both passes: SQLite (write transactions serialized by BEGIN IMMEDIATE) and PostgreSQL (SKIP LOCKED).
"""

import threading
from collections import Counter

import pytest
from django.db import connection

from annotation.claims import claim_next_ranking_task, submit_ranking
from annotation.models import Assignment, Ranking, RankingTask


@pytest.mark.long(20)
def test_fifty_labelers_at_once_never_double_assign(transactional_db, project, make_tasks, labelers):
    tasks = make_tasks(100, k=3, overlap=3)  # exactly 50 x 6 rankings of room
    users = labelers(50)
    barrier = threading.Barrier(len(users))
    served: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def work(user):
        try:
            barrier.wait()
            mine = served.setdefault(user.pk, [])
            for _ in range(7):  # one claim more than there is room for: it must come back empty
                assignment = claim_next_ranking_task(project=project, labeler=user)
                if assignment is None:
                    break
                mine.append(assignment.task_id)
                submit_ranking(task=assignment.task, labeler=user, ranking=list(assignment.task.completion_ids))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not errors, errors[:3]
    for ids in served.values():
        assert len(ids) == len(set(ids)), "a labeler was served the same task twice"
    per_task = Counter(Ranking.objects.values_list("task_id", flat=True))
    assert max(per_task.values()) <= 3, "a task collected more rankings than its overlap"
    assert sum(len(v) for v in served.values()) == Ranking.objects.count() == 50 * 6  # every claim ended in a ranking
    for task in RankingTask.objects.filter(pk__in=[t.pk for t in tasks]):
        assert task.rankings_count == per_task.get(task.pk, 0) and task.fill == task.rankings_count
        assert task.is_complete and task.rankings_count == 3
    assert not Assignment.objects.filter(status="active").exists()
