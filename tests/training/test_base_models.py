"""Finding 1: base models come only from the folders a site admin allowed; job folders are never a base model by
path (a project builds on its own jobs by base_job); refusals tell nothing about the server's disk; API answers
show no server paths."""

from __future__ import annotations

import json
import shutil

import pytest
from django.conf import settings

from core.lifecycle import RunStatus
from training.models import TrainingJob
from training.services import create_training_job, model_dir


@pytest.fixture
def finished_job(project, sft_version, tiny_base):
    """Project alpha's succeeded SFT job, with a model folder (what a finished run leaves)."""
    job = create_training_job(project=project, dataset_version=sft_version, kind="sft", base_model="tiny-base")
    shutil.copytree(tiny_base, model_dir(job), dirs_exist_ok=True)
    (model_dir(job) / "config.json").write_text(
        json.dumps({**json.loads((tiny_base / "config.json").read_text()), "_name_or_path": str(tiny_base)})
    )
    TrainingJob.objects.filter(pk=job.pk).update(status=RunStatus.SUCCEEDED)
    job.refresh_from_db()
    return job


def _beta_version(other_project):
    from demo.teacher import default_seed_files
    from exports.services import build_dataset_version, create_dataset_version
    from selfinstruct.services import import_seed_file

    for path in default_seed_files():
        import_seed_file(project=other_project, path=path)
    version = create_dataset_version(project=other_project, kind="sft", filters={"languages": ["en"]})
    build_dataset_version(version_id=version.pk, token=str(version.build_token))
    version.refresh_from_db()
    return version


def test_another_projects_job_model_cannot_be_a_base_model(
    api_as, cast, other_project, finished_job, tiny_base, tmp_path
):
    version = _beta_version(other_project)
    beta_admin = api_as("other_admin")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "config.json").write_text("{}")  # a checkpoint-looking folder outside the roots
    roots = settings.TRAINING_MODEL_ROOTS[0]
    (tiny_base.parent / "sneaky").symlink_to(model_dir(finished_job), target_is_directory=True)
    attempts = [
        str(model_dir(finished_job)),  # the probe's copy: A's job folder by absolute path
        f"{roots}/../training/{finished_job.pk}/model",  # the same through ..
        "sneaky",  # a link inside an allowed root pointing at the job folder
        str(tmp_path / "outside"),  # exists, has config.json, outside the roots
        str(tmp_path / "missing"),  # does not exist
        "/etc",
    ]
    answers = set()
    for base in attempts:
        response = beta_admin.post(
            "/api/v1/training-jobs/", {"dataset": version.pk, "kind": "sft", "base_model": base}, format="json"
        )
        assert response.status_code == 400, (base, response.content)
        detail = response.json()["detail"]
        assert detail.startswith("base_model: no base model named"), detail
        answers.add(detail.replace(repr(base[:100]), "NAME"))
    assert len(answers) == 1  # the same answer whether the folder exists, is a checkpoint or is a job's: no oracle
    # base_job is the only way to build on a job, and only on the project's own
    response = beta_admin.post(
        "/api/v1/training-jobs/", {"dataset": version.pk, "kind": "sft", "base_job": finished_job.pk}, format="json"
    )
    assert response.status_code == 404
    assert not TrainingJob.objects.filter(project=other_project).exists()


def test_names_under_an_allowed_root_work_and_roots_are_configurable(
    project, sft_version, tiny_base, tmp_path, settings
):
    job = create_training_job(project=project, dataset_version=sft_version, kind="sft", base_model="tiny-base")
    assert job.base_model == str(tiny_base.resolve())
    elsewhere = tmp_path / "models"
    shutil.copytree(tiny_base, elsewhere / "org" / "small")
    from training.services import TrainingJobError

    with pytest.raises(TrainingJobError, match="no base model named"):
        create_training_job(project=project, dataset_version=sft_version, kind="sft", base_model="org/small")
    settings.TRAINING_MODEL_ROOTS = [*settings.TRAINING_MODEL_ROOTS, str(elsewhere)]
    job = create_training_job(project=project, dataset_version=sft_version, kind="sft", base_model="org/small")
    assert job.base_model == str((elsewhere / "org" / "small").resolve())
    settings.TRAINING_MODEL_ROOTS = [settings.DATA_DIR]  # a root that holds the job folders: they stay refused
    with pytest.raises(TrainingJobError, match="no base model named"):
        create_training_job(
            project=project, dataset_version=sft_version, kind="sft", base_model=f"training/{job.pk}/model"
        )


def test_api_answers_show_names_never_server_paths(api_as, project, sft_version, finished_job, tiny_base):
    child = create_training_job(project=project, dataset_version=sft_version, kind="sft", base_job=finished_job)
    folder = model_dir(finished_job).parent
    (folder / "job.json").write_text(json.dumps({"base_model": str(tiny_base), "train_file": str(folder / "x")}))
    (folder / "train.log").write_text(f'Traceback: File "{settings.BASE_DIR}/training/trainer/runner.py"\n')
    client = api_as("consumer")
    detail = client.get(f"/api/v1/training-jobs/{child.pk}/").json()
    assert detail["base_model"] == f"job-{finished_job.pk}"
    assert detail["lineage"]["earlier_rounds"][0]["base_model"] == "tiny-base"
    bodies = [json.dumps(detail), json.dumps(client.get("/api/v1/training-jobs/").json())]
    parent = client.get(f"/api/v1/training-jobs/{finished_job.pk}/").json()
    for artifact in parent["artifacts"]:
        body = b"".join(client.get(f"/api/v1/training-jobs/{finished_job.pk}/artifacts/{artifact['name']}"))
        if artifact["name"].endswith((".json", ".log")):
            assert len(body) == artifact["bytes"], artifact  # the listed size is the size served
            bodies.append(body.decode())
    assert any("<models>" in body for body in bodies) and any("<app>" in body for body in bodies)
    for body in bodies:
        for secret in (str(settings.DATA_DIR), str(settings.BASE_DIR), str(tiny_base)):
            assert secret not in body, (secret, body[:300])


def test_an_overlong_base_model_is_a_400_naming_the_field(api_as, sft_version):
    response = api_as("project_admin").post(
        "/api/v1/training-jobs/", {"dataset": sft_version.pk, "kind": "sft", "base_model": "x" * 5000}, format="json"
    )
    assert response.status_code == 400 and "base_model" in response.json()["detail"]
