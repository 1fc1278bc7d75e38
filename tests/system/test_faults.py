"""Infrastructure faults under a running generation batch (services pass: PostgreSQL + Redis + real workers):
the Redis server itself killed and restarted empty, and every PostgreSQL connection of the workers terminated.
The same worker process carries on; the batch completes; counts reconcile exactly with stored rows; nothing is
duplicated and no accepted pair is above the threshold."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from django.db import connection

from selfinstruct.selectors import accepted_count
from tests.helpers.datasets import wait_while_building
from tests.helpers.generation import FAST_RECOVERY, assert_batch_reconciles, wait_for_accepted, wait_until_final
from tests.helpers.processes import celery_worker, free_port, manage, process_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


class PrivateRedis:
    """A redis-server of this test's own (the shared one stays up for everything else), started and killed."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.dir = tmp_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        cmd = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        for _ in range(100):
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("private redis-server did not start")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    if server.proc and server.proc.poll() is None:
        server.kill()


def _project_with_seeds(project):
    from demo.teacher import default_seed_files
    from selfinstruct.services import import_seed_file

    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    return project


def _worker_report(worker) -> str:
    """What the worker saw, in the few thousand characters CI shows of a failure: whether it is still running, its
    critical lines, the log from the broker loss on (where a consumer that stopped shows why) and the stacks' tail."""
    log = worker.output()
    lost = max(log.find("Connection to broker lost"), 0)
    critical = [line for line in log.splitlines() if "CRITICAL" in line or "Unrecoverable" in line]
    return (
        f"worker exit code: {worker.proc.poll()} (None: still running)\n"
        f"critical lines: {critical[:10]}\n"
        f"log from the broker loss on:\n{log[lost : lost + 6000]}\n"
        f"log tail (threads' stacks):\n{log[-4000:]}"
    )


@pytest.mark.long(30)
def test_redis_killed_and_restarted_empty_mid_batch(project, teacher, private_redis):
    from llm.services import create_endpoint

    _project_with_seeds(project)
    create_endpoint(name="teach", base_url=teacher.url, model="demo-teacher", max_concurrency=4, request_timeout_s=5)
    teacher.faults(latency_ms=60)
    env = process_env(REDIS_URL=private_redis.url, **FAST_RECOVERY)  # broker, cache and caps on the private server
    with celery_worker(concurrency=2, env=env) as worker:
        started = manage(
            "generate",
            "--project",
            "alpha",
            "--endpoint",
            "teach",
            "--template",
            "alpaca",
            "--target",
            "400",  # far enough that the kill lands mid-batch even when the test process is starved of CPU
            env=env,
            check=True,
        )
        batch_id = int(started.stdout.split("batch ")[1].split()[0])
        wait_for_accepted(batch_id, 30)
        private_redis.kill()  # queued and in-flight messages are gone with it
        time.sleep(2)
        assert accepted_count(batch_id) < 400
        private_redis.start()  # back, empty
        try:
            batch = wait_until_final(batch_id, timeout=240)
        except AssertionError as exc:  # say what the worker saw, so a failure here can be diagnosed
            # Celery's SIGUSR1 handler writes every thread's stack to the log: a consumer that died after the
            # restart shows apart from one stuck in it. Seen twice before core.broker: kombu's restore_unacked and
            # a late acknowledgement on the closed connection raised AttributeError, which stopped the worker.
            os.kill(worker.proc.pid, signal.SIGUSR1)
            time.sleep(2)
            raise AssertionError(f"{exc}\n{_worker_report(worker)}") from None
        log = worker.output()
        assert worker.proc.poll() is None  # the same worker process rode it out
    assert "'generation': " in log
    assert_batch_reconciles(batch, project.pk, 400)


@pytest.mark.long(20)
def test_postgres_connections_terminated_mid_batch(project, endpoint):
    from selfinstruct.batches import start_batch

    _project_with_seeds(project)
    # The worker's connections carry their own application name (libpq reads PGAPPNAME): only they are cut, never
    # a connection this test process holds in another thread (a live server's, say), which later tests would inherit.
    env = process_env(**FAST_RECOVERY, PGAPPNAME="fault-target-worker")
    with celery_worker(concurrency=2, env=env) as worker:
        batch = start_batch(project=project, endpoint=endpoint, template_name="alpaca", target=150)
        wait_for_accepted(batch.pk, 30)
        killed = 0
        for _ in range(3):  # a few times, so some land mid-step
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = 'fault-target-worker'"
                )
                killed += cursor.fetchone()[0]
            time.sleep(1)
        assert killed >= 1
        batch = wait_until_final(batch.pk, timeout=240)
        assert worker.proc.poll() is None
    assert_batch_reconciles(batch, project.pk, 150)


@pytest.mark.long(25)
def test_worker_killed_mid_dataset_build(project, tmp_path):
    """SIGKILL while the rows are being written: the next worker's reconciler restarts the build, which publishes
    exactly the rows (same content hash) an undisturbed build gives, and leaves no staging folder behind."""
    import json

    from core.storage import local_path
    from exports.models import DatasetVersion, VersionStatus
    from exports.services import build_dataset_version, create_dataset_version
    from selfinstruct.services import import_seed_file

    seeds = tmp_path / "many.jsonl"
    with seeds.open("w") as out:
        for i in range(30_000):
            row = {
                "instruction": f"Write line {i} of a long story about item {i}.",
                "instances": [{"input": "", "output": f"Line {i}: the item {i} waited."}],
            }
            out.write(json.dumps(row) + "\n")
    import_seed_file(project=project, path=seeds)
    env = process_env(DATASET_BUILD_HEARTBEAT_SECONDS="0", DATASET_BUILD_STALE_SECONDS="2", **FAST_RECOVERY)
    with celery_worker(env=env) as first:
        version = create_dataset_version(project=project, kind="sft", test_fraction=0.1)
        deadline = time.monotonic() + 120
        while not DatasetVersion.objects.filter(pk=version.pk, rows_written__gte=1000).exists():
            assert time.monotonic() < deadline, first.output()[-2000:]
            time.sleep(0.01)
        first.kill(signal.SIGKILL)  # mid-build: rows are being written
    version.refresh_from_db()
    assert version.status == VersionStatus.BUILDING and 0 < version.rows_written < 30_000
    with celery_worker(env=env) as second:  # its queue is purged first: only the reconciler can restart the build
        wait_while_building(version, timeout=120)
        log = second.output()
    assert version.status == VersionStatus.READY, log[-3000:]
    assert "build stalled; restarting it" in log
    left = [path.name for path in local_path(f"datasets/{version.pk}").iterdir()]
    assert version.row_count == 30_000 and left == [str(version.build_token)]  # the killed build's files removed
    twin = create_dataset_version(project=project, kind="sft", test_fraction=0.1)
    build_dataset_version(version_id=twin.pk, token=str(twin.build_token))  # undisturbed, in this process
    twin.refresh_from_db()
    assert twin.content_hash == version.content_hash
