"""Admins start, watch, pause and cancel batches, import seeds, edit templates and review output in the admin."""

import pytest

from core.lifecycle import RunStatus
from selfinstruct.batches import start_batch
from selfinstruct.models import GeneratedInstruction, GenerationBatch, PromptTemplate, SeedTask
from selfinstruct.services import get_template
from tests.helpers.generation import drive


@pytest.fixture
def admin_client(client, cast):
    client.force_login(cast["admin"])
    return client


def test_start_a_batch_from_the_admin_form(admin_client, seeded, endpoint, other_project):
    page = admin_client.get("/admin/selfinstruct/generationbatch/add/")
    assert page.status_code == 200 and b"Start a generation batch" in page.content
    template = get_template(name="belle")
    response = admin_client.post(
        "/admin/selfinstruct/generationbatch/add/",
        {
            "project": seeded.pk,
            "endpoint": endpoint.pk,
            "template": template.name,
            "target": 12,
            "language": "",
            "topic": "旅行",
        },
    )
    batch = GenerationBatch.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{batch.pk}/change/")
    assert batch.language == "zh" and batch.topic == "旅行" and batch.created_by.username == "root"
    bad = admin_client.post(
        "/admin/selfinstruct/generationbatch/add/",
        {"project": other_project.pk, "endpoint": endpoint.pk, "template": template.name, "target": 12},
    )
    assert bad.status_code == 200 and "project beta has no zh seed tasks" in bad.content.decode()
    assert GenerationBatch.objects.count() == 1


def test_batch_page_shows_live_progress_and_actions_work(admin_client, seeded, endpoint):
    batch = drive(start_batch(project=seeded, endpoint=endpoint, template_name="alpaca", target=10))
    page = admin_client.get(f"/admin/selfinstruct/generationbatch/{batch.pk}/change/").content.decode()
    assert "Progress" in page and "Accepted" in page and "Rejected" in page
    partial = admin_client.get(f"/admin/selfinstruct/generationbatch/{batch.pk}/progress/").content.decode()
    assert f"{GeneratedInstruction.objects.filter(status='accepted').count()} / 10" in partial
    assert "hx-get" not in partial  # finished: the page stops polling
    running = start_batch(project=seeded, endpoint=endpoint, template_name="alpaca", target=1000)
    assert "hx-get" in admin_client.get(f"/admin/selfinstruct/generationbatch/{running.pk}/progress/").content.decode()
    admin_client.post("/admin/selfinstruct/generationbatch/", {"action": "pause", "_selected_action": [running.pk]})
    assert GenerationBatch.objects.get(pk=running.pk).status == RunStatus.PAUSED
    admin_client.post("/admin/selfinstruct/generationbatch/", {"action": "cancel", "_selected_action": [running.pk]})
    assert GenerationBatch.objects.get(pk=running.pk).status == RunStatus.CANCELLED
    listing = admin_client.get("/admin/selfinstruct/generationbatch/").content.decode()
    assert "alpaca v1" in listing


def test_review_bulk_reject_and_accept(admin_client, seeded, endpoint):
    drive(start_batch(project=seeded, endpoint=endpoint, template_name="self-instruct", target=10))
    accepted = list(GeneratedInstruction.objects.filter(status="accepted").values_list("pk", flat=True)[:2])
    admin_client.post("/admin/selfinstruct/generatedinstruction/", {"action": "reject", "_selected_action": accepted})
    assert set(GeneratedInstruction.objects.filter(pk__in=accepted).values_list("reason", flat=True)) == {"reviewer"}
    admin_client.post(
        "/admin/selfinstruct/generatedinstruction/", {"action": "accept", "_selected_action": accepted[:1]}
    )
    assert GeneratedInstruction.objects.get(pk=accepted[0]).status == "accepted"
    filtered = admin_client.get("/admin/selfinstruct/generatedinstruction/?reason=reviewer")
    assert filtered.status_code == 200


def test_seed_import_page(admin_client, project, tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"instruction": "Name a red fruit please."}\n{"instruction": 3}\n')
    with path.open("rb") as f:
        page = admin_client.post(
            "/admin/selfinstruct/seedtask/import/", {"project": project.pk, "file": f, "format": "auto"}
        )
    assert page.status_code == 200 and "line 2, field &#x27;instruction&#x27;" in page.content.decode()
    assert not SeedTask.objects.exists()
    path.write_text('{"instruction": "Name a red fruit please."}\n')
    with path.open("rb") as f:
        done = admin_client.post(
            "/admin/selfinstruct/seedtask/import/", {"project": project.pk, "file": f, "format": "auto"}
        )
    assert done.status_code == 302 and SeedTask.objects.count() == 1


def test_editing_a_template_bumps_its_version_and_batches_keep_their_snapshot(admin_client, seeded, endpoint):
    template = get_template(name="alpaca")
    batch = start_batch(project=seeded, endpoint=endpoint, template_name="alpaca", target=5)
    form = admin_client.get(f"/admin/selfinstruct/prompttemplate/{template.pk}/change/")
    assert form.status_code == 200
    admin_client.post(
        f"/admin/selfinstruct/prompttemplate/{template.pk}/change/",
        {
            "name": "alpaca",
            "method": "alpaca",
            "body": "New body {{demos}}",
            "topic_line": "",
            "num_demos": 3,
            "num_machine_demos": 0,
            "num_tasks": 20,
        },
    )
    template.refresh_from_db()
    assert template.version == 2 and template.body == "New body {{demos}}"
    batch.refresh_from_db()
    assert batch.template_snapshot["version"] == 1 and "New body" not in batch.template_snapshot["body"]
    assert PromptTemplate.objects.count() == 4  # the built-ins, edited in place


def test_project_action_opens_the_start_form_for_that_project(admin_client, seeded):
    response = admin_client.post(
        "/admin/projects/project/", {"action": "start_generation_batch", "_selected_action": [seeded.pk]}
    )
    assert response.status_code == 302 and response["Location"].endswith(f"/add/?project={seeded.pk}")
    form = admin_client.get(response["Location"]).content.decode()
    assert f'<option value="{seeded.pk}" selected>' in form


def test_seeds_enter_only_through_the_import(admin_client, project):
    listing = admin_client.get("/admin/selfinstruct/seedtask/").content.decode()
    assert "/admin/selfinstruct/seedtask/import/" in listing
    assert admin_client.get("/admin/selfinstruct/seedtask/add/").status_code == 403


def test_a_new_worker_builds_its_pool_once_then_syncs_increments(seeded, endpoint):
    from selfinstruct.pool import _pools, locked_pool

    with locked_pool(seeded.pk) as state:
        first_size = len(state.index)
    assert first_size == SeedTask.objects.filter(project=seeded).count()
    drive(start_batch(project=seeded, endpoint=endpoint, template_name="alpaca", target=10))
    with locked_pool(seeded.pk) as state:
        assert len(state.index) == first_size + GeneratedInstruction.objects.filter(status="accepted").count()
    assert seeded.pk in _pools
