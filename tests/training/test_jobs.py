"""Training jobs without a worker: validation with readable errors, the state machine's guards (cancel, a
redelivered message, the reaper, lost messages), triggers, and the API's scoping."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from core.lifecycle import RunStatus
from training.models import TrainingJob, TrainingTrigger
from training.services import TrainingJobError, cancel_training_job, create_training_job
from training.supervisor import run_training_job
from training.trainer import hyperparameters


def test_hyperparameters_resolve_with_defaults_and_name_the_bad_field():
    sft = hyperparameters.resolve("sft", "lora", {"epochs": 2})
    assert sft["epochs"] == 2.0 and sft["learning_rate"] == 2e-4 and sft["packing"] is False
    reward = hyperparameters.resolve("reward", "full", None)
    assert reward["epochs"] == 1.0 and reward["learning_rate"] == 1e-5 and "use_margin" in reward
    cases = [
        ({"epoch": 1}, "unknown key(s) for sft: ['epoch']"),
        ({"batch_size": 2.5}, "hyperparameters.batch_size: a whole number"),
        ({"learning_rate": "fast"}, "hyperparameters.learning_rate: a number"),
        ({"warmup_ratio": 0.9}, "hyperparameters.warmup_ratio: must be from 0.0 to 0.5"),
        ({"packing": 1}, "hyperparameters.packing: true or false"),
        ({"lr_scheduler": "exotic"}, "hyperparameters.lr_scheduler: must be one of"),
    ]
    for given, message in cases:
        with pytest.raises(ValueError) as caught:
            hyperparameters.resolve("sft", "full", given)
        assert message in str(caught.value)


def test_create_validates_dataset_base_model_and_hyperparameters(
    project, other_project, preference_version, sft_version, tiny_base, tmp_path
):
    def create(**kw):
        args = {
            "project": project,
            "dataset_version": preference_version,
            "kind": "reward",
            "base_model": str(tiny_base),
        } | kw
        return create_training_job(**args)

    job = create(hyperparameters={"epochs": 2})
    assert job.status == RunStatus.QUEUED and job.hyperparameters["epochs"] == 2.0
    assert job.base_model == str(Path(tiny_base).resolve()) and job.enqueued_at is not None
    errors = [
        ({"kind": "sft"}, "a sft job trains on a sft version; version"),
        ({"base_model": str(tiny_base / "nowhere")}, "base_model: no base model named"),
        ({"base_model": str(tiny_base.parent)}, "base_model: no base model named"),  # no config.json
        ({"base_model": ""}, "base_model: no base model named ''"),
        ({"hyperparameters": {"epochs": -1}}, "hyperparameters.epochs: must be from"),
        ({"method": "dora"}, "method: must be one of"),
        ({"project": other_project}, "belongs to another project"),
        ({"base_job": job}, f"base_job: job {job.pk} is queued, not succeeded"),
    ]
    for kw, message in errors:
        with pytest.raises(TrainingJobError) as caught:
            create(**kw)
        assert message in str(caught.value), (kw, str(caught.value))
    from exports.services import build_dataset_version, create_dataset_version

    empty = create_dataset_version(project=project, kind="sft", filters={"languages": ["fr"]})
    build_dataset_version(version_id=empty.pk, token=str(empty.build_token))
    empty.refresh_from_db()
    with pytest.raises(TrainingJobError, match="has no rows in its train split"):
        create(dataset_version=empty, kind="sft")
    assert TrainingJob.objects.count() == 1


def test_cancel_a_queued_job_and_guards(project, preference_version, tiny_base):
    job = create_training_job(
        project=project, dataset_version=preference_version, kind="reward", base_model=str(tiny_base)
    )
    assert cancel_training_job(job=job) == RunStatus.CANCELLED
    job.refresh_from_db()
    assert job.status == RunStatus.CANCELLED and job.error == "cancelled before it started"
    with pytest.raises(TrainingJobError, match="is already cancelled"):
        cancel_training_job(job=job)
    run_training_job(job_id=job.pk)  # its message arrives later: nothing starts
    job.refresh_from_db()
    assert job.status == RunStatus.CANCELLED and job.started_at is None


def test_a_redelivered_message_never_starts_a_second_run(project, preference_version, tiny_base, monkeypatch):
    job = create_training_job(
        project=project, dataset_version=preference_version, kind="reward", base_model=str(tiny_base)
    )
    TrainingJob.objects.filter(pk=job.pk).update(status=RunStatus.RUNNING, heartbeat_at=timezone.now())
    launched = []
    monkeypatch.setattr("training.supervisor.launcher.start_trainer", lambda *a, **k: launched.append(a))
    run_training_job(job_id=job.pk)
    assert launched == [] and TrainingJob.objects.get(pk=job.pk).status == RunStatus.RUNNING


def test_reaper_fails_jobs_whose_heartbeat_stopped_and_lost_messages_are_resent(
    project, preference_version, tiny_base, monkeypatch, settings
):
    from core import lifecycle
    from training.tasks import run_training_job_task

    settings.TRAINING_STALE_SECONDS = settings.TRAINING_REQUEUE_SECONDS = 60

    def make():
        return create_training_job(
            project=project,
            dataset_version=preference_version,
            kind="reward",
            base_model=str(tiny_base),
        )

    stale, fresh, waiting = make(), make(), make()
    old = timezone.now() - timedelta(minutes=10)
    TrainingJob.objects.filter(pk=stale.pk).update(status=RunStatus.RUNNING, heartbeat_at=old, step=7, total_steps=20)
    TrainingJob.objects.filter(pk=fresh.pk).update(status=RunStatus.RUNNING, heartbeat_at=timezone.now())
    TrainingJob.objects.filter(pk=waiting.pk).update(enqueued_at=old)
    sent = []
    monkeypatch.setattr(run_training_job_task, "apply_async", lambda args, **options: sent.append(args[0]))
    assert lifecycle.reconcile()["training"] == 2  # one reaped, one re-sent
    stale.refresh_from_db()
    assert stale.status == RunStatus.FAILED and "stopped reporting" in stale.error and "7/20 done" in stale.error
    assert TrainingJob.objects.get(pk=fresh.pk).status == RunStatus.RUNNING
    assert sent == [waiting.pk]
    assert lifecycle.reconcile()["training"] == 0  # re-sent once per period, not on every pass


def test_a_trigger_starts_a_job_when_a_version_becomes_ready(project, preference_version, tiny_base):
    TrainingTrigger.objects.create(
        project=project, kind="reward", base_model=str(tiny_base), method="lora", hyperparameters={"epochs": 1}
    )
    TrainingTrigger.objects.create(project=project, kind="sft", base_model=str(tiny_base))  # not for preference
    from exports.services import build_dataset_version, create_dataset_version

    version = create_dataset_version(project=project, kind="preference")
    build_dataset_version(version_id=version.pk, token=str(version.build_token))
    (job,) = TrainingJob.objects.filter(dataset_version=version)
    assert job.kind == "reward" and job.method == "lora" and job.trigger is not None


def test_api_creates_lists_and_scopes_jobs(api_as, project, preference_version, tiny_base):
    admin, consumer = api_as("project_admin"), api_as("consumer")  # admins start and stop training; consumers read
    created = admin.post(
        "/api/v1/training-jobs/",
        {"dataset": preference_version.pk, "kind": "reward", "base_model": str(tiny_base)},
        format="json",
    )
    assert created.status_code == 201, created.content
    job_id = created.json()["id"]
    assert created.json()["lineage"]["dataset_version"]["content_hash"] == preference_version.content_hash
    assert [j["id"] for j in consumer.get("/api/v1/training-jobs/").json()] == [job_id]
    bad = admin.post(
        "/api/v1/training-jobs/",
        {"dataset": preference_version.pk, "kind": "reward", "base_model": "/no/such/model"},
        format="json",
    )
    assert bad.status_code == 400 and "base_model:" in bad.json()["detail"]
    outsider = api_as("other_consumer")
    assert outsider.get(f"/api/v1/training-jobs/{job_id}/").status_code == 404
    assert outsider.post(f"/api/v1/training-jobs/{job_id}/cancel").status_code == 404
    assert (
        outsider.post(
            "/api/v1/training-jobs/",
            {"dataset": preference_version.pk, "kind": "reward", "base_model": str(tiny_base)},
            format="json",
        ).status_code
        == 404
    )
    assert api_as("labeler").get(f"/api/v1/training-jobs/{job_id}/").status_code == 404
    assert api_as(None).get("/api/v1/training-jobs/").status_code in (401, 403)
    assert consumer.post(f"/api/v1/training-jobs/{job_id}/cancel").status_code == 403
    assert admin.post(f"/api/v1/training-jobs/{job_id}/cancel").json() == {"status": "cancelled"}
    assert admin.post(f"/api/v1/training-jobs/{job_id}/cancel").status_code == 409
    assert consumer.get(f"/api/v1/training-jobs/{job_id}/artifacts/../../etc/passwd").status_code == 404
