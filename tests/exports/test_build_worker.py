"""Dataset builds on a real Celery worker process (this pass's broker and database): the CLI waits on the worker's
progress; the build writes the default download itself; a lost build message is restarted by the reconciler; a
superseded build never publishes."""

import hashlib
import json

import pytest

from annotation.claims import claim_next_ranking_task, submit_ranking
from core.storage import local_path
from exports import services
from exports.files import files_prefix
from exports.models import DatasetVersion, VersionStatus
from exports.services import build_dataset_version, create_dataset_version, restart_stalled_builds
from tests.helpers.datasets import wait_while_building
from tests.helpers.processes import celery_worker, manage, process_env

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ranked(project, make_tasks, labelers):
    tasks = make_tasks(4, k=4, overlap=1)
    user = labelers(1)[0]
    for _ in tasks:
        assignment = claim_next_ranking_task(project=project, labeler=user)
        submit_ranking(task=assignment.task, labeler=user, ranking=list(assignment.task.completion_ids))
    return tasks


@pytest.mark.long(15)
def test_cli_waits_for_a_worker_built_version_with_its_default_download(project, ranked, tmp_path):
    out = tmp_path / "pairs.jsonl"
    with celery_worker():
        result = manage(
            "export_dataset", "--project", "alpha", "--kind", "preference", "--out", str(out), "--timeout", "90"
        )
    assert result.returncode == 0, result.stderr
    version = DatasetVersion.objects.get()
    assert version.status == VersionStatus.READY and version.row_count == 4 * 6
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 24 and set(rows[0]) == {"prompt", "chosen", "rejected", "margin"}
    folder = local_path(files_prefix(version))
    assert version.storage_prefix == f"datasets/{version.pk}/{version.build_token}"
    default = folder / "trl-preference.all.jsonl"
    assert default.read_bytes() == out.read_bytes()
    assert (folder / "trl-preference.all.jsonl.sha256").read_text() == hashlib.sha256(out.read_bytes()).hexdigest()
    assert hashlib.sha256((folder / "rows.jsonl").read_bytes()).hexdigest() == version.content_hash
    assert list(folder.parent.iterdir()) == [folder] and not list(folder.glob(".*.tmp"))  # nothing else left


def test_a_lost_build_message_is_restarted_by_the_reconciler(project, ranked):
    version = create_dataset_version(project=project, kind="preference")
    assert version.status == VersionStatus.BUILDING
    # celery_worker() purges the queue first: the build message is lost, as when Redis restarts without its data
    env = process_env(DATASET_BUILD_STALE_SECONDS="2", GENERATION_RECONCILE_SECONDS="1")
    with celery_worker(env=env) as worker:
        wait_while_building(version, timeout=30)
        log = worker.output()
    assert version.status == VersionStatus.READY, log[-3000:]
    assert version.row_count == 24 and "build stalled; restarting it" in log


def test_a_superseded_build_stops_and_never_publishes(project, ranked, monkeypatch, settings):
    version = create_dataset_version(project=project, kind="preference")
    first_token = str(DatasetVersion.objects.get(pk=version.pk).build_token)
    settings.DATASET_BUILD_HEARTBEAT_SECONDS = -1
    monkeypatch.setattr(services, "_BEAT_EVERY_ROWS", 1)
    real_split = services.split_of
    calls = []

    def split_then_restart(group, **kw):  # the reconciler gives the version a new token mid-build
        calls.append(group)
        if len(calls) == 3:
            assert restart_stalled_builds(stale_seconds=-1) == 1
        return real_split(group, **kw)

    monkeypatch.setattr(services, "split_of", split_then_restart)
    build_dataset_version(version_id=version.pk, token=first_token)
    version.refresh_from_db()
    assert version.status == VersionStatus.BUILDING and version.row_count == 0 and len(calls) == 3
    assert not list(local_path(f"datasets/{version.pk}").rglob("rows.jsonl"))  # the stopped build left nothing
    monkeypatch.setattr(services, "split_of", real_split)
    build_dataset_version(version_id=version.pk, token=first_token)  # a redelivered old message: a no-op
    version.refresh_from_db()
    assert version.status == VersionStatus.BUILDING
    build_dataset_version(version_id=version.pk, token=str(version.build_token))
    version.refresh_from_db()
    assert version.status == VersionStatus.READY and version.row_count == 24
    build_dataset_version(version_id=version.pk, token=str(version.build_token))  # ready: left alone
    assert DatasetVersion.objects.get(pk=version.pk).content_hash == version.content_hash
