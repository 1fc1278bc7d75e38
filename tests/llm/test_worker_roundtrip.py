"""A real `celery worker` process consumes what the public service enqueues, on this pass's broker and database.

Embedded pass: kombu's filesystem broker + SQLite. Services pass: Redis + PostgreSQL.
"""

import time

import pytest
from django.conf import settings

from core.lifecycle import RunStatus
from llm.models import EndpointCheck, LLMRequest
from llm.services import create_endpoint, request_endpoint_check
from tests.helpers.processes import celery_worker, manage, process_env
from tests.testenv import SERVICES_PASS

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for_check(check_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check = EndpointCheck.objects.get(pk=check_id)
        if check.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            return check
        time.sleep(0.1)
    raise AssertionError(f"check {check_id} still {check.status} after {timeout}s")


def test_the_pass_uses_the_expected_broker_and_database():
    from django.db import connection

    if SERVICES_PASS:
        assert settings.CELERY_BROKER_URL.startswith("redis://") and connection.vendor == "postgresql"
    else:
        assert settings.CELERY_BROKER_URL.startswith("filesystem://") and connection.vendor == "sqlite"


def test_worker_runs_an_endpoint_check_enqueued_through_the_service(teacher):
    endpoint = create_endpoint(name="teach", base_url=teacher.url, model="demo-teacher", request_timeout_s=5)
    teacher.faults(queue=["429"], retry_after=0.2)  # the worker goes through the retry path too
    with celery_worker() as worker:
        check = request_endpoint_check(endpoint=endpoint)
        done = wait_for_check(check.pk)
        assert done.status == RunStatus.SUCCEEDED, done.error
        assert done.reply and done.latency_ms is not None and done.worker
        deadline = time.monotonic() + 15  # Celery logs the task's success after its row is already written
        while "succeeded" not in worker.output() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "succeeded" in worker.output()
    attempts = list(LLMRequest.objects.filter(purpose="endpoint-check").order_by("attempt"))
    assert [(a.ok, a.error_kind) for a in attempts] == [(False, "rate_limited"), (True, "")]


def test_a_failed_endpoint_is_reported_not_lost(teacher):
    endpoint = create_endpoint(
        name="down", base_url="http://127.0.0.1:9/v1", model="m", max_retries=1, request_timeout_s=1
    )
    with celery_worker():
        done = wait_for_check(request_endpoint_check(endpoint=endpoint).pk)
    assert done.status == RunStatus.FAILED and "connection" in done.error
    assert LLMRequest.objects.filter(endpoint=endpoint, ok=False).count() == 2


@pytest.mark.long(15)
def test_check_endpoint_cli_waits_for_the_worker(teacher):
    create_endpoint(name="teach", base_url=teacher.url, model="demo-teacher", request_timeout_s=5)
    with celery_worker():
        result = manage("check_endpoint", "teach", "--wait", "--timeout", "60", env=process_env())
    assert result.returncode == 0, result.stderr
    assert "queued" in result.stdout and "ok in" in result.stdout


def test_check_endpoint_cli_fails_clearly_without_a_worker(teacher):
    create_endpoint(name="teach", base_url=teacher.url, model="demo-teacher")
    result = manage("check_endpoint", "teach", "--wait", "--timeout", "1", env=process_env())
    assert result.returncode != 0 and "is a worker running?" in result.stderr
