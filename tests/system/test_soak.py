"""A short soak on the production path (PostgreSQL + Redis + a real worker process): 20 labelers claim and submit
rankings in threads while a generation batch and a dataset build run on the worker. Nothing is double-assigned,
nothing deadlocks, no ranking is lost, and the batch and the build both finish."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.conf import settings
from django.db import connection

from tests.annotation.conftest import labelers, make_tasks  # noqa: F401 - shared fixtures
from tests.helpers.datasets import wait_while_building
from tests.helpers.generation import assert_pool_is_clean, wait_until_final
from tests.helpers.processes import celery_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

SOAK_SECONDS = 20
LABELERS = 20


@pytest.mark.long(35)
def test_labelers_generation_and_a_build_at_once(project, make_tasks, labelers, endpoint):  # noqa: F811
    assert connection.vendor == "postgresql" and settings.REDIS_URL  # the services pass
    from annotation.claims import claim_next_ranking_task, submit_ranking
    from annotation.models import Assignment, Ranking, RankingTask
    from core.lifecycle import RunStatus
    from demo.teacher import default_seed_files
    from exports.models import DatasetVersion, VersionStatus
    from exports.services import create_dataset_version
    from selfinstruct.batches import start_batch
    from selfinstruct.services import import_seed_file

    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    tasks = make_tasks(150, k=4, overlap=3)
    users = labelers(LABELERS)
    submitted: dict[int, list[int]] = {}
    errors: list[BaseException] = []
    stop = threading.Event()

    def label(user):
        mine = submitted.setdefault(user.pk, [])
        try:
            while not stop.is_set():
                assignment = claim_next_ranking_task(project=project, labeler=user)
                if assignment is None:
                    break
                ranking = list(reversed(assignment.task.completion_ids))
                submit_ranking(task=assignment.task, labeler=user, ranking=ranking)
                mine.append(assignment.task_id)
                time.sleep(0.05)  # a (very fast) human
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    with celery_worker(concurrency=2):
        batch = start_batch(project=project, endpoint=endpoint, template_name="alpaca", target=40)
        version = create_dataset_version(project=project, kind="sft")
        threads = [threading.Thread(target=label, args=(u,)) for u in users]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(SOAK_SECONDS)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), "a labeler thread hung (deadlock?)"
        batch = wait_until_final(batch.pk, timeout=120)
        wait_while_building(version, timeout=60)
    elapsed = time.monotonic() - started

    assert not errors, errors[:3]
    assert batch.status == RunStatus.SUCCEEDED, batch.stop_reason
    assert version.status == VersionStatus.READY and version.row_count > 0, version.error
    assert_pool_is_clean(project.pk)
    for ids in submitted.values():
        assert len(ids) == len(set(ids)), "a labeler ranked the same task twice"
    per_task = Counter(Ranking.objects.values_list("task_id", flat=True))
    assert per_task and max(per_task.values()) <= 3, "a task collected more rankings than its overlap"
    assert Ranking.objects.count() == sum(len(v) for v in submitted.values()) > LABELERS  # no ranking lost
    for task in RankingTask.objects.filter(pk__in=[t.pk for t in tasks]):
        assert task.rankings_count == per_task.get(task.pk, 0)
    assert not Assignment.objects.filter(status="active").exists()  # every claim ended in a ranking
    assert DatasetVersion.objects.filter(status=VersionStatus.READY).count() == 1
    assert elapsed < SOAK_SECONDS + 150
