"""Finding 2: an endpoint is global (site admin) or owned by a project (a served model belongs to its job's
project); every kind of run checks that scope and refuses switched-off endpoints with a clear error."""

from __future__ import annotations

import pytest

from tests.annotation.conftest import labelers, make_tasks  # noqa: F401 - shared fixtures
from tests.training.conftest import sft_version, tiny_base  # noqa: F401 - shared fixtures


@pytest.fixture
def endpoints(db, project, other_project):
    from llm.services import create_endpoint

    beta = create_endpoint(name="beta-served", base_url="http://127.0.0.1:9/v1", model="m", project=other_project)
    own = create_endpoint(name="alpha-own", base_url="http://127.0.0.1:9/v1", model="m", project=project)
    off = create_endpoint(name="off", base_url="http://127.0.0.1:9/v1", model="m")
    off.is_active = False
    off.save()
    return {"beta": beta, "own": own, "off": off}


def _starters(project):
    """Each kind of run, started for `project` on one endpoint."""
    from annotation.judging import start_judge_run
    from annotation.sampling import start_sampling_run
    from selfinstruct.batches import start_batch
    from training.evaluations import start_evaluation

    items = [{"question": "q", "reference": "r"}]
    return {
        "sampling": lambda e: start_sampling_run(
            project=project, endpoints=[(e, {})], per_prompt=2, sources=("imported",)
        ),
        "judge": lambda e: start_judge_run(project=project, endpoint=e),
        "generation": lambda e: start_batch(project=project, endpoint=e, template_name="alpaca", target=3),
        "evaluation (model)": lambda e: start_evaluation(
            project=project, model_endpoint=e, judge_endpoint=e, items=items, prompt_set="t"
        ),
    }


def test_every_run_refuses_another_projects_and_switched_off_endpoints(project, endpoints, make_tasks):  # noqa: F811
    from demo.teacher import default_seed_files
    from selfinstruct.services import import_seed_file

    make_tasks(2)
    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    for kind, start in _starters(project).items():
        with pytest.raises(Exception, match="no endpoint named 'beta-served'") as caught:
            start(endpoints["beta"])
        assert "beta" not in str(caught.value).replace("'beta-served'", ""), kind  # says nothing about the owner
        with pytest.raises(Exception, match="endpoint 'off' is switched off"):
            start(endpoints["off"])
        assert start(endpoints["own"]).pk, kind  # the project's own endpoint works


KEY = "served-key-0123456789abcdef"


def test_a_served_model_belongs_to_its_jobs_project_and_never_takes_over_a_name(
    project,
    other_project,
    sft_version,  # noqa: F811
    tiny_base,  # noqa: F811
):
    from llm.services import create_endpoint
    from training.services import TrainingJobError, create_training_job, register_served_model

    job = create_training_job(project=project, dataset_version=sft_version, kind="sft", base_model="tiny-base")
    endpoint = register_served_model(job=job, base_url="http://127.0.0.1:9/v1", name=f"job-{job.pk}", served_key=KEY)
    assert endpoint.project == project
    create_endpoint(name="shared", base_url="http://127.0.0.1:9/v1", model="m")
    with pytest.raises(TrainingJobError, match="exists already"):
        register_served_model(job=job, base_url="http://127.0.0.1:9/v1", name="shared", served_key=KEY)


def test_the_migration_gives_earlier_served_endpoints_to_their_project(project, sft_version, tiny_base):  # noqa: F811
    import importlib

    from django.apps import apps

    from llm.models import LLMEndpoint
    from llm.services import create_endpoint
    from training.services import create_training_job

    job = create_training_job(project=project, dataset_version=sft_version, kind="sft", base_model="tiny-base")
    name = f"job-{job.pk}"
    create_endpoint(name=name, base_url="http://127.0.0.1:9/v1", model=name)  # as serve_model left it: global
    create_endpoint(name="job-999999", base_url="http://127.0.0.1:9/v1", model="job-999999")  # no such job
    migration = importlib.import_module("training.migrations.0003_served_endpoints_belong_to_their_project")
    migration.own_served_endpoints(apps, None)
    assert LLMEndpoint.objects.get(name=name).project == project
    assert LLMEndpoint.objects.get(name="job-999999").project is None


def test_add_endpoint_can_give_an_endpoint_to_a_project(project):
    from django.core.management import CommandError, call_command

    from llm.models import LLMEndpoint

    call_command("add_endpoint", "team", "--base-url", "http://h/v1", "--model", "m", "--project", "alpha")
    assert LLMEndpoint.objects.get(name="team").project == project
    with pytest.raises(CommandError, match="--project"):
        call_command("add_endpoint", "x", "--base-url", "http://h/v1", "--model", "m", "--project", "nope")


def test_a_projects_endpoints_under_its_route_for_its_admins(api_as, project, other_project, endpoints, settings):
    """`projects/<slug>/endpoints`: the site-wide endpoints the project may use and its own (switched-off ones too);
    the site-level `endpoints` routes stay, undeprecated: site-wide endpoints belong to no project."""
    settings.PROJECT_ENDPOINT_HOSTS = ["127.0.0.1"]
    admin, base = api_as("project_admin"), f"/api/v1/projects/{project.slug}/endpoints"
    listed = admin.get(base)
    assert listed.status_code == 200 and {e["name"] for e in listed.json()} == {"alpha-own", "off"}
    assert "Deprecation" not in listed and "Deprecation" not in admin.get("/api/v1/endpoints")
    assert admin.get(f"{base}/off").json()["project"] is None
    assert admin.get(f"{base}/beta-served").status_code == 404  # another project's
    refused = admin.patch(f"{base}/off", {"is_active": True}, format="json")
    assert refused.status_code == 403 and "site-wide" in refused.json()["detail"]
    assert admin.patch(f"{base}/alpha-own", {"max_retries": 2}, format="json").json()["max_retries"] == 2
    added = admin.post(base, {"name": "team", "base_url": "http://127.0.0.1:9/v1", "model": "m"}, format="json")
    assert added.status_code == 201 and added.json()["project"] == project.slug
    assert api_as("consumer").get(base).status_code == 404  # a project's endpoints are for its admins
    assert api_as("admin").delete(f"/api/v1/projects/{other_project.slug}/endpoints/team").status_code == 404
    assert admin.delete(f"{base}/team").status_code == 204
