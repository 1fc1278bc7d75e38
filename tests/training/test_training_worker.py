"""Training jobs through a real Celery worker on the `gpu` queue (concurrency 1, prefetch 1) on this pass's broker
and database: SFT and reward models succeed with metrics and loadable artifacts; cancel, a killed trainer, a
vanished base model and a killed worker each end in the right state with a readable error."""

import os
import shutil
import signal
import time

import pytest

from core.lifecycle import RunStatus
from tests.helpers.processes import celery_worker, manage, process_env
from training.models import TrainingJob, TrainingMetric
from training.services import create_training_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]
GPU = ("gpu",)
FAST = {"max_length": 64, "batch_size": 4, "learning_rate": 1e-3}


def wait_for(job, predicate, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if predicate(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job.pk} never got there: {job.status} step {job.step}/{job.total_steps} {job.error}")


def finished(job):
    return job.status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


@pytest.mark.long(30)
def test_reward_model_via_api_and_sft_via_cli_on_a_real_worker(api_as, preference_version, sft_version, tiny_base):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    consumer = api_as("consumer")
    with celery_worker(queues=GPU) as worker:
        created = api_as("project_admin").post(  # admins train; the consumer reads below
            "/api/v1/training-jobs/",
            {
                "dataset": preference_version.pk,
                "kind": "reward",
                "base_model": str(tiny_base),
                "method": "lora",
                "hyperparameters": {**FAST, "epochs": 3},
                "seed": 3,
            },
            format="json",
        )
        assert created.status_code == 201, created.content
        rm = wait_for(TrainingJob.objects.get(pk=created.json()["id"]), finished)
        assert rm.status == RunStatus.SUCCEEDED, rm.error + worker.output()[-3000:]
        cli = manage(
            "train",
            "--dataset",
            str(sft_version.pk),
            "--kind",
            "sft",
            "--base-model",
            str(tiny_base),
            "--hp",
            "epochs=2",
            "--hp",
            "max_length=512",
            "--hp",
            "learning_rate=1e-3",
            "--hp",
            "sample_prompts=2",
            "--wait",
            "--timeout",
            "300",
            env=process_env(),
        )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    sft = TrainingJob.objects.get(kind="sft")
    assert f"job {sft.pk}: succeeded" in cli.stdout and "model: " in cli.stdout
    # reward model: held-out accuracy, pairs dropped for length, a metrics series with RM accuracy
    assert rm.results["test_pairs"] == preference_version.test_rows and 0 <= rm.results["accuracy"] <= 1
    assert rm.results["pairs_evaluated"] + rm.results["test_pairs_dropped_for_length"] == rm.results["test_pairs"]
    assert "train_pairs_dropped_for_length" in rm.results and rm.step == rm.total_steps > 0
    logged = [m.values for m in TrainingMetric.objects.filter(job=rm)]
    assert any("loss" in v and "learning_rate" in v and "grad_norm" in v for v in logged)
    assert any("accuracy" in v and "margin" in v for v in logged) and any("eval_accuracy" in v for v in logged)
    detail = consumer.get(f"/api/v1/training-jobs/{rm.pk}/").json()
    names = {a["name"] for a in detail["artifacts"]}
    assert {
        "model/model.safetensors",
        "model/config.json",
        "metrics.json",
        "loss.png",
        "config.json",
        "train.log",
        "adapter/adapter_model.safetensors",
    } <= names
    assert detail["lineage"]["dataset_version"]["id"] == preference_version.pk
    png = consumer.get(f"/api/v1/training-jobs/{rm.pk}/artifacts/loss.png")
    assert png.status_code == 200 and b"".join(png.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"
    series = consumer.get(f"/api/v1/training-jobs/{rm.pk}/metrics").json()
    assert [p["step"] for p in series] == sorted(p["step"] for p in series) and len(series) >= rm.total_steps
    reward_model = AutoModelForSequenceClassification.from_pretrained(f"{rm.output_dir}/model")
    assert reward_model.config.num_labels == 1 and not hasattr(reward_model, "peft_config")
    # SFT: eval loss on the held-out split, sample generations, a causal LM that loads and generates
    assert sft.results["eval_loss"] > 0 and len(sft.results["samples"]) == 2
    assert {"prompt", "reference", "generated"} <= set(sft.results["samples"][0])
    assert TrainingMetric.objects.filter(job=sft, values__has_key="eval_loss").exists()
    model = AutoModelForCausalLM.from_pretrained(f"{sft.output_dir}/model")
    tokenizer = AutoTokenizer.from_pretrained(f"{sft.output_dir}/model")
    out = model.generate(
        **tokenizer("the cat", return_tensors="pt"),
        max_new_tokens=3,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
    )
    assert out.shape[1] > 2
    # the trained SFT model feeds the next round: a job can start from it
    nxt = create_training_job(project=sft.project, dataset_version=preference_version, kind="reward", base_job=sft)
    assert nxt.base_model == f"{sft.output_dir}/model"


@pytest.mark.long(30)
def test_cancel_stops_at_the_next_step_and_keeps_the_model(api_as, preference_version, tiny_base):
    with celery_worker(queues=GPU):  # (starting a worker purges its queue: create jobs after it is up)
        job = create_training_job(
            project=preference_version.project,
            dataset_version=preference_version,
            kind="reward",
            base_model=str(tiny_base),
            hyperparameters={**FAST, "max_steps": 100_000},
        )
        wait_for(job, lambda j: j.step >= 3)
        assert api_as("project_admin").post(f"/api/v1/training-jobs/{job.pk}/cancel").json() == {"status": "cancelling"}
        wait_for(job, finished, timeout=120)
    assert job.status == RunStatus.CANCELLED and job.error == "", job.error
    assert 3 <= job.step < 100_000
    assert os.path.exists(f"{job.output_dir}/model/model.safetensors")


@pytest.mark.long(30)
def test_a_killed_trainer_fails_the_job_with_the_reason(preference_version, tiny_base):
    with celery_worker(queues=GPU):
        job = create_training_job(
            project=preference_version.project,
            dataset_version=preference_version,
            kind="reward",
            base_model=str(tiny_base),
            hyperparameters={**FAST, "max_steps": 100_000},
        )
        wait_for(job, lambda j: j.step >= 2 and j.pid)
        os.kill(job.pid, signal.SIGKILL)  # an out-of-memory kill, a segfault in a kernel…
        wait_for(job, finished, timeout=60)
    assert job.status == RunStatus.FAILED
    assert job.error.startswith("the training process was killed by SIGKILL at step "), job.error


@pytest.mark.long(30)
def test_a_vanished_base_model_fails_readably_and_a_killed_worker_is_reaped(preference_version, tiny_base, tmp_path):
    gone = shutil.copytree(tiny_base, tiny_base.parent / "vanishing", dirs_exist_ok=True)  # in an allowed root
    env = process_env(TRAINING_STALE_SECONDS="3", GENERATION_RECONCILE_SECONDS="1")
    with celery_worker(queues=GPU, env=env) as worker:
        doomed = create_training_job(
            project=preference_version.project,
            dataset_version=preference_version,
            kind="reward",
            base_model=str(gone),
            hyperparameters=FAST,
        )
        shutil.rmtree(gone)  # deleted between queueing and running (the trainer checks it when it starts)
        long = create_training_job(
            project=preference_version.project,
            dataset_version=preference_version,
            kind="reward",
            base_model=str(tiny_base),
            hyperparameters={**FAST, "max_steps": 100_000},
        )
        wait_for(doomed, finished)
        wait_for(long, lambda j: j.step >= 2 and j.pid)
        trainer_pid = long.pid
        worker.kill(signal.SIGKILL)  # the worker dies mid-run; its trainer dies with it (PDEATHSIG)
    assert doomed.status == RunStatus.FAILED and "is not a transformers checkpoint folder" in doomed.error
    for _ in range(100):
        try:
            os.kill(trainer_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the trainer outlived its worker")
    with celery_worker(queues=GPU, env=env) as second:  # its reaper fails the orphaned job; nothing restarts it
        wait_for(long, finished, timeout=60)
        time.sleep(1.5)
        log = second.output()
    assert long.status == RunStatus.FAILED and "stopped reporting" in long.error, long.error
    assert "by kind: {'training': 1}" in log
    assert TrainingJob.objects.get(pk=long.pk).status == RunStatus.FAILED


@pytest.mark.long(25)
def test_train_cli_status_cancel_and_errors(preference_version, tiny_base):
    queued = manage(
        "train",
        "--dataset",
        str(preference_version.pk),
        "--kind",
        "reward",
        "--base-model",
        str(tiny_base),
        "--lora",
        "--hp",
        "epochs=2",
    )
    assert queued.returncode == 0, queued.stderr
    job = TrainingJob.objects.get()
    assert f"job {job.pk} queued: reward (lora)" in queued.stdout and job.hyperparameters["epochs"] == 2.0
    assert f"job {job.pk}: queued (step 0/0)" in manage("train", "--status", str(job.pk)).stdout
    assert manage("train", "--cancel", str(job.pk)).stdout.strip() == f"job {job.pk}: cancelled"
    again = manage("train", "--cancel", str(job.pk))
    assert again.returncode == 1 and "is already cancelled" in again.stderr
    wrong = manage("train", "--dataset", str(preference_version.pk), "--kind", "sft", "--base-model", str(tiny_base))
    assert wrong.returncode == 1 and "a sft job trains on a sft version" in wrong.stderr
    bad_hp = manage(
        "train",
        "--dataset",
        str(preference_version.pk),
        "--kind",
        "reward",
        "--base-model",
        str(tiny_base),
        "--hp",
        "epochz=1",
    )
    assert bad_hp.returncode == 1 and "unknown key(s) for reward: ['epochz']" in bad_hp.stderr
    assert TrainingJob.objects.count() == 1
