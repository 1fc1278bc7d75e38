"""Curation of seed tasks and generated instructions: edits, re-labels and deletions through the API and the CLI are
kept in each item's history (who, when, old → new); a deleted instruction leaves every process's pool; bulk actions
by filter count first; only project admins may curate (labelers 403, other projects' items 404); dataset versions
built before an edit keep their bytes."""

import io

import pytest
from django.core.management import call_command

from selfinstruct import pool
from selfinstruct.models import CurationEvent, GeneratedInstruction, GenerationBatch, GenerationRequest, SeedTask
from selfinstruct.services import ensure_builtin_templates, get_template, template_snapshot
from selfinstruct.text import instruction_key

MISLABELLED = "编写JavaScript脚本以打印当前日期和时间。"


@pytest.fixture
def batch(project):
    from llm.services import create_endpoint

    endpoint = create_endpoint(name="curate", base_url="http://127.0.0.1:9/v1", model="none")
    ensure_builtin_templates()
    template = get_template(name="alpaca")
    return GenerationBatch.objects.create(
        project=project, endpoint=endpoint, template=template, template_snapshot=template_snapshot(template), target=9
    )


def add_instructions(batch, texts, status="accepted"):
    request, _ = GenerationRequest.objects.get_or_create(batch=batch, lane=0, step=0, defaults={"prompt": "x"})
    return GeneratedInstruction.objects.bulk_create(
        GeneratedInstruction(
            project_id=batch.project_id,
            batch=batch,
            request=request,
            instruction=text,
            instruction_key=instruction_key(text),
            output=f"An answer to: {text}",
            language="en",
            status=status,
        )
        for text in texts
    )


def seed(project, text, language="en"):
    return SeedTask.objects.create(
        project=project,
        instruction=text,
        instruction_key=instruction_key(text),
        instances=[{"input": "", "output": "console.log(new Date())"}],
        language=language,
    )


def test_edits_through_the_api_and_the_cli_are_kept_with_who_and_when(api_as, cast, project, other_project):
    wrong = seed(project, MISLABELLED)  # detected as English: the defect's seed
    admin = api_as("project_admin")
    url = f"/api/v1/projects/alpha/seeds/{wrong.pk}"
    fixed = admin.patch(url, {"language": "zh"}, format="json")
    assert fixed.status_code == 200 and fixed.json()["language"] == "zh"
    (event,) = fixed.json()["history"]
    assert event["by"] == "padmin" and event["via"] == "api" and event["changes"] == {"language": ["en", "zh"]}
    assert SeedTask.objects.get(pk=wrong.pk).language == "zh"
    # Bad values are refused naming the field; unchanged values record nothing.
    assert admin.patch(url, {"language": "fr"}, format="json").json()["detail"].startswith("language:")
    too_long = admin.patch(url, {"instruction": "x" * 10_001}, format="json")
    assert too_long.status_code == 400 and "instruction" in too_long.json()["detail"]
    assert admin.patch(url, {"language": "zh"}, format="json").status_code == 200
    assert CurationEvent.objects.filter(object_id=wrong.pk).count() == 1
    # Only the project's admins: a labeler learns it exists but may not (403); another project's admin cannot see it.
    assert api_as("labeler").patch(url, {"language": "en"}, format="json").status_code == 403
    assert api_as("consumer").delete(url).status_code == 403
    assert api_as("other_admin").get(url).status_code == 404
    beta_seed = seed(other_project, "Name a river.")
    assert admin.get(f"/api/v1/projects/alpha/seeds/{beta_seed.pk}").status_code == 404
    # The CLI edits one item by id and records who ran it.
    out = io.StringIO()
    call_command(
        "curate",
        "--project=alpha",
        "--kind=seed",
        f"--id={wrong.pk}",
        "--set",
        "output=console.log(new Date().toISOString())",
        "--by=padmin",
        stdout=out,
    )
    assert "output:" in out.getvalue()
    latest = CurationEvent.objects.filter(object_id=wrong.pk).first()
    assert latest.via == "cli" and latest.actor == cast["project_admin"] and set(latest.changes) == {"output"}
    assert SeedTask.objects.get(pk=wrong.pk).instances[0]["output"] == "console.log(new Date().toISOString())"


def test_a_deleted_instruction_leaves_every_processs_pool(api_as, project, batch):
    text = "Write a haiku about the first snow of winter."
    (row,) = add_instructions(batch, [text])
    stale = pool._pools[project.pk] = pool._fresh_state(project.pk)  # another worker's index, loaded before
    assert stale.index.is_near_duplicate(text, 0.7)
    deleted = api_as("project_admin").delete(f"/api/v1/projects/alpha/instructions/{row.pk}")
    assert deleted.status_code == 204 and not GeneratedInstruction.objects.filter(pk=row.pk).exists()
    pool._pools[project.pk] = stale  # that worker still holds it; under the lock it sees the pool changed
    with pool.locked_pool(project.pk) as state:
        assert state is not stale and not state.index.is_near_duplicate(text, 0.7)
    (event,) = CurationEvent.objects.filter(kind="instruction", object_id=row.pk)
    assert event.action == "delete" and event.changes["instruction"] == [text, None]  # the history outlives it
    assert api_as("project_admin").get(f"/api/v1/projects/alpha/instructions/{row.pk}").status_code == 404


def test_bulk_actions_by_filter_count_first_and_skip_pool_duplicates(api_as, project, batch):
    add_instructions(batch, [f"Write a JavaScript function number {i}." for i in range(4)])
    add_instructions(batch, ["Translate a poem.", "Write a JavaScript function number 0."], status="rejected")
    admin = api_as("project_admin")
    url = "/api/v1/projects/alpha/instructions/bulk"
    body = {"filter": {"q": "JavaScript", "status": "accepted"}, "action": "set_language", "value": "zh"}
    preview = admin.post(url, {**body, "dry_run": True}, format="json").json()
    assert preview == {"matched": 4, "changed": 4, "skipped": 0, "dry_run": True}
    assert not GeneratedInstruction.objects.filter(language="zh").exists()
    assert admin.post(url, body, format="json").json()["changed"] == 4
    assert GeneratedInstruction.objects.filter(language="zh").count() == 4
    assert CurationEvent.objects.filter(bulk=True, action="edit", actor_name="padmin").count() == 4
    # Accepting the rejected rows: the exact duplicate of an accepted one is skipped (the pool's rule).
    accepted = admin.post(url, {"filter": {"status": "rejected"}, "action": "accept"}, format="json").json()
    assert accepted == {"matched": 2, "changed": 1, "skipped": 1, "dry_run": False}
    bad = admin.post(url, {"filter": {"colour": "red"}, "action": "delete"}, format="json")
    assert bad.status_code == 400 and "filter.colour" in bad.json()["detail"]
    bad = admin.post(url, {"filter": {}, "action": "set_task_type", "value": "poetry"}, format="json")
    assert bad.status_code == 400 and bad.json()["detail"].startswith("task_type:")
    assert admin.post("/api/v1/projects/alpha/seeds/bulk", {"action": "accept"}, format="json").status_code == 400
    # The CLI: a dry run changes nothing, then rejects by filter.
    out = io.StringIO()
    args = ["--project=alpha", "--kind=instruction", "--filter", "language=zh", "--set-state", "rejected"]
    call_command("curate", *args, "--dry-run", stdout=out)
    assert "4 instructions matched, 4 would change" in out.getvalue()
    assert GeneratedInstruction.objects.filter(status="accepted").count() == 5
    call_command("curate", *args, stdout=out)
    assert GeneratedInstruction.objects.filter(language="zh", status="rejected").count() == 4


def test_a_version_built_before_an_edit_keeps_its_bytes(api_as, project, batch):
    from exports.services import build_dataset_version, create_dataset_version

    def build():
        version = create_dataset_version(project=project, kind="sft", test_fraction=0.0)
        build_dataset_version(version_id=version.pk)
        return version

    def download(version):
        response = api_as("consumer").get(f"/api/v1/datasets/{version.pk}/download?format=alpaca")
        assert response.status_code == 200
        return b"".join(response.streaming_content)

    rows = add_instructions(batch, ["Name three rivers.", "Describe a sunset."])
    first = build()
    before = download(first)
    api_as("project_admin").patch(
        f"/api/v1/projects/alpha/instructions/{rows[0].pk}", {"output": "The Nile, the Amazon, the Danube."}
    )
    api_as("project_admin").delete(f"/api/v1/projects/alpha/instructions/{rows[1].pk}")
    second = build()
    assert download(first) == before and b"sunset" in before
    after = download(second)
    assert b"The Nile, the Amazon, the Danube." in after and b"sunset" not in after
