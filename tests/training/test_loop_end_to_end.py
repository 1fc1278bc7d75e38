"""The whole loop on real worker processes (a `default` worker and a `gpu` worker, this pass's broker and
database): seeds → generation with the demo teacher → K completions per prompt → human rankings → SFT and
preference dataset versions → an SFT job and a reward-model job → trained models that load with transformers."""

import time

import pytest

from annotation.models import Completion, SamplingRun, SamplingStatus
from annotation.services import claim_next_ranking_task, start_sampling_run, submit_ranking
from exports.models import DatasetVersion, VersionStatus
from exports.services import create_dataset_version
from llm.services import create_endpoint
from llm.teacher import default_seed_files
from selfinstruct.models import BatchStatus
from selfinstruct.services import import_seed_file, start_batch
from tests.helpers.generation import wait_until_final
from tests.helpers.processes import celery_worker
from training.models import JobStatus, TrainingJob, TrainingMetric

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(900)]


def poll(read, done, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if done(value):
            return value
        time.sleep(0.3)
    raise AssertionError(f"not done after {timeout}s: {value!r}")


def test_seeds_to_trained_sft_and_reward_models(project, teacher, labelers, tiny_base, api_as, cast):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    endpoint = create_endpoint(name="teach", base_url=teacher.url, model="demo-teacher", request_timeout_s=5)
    hot = create_endpoint(name="teach-hot", base_url=teacher.url, model="demo-teacher-hot", request_timeout_s=5)
    (labeler,) = labelers(1)
    consumer = api_as("consumer")
    with celery_worker(concurrency=2) as default_worker, celery_worker(queues=("gpu",)) as gpu_worker:
        batch = start_batch(project=project, endpoint=endpoint, template_name="alpaca", target=12)
        assert wait_until_final(batch.pk).status == BatchStatus.COMPLETED
        run = start_sampling_run(project=project, endpoints=[(endpoint, {}), (hot, {"temperature": 1.2})],
                                 per_prompt=3, sources=("generated",))  # fmt: skip
        run = poll(lambda: SamplingRun.objects.get(pk=run.pk), lambda r: r.status != SamplingStatus.RUNNING)
        assert run.status == SamplingStatus.SUCCEEDED
        ranked = 0
        while (assignment := claim_next_ranking_task(project=project, labeler=labeler)) is not None:
            texts = dict(Completion.objects.filter(pk__in=assignment.task.completion_ids).values_list("pk", "text"))
            best_first = sorted(texts, key=lambda pk: (-len(texts[pk]), pk))  # this labeler likes thorough answers
            submit_ranking(task=assignment.task, labeler=labeler, ranking=best_first)
            ranked += 1
        assert ranked >= 12
        sft_version = create_dataset_version(project=project, kind="sft", test_fraction=0.2,
                                             filters={"include_seeds": False})  # fmt: skip
        pref_version = create_dataset_version(project=project, kind="preference", test_fraction=0.25)
        for version in (sft_version, pref_version):
            ready = poll(lambda v=version: DatasetVersion.objects.get(pk=v.pk), lambda v: v.status != "building")
            assert ready.status == VersionStatus.READY, ready.error
        jobs = {}
        for kind, version in (("sft", sft_version), ("reward", pref_version)):
            response = consumer.post("/api/v1/training-jobs/", {
                "dataset": version.pk, "kind": kind, "base_model": str(tiny_base),
                "hyperparameters": {"epochs": 2, "max_length": 256, "learning_rate": 1e-3}}, format="json")  # fmt: skip
            assert response.status_code == 201, response.content
            jobs[kind] = response.json()["id"]
        for job_id in jobs.values():
            job = poll(lambda j=job_id: TrainingJob.objects.get(pk=j),
                       lambda j: j.status not in (JobStatus.QUEUED, JobStatus.RUNNING), timeout=300)  # fmt: skip
            assert job.status == JobStatus.SUCCEEDED, job.error + gpu_worker.output()[-2000:]
        default_log = default_worker.output()
    assert "Traceback" not in default_log
    sft, rm = TrainingJob.objects.get(pk=jobs["sft"]), TrainingJob.objects.get(pk=jobs["reward"])
    assert sft.results["train_rows"] == sft_version.__class__.objects.get(pk=sft_version.pk).train_rows
    assert sft.results["eval_loss"] > 0 and sft.results["samples"]
    assert 0 <= rm.results["accuracy"] <= 1 and rm.results["pairs_evaluated"] > 0
    assert TrainingMetric.objects.filter(job=sft, values__has_key="loss").count() >= sft.total_steps // 2
    assert TrainingMetric.objects.filter(job=rm, values__has_key="eval_accuracy").exists()
    assert AutoModelForCausalLM.from_pretrained(f"{sft.output_dir}/model").config.model_type == "llama"
    assert AutoModelForSequenceClassification.from_pretrained(f"{rm.output_dir}/model").config.num_labels == 1
    lineage = consumer.get(f"/api/v1/training-jobs/{rm.pk}/").json()["lineage"]["dataset_version"]["lineage"]
    assert lineage["labelers"] == [labeler.username] and set(lineage["endpoints"]) == {"teach", "teach-hot"}
