"""Serving a trained model as a run in the lifecycle (what the models page's Serve button starts): a gpu worker
serves it as endpoint job-<id> while the run beats; Stop cancels it and switches the endpoint off; a worker that
dies leaves a run the reconciler fails, its endpoint switched off; only project admins start or stop one."""

from __future__ import annotations

import threading
import time
import urllib.request
from datetime import timedelta

import pytest
from django.utils import timezone

from core.lifecycle import RunStatus
from tests.helpers.processes import free_port
from tests.helpers.processes import test_database_url as database_url
from tests.training.test_serving import succeeded_sft_job  # noqa: F401 - shared fixture
from training.models import ServingRun


def _wait(condition, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.mark.long(20)
@pytest.mark.django_db(transaction=True)
def test_serve_from_the_api_then_stop_it(succeeded_sft_job, api_as, settings, monkeypatch):  # noqa: F811
    from llm.models import LLMEndpoint
    from training import serving_runs
    from training.tasks import serving_task

    job = succeeded_sft_job
    port = free_port()
    settings.SERVING_PORT_RANGE = (port, port)
    settings.SERVING_ENGINE = "builtin"
    settings.TRAINING_POLL_SECONDS = 0.2
    monkeypatch.setenv("DATABASE_URL", database_url())  # the server process reads the test database
    sent = []
    monkeypatch.setattr(serving_task, "apply_async", lambda args, **options: sent.append((args, options["queue"])))
    assert api_as("consumer").post(f"/api/v1/training-jobs/{job.pk}/serve").status_code == 403
    assert api_as("labeler").post(f"/api/v1/training-jobs/{job.pk}/serve").status_code == 404
    admin = api_as("project_admin")
    started = admin.post(f"/api/v1/training-jobs/{job.pk}/serve")
    assert started.status_code == 201 and started.json()["status"] == "queued"
    run_id = started.json()["id"]
    assert sent == [((run_id,), settings.TRAINING_QUEUE)]
    again = admin.post(f"/api/v1/training-jobs/{job.pk}/serve")
    assert again.status_code == 409 and "served already" in again.json()["detail"]

    worker = threading.Thread(target=serving_runs.run_serving, kwargs={"run_id": run_id}, daemon=True)
    worker.start()  # what the gpu worker's task does
    _wait(lambda: ServingRun.objects.filter(pk=run_id, endpoint__is_active=True).exists())
    assert admin.get(f"/api/v1/serving-runs/{run_id}").json()["endpoint_active"]
    run = ServingRun.objects.get(pk=run_id)
    endpoint = LLMEndpoint.objects.get(name=f"job-{job.pk}")
    assert run.status == RunStatus.RUNNING and run.endpoint == endpoint and endpoint.is_active
    assert endpoint.project_id == job.project_id and run.base_url == endpoint.base_url == f"http://127.0.0.1:{port}/v1"
    assert endpoint.checks.get().status == RunStatus.SUCCEEDED  # its /health answer: pickers show it ok at once
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as reply:
        assert reply.status == 200
    listed = admin.get("/api/v1/serving-runs?project=alpha").json()
    assert [r["id"] for r in listed] == [run_id] and listed[0]["endpoint"] == endpoint.name

    assert api_as("consumer").post(f"/api/v1/serving-runs/{run_id}/cancel").status_code == 403
    stopped = admin.post(f"/api/v1/serving-runs/{run_id}/cancel")
    assert stopped.status_code == 200 and stopped.json()["status"] == "cancelled"
    endpoint.refresh_from_db()
    assert not endpoint.is_active  # at once, whatever the worker does
    worker.join(30)
    assert not worker.is_alive()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)  # the server process is gone
    assert admin.post(f"/api/v1/serving-runs/{run_id}/cancel").status_code == 409


def test_a_worker_that_dies_leaves_a_run_the_reconciler_fails_with_its_endpoint_off(project, sft_version):
    from core import lifecycle
    from llm.services import create_endpoint
    from training.models import TrainingJob

    job = TrainingJob.objects.create(
        project=project, dataset_version=sft_version, kind="sft", base_model="x", status=RunStatus.SUCCEEDED
    )
    endpoint = create_endpoint(name=f"job-{job.pk}", base_url="http://127.0.0.1:9/v1", model="m", project=project)
    run = ServingRun.objects.create(
        project=project,
        job=job,
        endpoint=endpoint,
        status=RunStatus.RUNNING,
        hostname="elsewhere",
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    assert lifecycle.reconcile()["serving"] == 1
    run.refresh_from_db()
    endpoint.refresh_from_db()
    assert run.status == RunStatus.FAILED and "stopped reporting" in run.error and not endpoint.is_active


def test_serve_model_queues_lists_and_stops_serving_runs(project, sft_version, monkeypatch, capsys):
    from django.core.management import CommandError, call_command

    from training.models import TrainingJob
    from training.tasks import serving_task

    monkeypatch.setattr("training.artifacts.has_model", lambda job: True)
    monkeypatch.setattr(serving_task, "apply_async", lambda *a, **k: None)
    job = TrainingJob.objects.create(
        project=project, dataset_version=sft_version, kind="sft", base_model="x", status=RunStatus.SUCCEEDED
    )
    call_command("serve_model", str(job.pk), "--queue")
    run = ServingRun.objects.get()
    assert capsys.readouterr().out.strip() == str(run.pk) and run.status == RunStatus.QUEUED
    call_command("serve_model", "--status")
    assert f"job-{job.pk}\tqueued" in capsys.readouterr().out
    call_command("serve_model", "--stop", str(run.pk))
    assert "cancelled" in capsys.readouterr().out
    with pytest.raises(CommandError, match="already cancelled"):
        call_command("serve_model", "--stop", str(run.pk))
    with pytest.raises(CommandError, match="job_id: required"):
        call_command("serve_model")


def test_models_page_serve_button_follows_the_run_and_stops_it(client, cast, project, sft_version, monkeypatch):
    from llm.services import create_endpoint
    from training.models import TrainingJob
    from training.tasks import serving_task

    monkeypatch.setattr("training.artifacts.has_model", lambda job: True)
    monkeypatch.setattr(serving_task, "apply_async", lambda *a, **k: None)
    job = TrainingJob.objects.create(
        project=project, dataset_version=sft_version, kind="sft", base_model="x", status=RunStatus.SUCCEEDED
    )
    client.force_login(cast["project_admin"])
    page = client.get("/console/alpha/models/").content.decode()
    assert f'data-serve="{job.pk}"' in page and f"manage.py serve_model {job.pk} --port 8100</code>" in page
    assert "VLLM_API_KEY" in page and "VLLM_API_KEY=," not in page  # the hint no longer eats a <key>
    client.post(f"/console/alpha/models/{job.pk}/serving/start")
    run = ServingRun.objects.get()
    cell = client.get(f"/console/alpha/models/{job.pk}/serving").content.decode()
    assert 'data-serving="queued"' in cell and 'hx-trigger="every 2s"' in cell and f'data-stop="{run.pk}"' in cell
    # the worker has it up: the cell shows the endpoint, Stop and Try it, and polls slower
    endpoint = create_endpoint(name=f"job-{job.pk}", base_url="http://127.0.0.1:9/v1", model="m", project=project)
    ServingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, endpoint=endpoint, heartbeat_at=timezone.now()
    )
    cell = client.get(f"/console/alpha/models/{job.pk}/serving").content.decode()
    assert 'data-serving="up"' in cell and f'data-try="job-{job.pk}"' in cell and "every 10s" in cell
    client.force_login(cast["other_admin"])
    assert client.post(f"/console/alpha/serving/{run.pk}/stop").status_code == 404
    client.force_login(cast["project_admin"])
    client.post(f"/console/alpha/serving/{run.pk}/stop")
    run.refresh_from_db()
    endpoint.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and not endpoint.is_active
    page = client.get("/console/alpha/models/").content.decode()
    assert f'data-serve="{job.pk}"' in page and "hx-get" not in page.split(f'id="serving-{job.pk}"')[1][:200]


def test_a_served_model_is_healthy_in_every_picker_as_soon_as_its_server_answers(project, sft_version):
    import uuid

    from llm.health import with_health
    from llm.models import LLMEndpoint
    from llm.services import create_endpoint, set_endpoint_active
    from training import serving_runs
    from training.models import TrainingJob

    job = TrainingJob.objects.create(
        project=project, dataset_version=sft_version, kind="sft", base_model="x", status=RunStatus.SUCCEEDED
    )
    endpoint = create_endpoint(name=f"job-{job.pk}", base_url="http://127.0.0.1:9/v1", model="m", project=project)
    set_endpoint_active(endpoint, False)  # as registered by serve_model, before its server answers
    token = uuid.uuid4()
    run = ServingRun.objects.create(project=project, job=job, status=RunStatus.RUNNING, run_token=token)
    serving_runs._switch_on(run, name=endpoint.name, token=token, latency_ms=37)  # its /health answered in 37 ms
    [shown] = with_health(LLMEndpoint.objects.filter(pk=endpoint.pk))
    assert shown.is_active and shown.health.source == "check"  # not "never checked" until a run first uses it
    assert shown.health_label == f"job-{job.pk} · m · ok 37 ms, just now"
