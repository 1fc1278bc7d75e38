"""A trained model's lineage, on one page (the job's admin page) and in the API: the dataset version and what its
rows came from (seeds, labelers, …), the base model, and the earlier rounds it was trained on top of."""

import shutil


def _succeeded(job, tiny_base):
    from core.lifecycle import RunStatus
    from training.models import TrainingJob
    from training.services import model_dir

    shutil.copytree(tiny_base, model_dir(job), dirs_exist_ok=True)  # what a finished run leaves
    TrainingJob.objects.filter(pk=job.pk).update(status=RunStatus.SUCCEEDED)
    job.refresh_from_db()
    return job


def test_lineage_follows_the_rounds_back(project, cast, sft_version, preference_version, tiny_base, api_as, client):
    from training.services import create_training_job

    first = _succeeded(
        create_training_job(project=project, dataset_version=sft_version, kind="sft", base_model=str(tiny_base)),
        tiny_base,
    )
    second = create_training_job(project=project, dataset_version=preference_version, kind="reward", base_job=first)

    body = api_as("consumer").get(f"/api/v1/training-jobs/{second.pk}/").json()["lineage"]
    assert body["dataset_version"]["id"] == preference_version.pk
    assert body["dataset_version"]["lineage"]["labelers"] == ["ranker0"]
    assert body["base_job"] == first.pk
    (earlier,) = body["earlier_rounds"]
    assert earlier["job"] == first.pk and earlier["dataset_version"]["id"] == sft_version.pk
    assert earlier["dataset_version"]["lineage"]["seeds"] == sft_version.lineage["seeds"] > 0
    assert earlier["base_model"] == "tiny-base"  # its name under the model root, never the server path

    client.force_login(cast["admin"])
    page = client.get(f"/admin/training/trainingjob/{second.pk}/change/").content.decode()
    assert "lineage" in page and f"job {first.pk}</a>" in page and "ranker0" in page
    assert f"dataset v{sft_version.number} (sft)" in page and "seed tasks" in page
    assert "ranked tasks / rankings" in page
