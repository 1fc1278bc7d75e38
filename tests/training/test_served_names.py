"""Served-model names (issue 34, finding 10): job-<id> belongs to training job <id>'s project. A project admin cannot
take such a name; a row that took one before the rule does not keep the job's own project from registering its
model (it is renamed aside, kept); win-rate and the models page use only the job's project's job-<id>."""

import pytest

from core.lifecycle import RunStatus
from llm.models import LLMEndpoint
from tests.training.conftest import sft_version  # noqa: F401 - shared fixture
from training.models import TrainingJob

STORED = {"files": {"model/config.json": 2}}  # what the artifact manifest says of an uploaded model
KEY = "registered-key-0123456789"
FORM = {
    "model": "m",
    "api_style": "chat",
    "max_concurrency": 2,
    "request_timeout_s": 30,
    "max_retries": 1,
    "price_input_per_1k": 0,
    "price_output_per_1k": 0,
    "is_active": "on",
}


@pytest.fixture
def sft_job(project, sft_version):  # noqa: F811
    done = {"status": RunStatus.SUCCEEDED, "artifacts": STORED, "base_model": "x", "dataset_version": sft_version}
    return TrainingJob.objects.create(project=project, kind="sft", **done)


def test_a_project_admin_cannot_take_a_served_model_name(client, cast, other_project, settings):
    from llm.services import EndpointError, save_project_endpoint

    settings.PROJECT_ENDPOINT_HOSTS = ["127.0.0.1"]
    for name in ("job-7", "job-70000", "job-7-moved-3", "JOB-5"):
        with pytest.raises(EndpointError, match="^name: .* is reserved for served training models"):
            save_project_endpoint(project=other_project, name=name, base_url="http://127.0.0.1:9/v1", model="m")
    client.force_login(cast["other_admin"])
    answer = client.post("/console/beta/endpoints/", {**FORM, "name": "job-7", "base_url": "http://127.0.0.1:9/v1"})
    assert answer.status_code == 400 and "is reserved for served training models" in answer.content.decode()
    assert not LLMEndpoint.objects.exists()
    made = client.post("/console/beta/endpoints/", {**FORM, "name": "jobs-7", "base_url": "http://127.0.0.1:9/v1"})
    assert made.status_code == 302 and LLMEndpoint.objects.filter(name="jobs-7").exists()


def test_the_project_admin_still_edits_its_own_served_model(client, cast, project, sft_job, settings):
    from training.services import register_running_server

    settings.PROJECT_ENDPOINT_HOSTS = ["127.0.0.1"]
    served = register_running_server(job=sft_job, base_url="http://127.0.0.1:8100/v1", api_key=KEY)
    client.force_login(cast["project_admin"])
    edit = {**FORM, "name": served.name, "base_url": served.base_url, "model": served.name, "is_active": ""}
    assert client.post(f"/console/alpha/endpoints/{served.name}/", edit).status_code == 302
    served.refresh_from_db()
    assert not served.is_active and served.served_key == KEY
    # pointing it elsewhere drops the key: it belongs to the server registered at the old URL
    moved = {**edit, "base_url": "http://127.0.0.1:9999/v1"}
    assert client.post(f"/console/alpha/endpoints/{served.name}/", moved).status_code == 302
    served.refresh_from_db()
    assert served.base_url == "http://127.0.0.1:9999/v1" and served.served_key == ""


def test_a_squatted_name_does_not_stop_the_owner_registering(cast, project, other_project, sft_job, settings):
    from training.services import TrainingJobError, register_running_server

    settings.PROJECT_ENDPOINT_HOSTS = ["127.0.0.1"]
    name = f"job-{sft_job.pk}"
    # made before names were reserved: another project's row, and a global one of another reserved name
    squatter = LLMEndpoint.objects.create(name=name, base_url="http://127.0.0.1:9/v1", model="m", project=other_project)
    endpoint = register_running_server(job=sft_job, base_url="http://127.0.0.1:8100/v1", api_key=KEY)
    assert endpoint.name == name and endpoint.project == project and endpoint.served_key == KEY
    assert endpoint.pk != squatter.pk and endpoint.base_url == "http://127.0.0.1:8100/v1"
    squatter.refresh_from_db()
    assert squatter.name == f"{name}-moved-{squatter.pk}" and squatter.project == other_project
    assert squatter.served_key == "" and squatter.base_url == "http://127.0.0.1:9/v1"  # kept as it was, renamed
    again = register_running_server(job=sft_job, base_url="http://127.0.0.1:8101/v1", api_key=KEY + "x")
    assert again.pk == endpoint.pk and again.served_key == KEY + "x"  # its own row: updated
    for bad in ("", "short", "has spaces in it here", "k" * 129):
        with pytest.raises(TrainingJobError, match="^api_key:"):
            register_running_server(job=sft_job, base_url="http://127.0.0.1:8100/v1", api_key=bad)


def test_a_chosen_name_another_project_holds_is_still_refused(project, other_project, sft_job):
    from training.services import TrainingJobError, register_served_model

    LLMEndpoint.objects.create(name="theirs", base_url="http://127.0.0.1:9/v1", model="m", project=other_project)
    with pytest.raises(TrainingJobError, match="exists already"):
        register_served_model(job=sft_job, base_url="http://127.0.0.1:8100/v1", name="theirs", served_key=KEY)
    assert LLMEndpoint.objects.get(name="theirs").project == other_project


def test_win_rate_and_the_models_page_ignore_another_projects_job_name(
    client, cast, project, other_project, sft_job, endpoint
):
    from training.evaluations import start_round_evaluation
    from training.oversight import trained_models
    from training.services import TrainingJobError

    round_two = TrainingJob.objects.create(
        project=project,
        kind="sft",
        status=RunStatus.SUCCEEDED,
        artifacts=STORED,
        base_model="x",
        dataset_version=sft_job.dataset_version,
        base_job=sft_job,
    )
    for job in (sft_job, round_two):  # squatted before names were reserved
        LLMEndpoint.objects.create(
            name=f"job-{job.pk}", base_url="http://127.0.0.1:9/v1", model="m", project=other_project
        )
    with pytest.raises(TrainingJobError, match=f"^job: serve job-{round_two.pk} first"):
        start_round_evaluation(job=round_two, judge_endpoint=endpoint, enqueue=False)
    assert all(job.served is None for job in trained_models(project=project))
    client.force_login(cast["project_admin"])
    page = client.get("/console/alpha/models/").content.decode()
    assert "data-served=" not in page
