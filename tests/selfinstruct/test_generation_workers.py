"""Generation through real worker processes on this pass's broker and database, with faults, kills and lost queues.

Done-when of the generation issue: with the demo teacher injecting 429s, 500s, timeouts and malformed replies, a
batch reaches its target with two workers, survives workers killed mid-batch (SIGKILL) and a broker that lost its
queued messages, and an independent check finds no pair above 0.7 and no blacklisted word.
"""

import shutil
import signal

import pytest
from django.conf import settings

from core.lifecycle import RunStatus
from llm.services import create_endpoint
from selfinstruct.batches import start_batch
from selfinstruct.selectors import accepted_count, batch_progress
from tests.helpers.generation import (
    FAST_RECOVERY,
    assert_batch_reconciles,
    assert_pool_is_clean,
    wait_for_accepted,
    wait_until_final,
)
from tests.helpers.processes import celery_worker, manage, process_env

pytestmark = pytest.mark.django_db(transaction=True)


def drop_queued_messages() -> None:
    """What a Redis restart does to this project's queues (Redis here keeps nothing on disk)."""
    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL).flushdb()
    else:
        folder = settings.EMBEDDED_BROKER_DIR / "queue"
        shutil.rmtree(folder)
        folder.mkdir()


@pytest.mark.long(18)
def test_two_workers_faults_kills_and_lost_queues(seeded, teacher):
    endpoint = create_endpoint(
        name="flaky",
        base_url=teacher.url,
        model="demo-teacher",
        max_concurrency=4,
        request_timeout_s=1.5,
        max_retries=4,
    )
    teacher.faults(
        rates={"429": 0.15, "500": 0.1, "slow": 0.05, "malformed": 0.05, "truncated": 0.05, "empty": 0.05},
        retry_after=0.2,
        slow_seconds=3,
        latency_ms=80,
        seed=11,
    )
    env = process_env(**FAST_RECOVERY)
    with celery_worker(concurrency=2, env=env) as first, celery_worker(concurrency=2, env=env) as second:
        batch = start_batch(project=seeded, endpoint=endpoint, template_name="alpaca", target=120)
        wait_for_accepted(batch.pk, 20)
        first.kill(signal.SIGKILL)  # mid-batch: its in-flight steps die with it; the other worker carries on
        wait_for_accepted(batch.pk, 40)
        second.kill(signal.SIGKILL)  # now nobody is working on the batch
    assert accepted_count(batch.pk) < 120
    drop_queued_messages()  # as if Redis restarted: every queued step message is gone too
    with celery_worker(concurrency=2, env=env) as third:
        done = wait_until_final(batch.pk, timeout=240)
        assert "'generation': " in third.output()  # the new worker found the stalled lanes
    assert_batch_reconciles(done, seeded.pk, 120)
    stats = teacher.stats()
    assert sum(stats["faults"].values()) >= 5


COMBOS = [
    ("self-instruct", "en"),
    ("self-instruct", "zh"),
    ("alpaca", "en"),
    ("alpaca", "zh"),
    ("belle", "zh"),
    ("belle", "en"),
]


@pytest.mark.long(50)
def test_every_template_in_both_languages_through_two_workers_under_faults(seeded, teacher):
    endpoint = create_endpoint(
        name="flaky",
        base_url=teacher.url,
        model="demo-teacher",
        max_concurrency=4,
        request_timeout_s=1.5,
        max_retries=5,
    )
    teacher.faults(
        rates={"429": 0.1, "500": 0.1, "slow": 0.03, "malformed": 0.05, "reset": 0.03},
        retry_after=0.1,
        slow_seconds=3,
        seed=3,
    )
    env = process_env(**FAST_RECOVERY)
    with celery_worker(concurrency=2, env=env), celery_worker(concurrency=2, env=env):
        batches = [
            start_batch(project=seeded, endpoint=endpoint, template_name=t, target=20, language=lang)
            for t, lang in COMBOS
        ]
        finished = [wait_until_final(b.pk, timeout=300) for b in batches]
    for (template, language), batch in zip(COMBOS, finished, strict=True):
        progress = batch_progress(batch=batch)
        assert batch.status == RunStatus.SUCCEEDED, (template, language, batch.stop_reason)
        assert progress["accepted"] >= 20, (template, language)
        if template == "self-instruct":
            assert progress["instances"].get("done", 0) >= 0.8 * progress["accepted"]
    assert sum(teacher.stats()["faults"].values()) >= 5
    assert_pool_is_clean(seeded.pk)


@pytest.mark.long(20)
def test_generate_cli_waits_and_reports(seeded, teacher):
    create_endpoint(name="teach", base_url=teacher.url, model="demo-teacher", max_concurrency=2)
    with celery_worker(concurrency=2):
        result = manage(
            "generate",
            "--project",
            "alpha",
            "--endpoint",
            "teach",
            "--target",
            "20",
            "--template",
            "belle",
            "--wait",
            "--timeout",
            "120",
            env=process_env(),
        )
    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert "succeeded:" in summary and "accepted" in summary and "target reached" in summary
    assert "generation" in result.stderr  # the progress bar
    assert_pool_is_clean(seeded.pk)


def test_generate_cli_exit_code_reflects_a_failed_batch(seeded, teacher):
    create_endpoint(name="wrong", base_url=teacher.url.removesuffix("/v1") + "/nope", model="m")
    with celery_worker():
        result = manage(
            "generate",
            "--project",
            "alpha",
            "--endpoint",
            "wrong",
            "--target",
            "5",
            "--template",
            "self-instruct",
            "--wait",
            "--timeout",
            "60",
            env=process_env(),
        )
    assert result.returncode != 0 and "failed" in result.stderr and "client_error" in result.stderr


@pytest.mark.long(12)
def test_batch_cli_pause_resume_cancel(seeded, teacher):
    create_endpoint(name="teach", base_url=teacher.url, model="demo-teacher")
    started = manage(
        "generate",
        "--project",
        "alpha",
        "--endpoint",
        "teach",
        "--target",
        "1000",
        "--template",
        "self-instruct",
        env=process_env(),
    )
    batch_id = started.stdout.split()[1]
    assert manage("batch", "pause", batch_id).stdout.split()[2] == "paused:"
    again = manage("batch", "pause", batch_id)
    assert again.returncode != 0 and "only a running batch can be paused" in again.stderr
    assert manage("batch", "resume", batch_id).stdout.split()[2] == "running:"
    assert manage("batch", "cancel", batch_id).stdout.split()[2] == "cancelled:"
    bad = manage("generate", "--project", "alpha", "--endpoint", "teach", "--target", "5", "--template", "nope")
    assert bad.returncode != 0 and "--template: no template named 'nope'" in bad.stderr
