"""Admin pages for ranking: start a sampling run, import completion files, make gold tasks, resolve flags."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from annotation.claims import claim_next_ranking_task, submit_ranking
from annotation.models import Completion, Prompt, RankingTask, SamplingRun


@pytest.fixture
def admin_client(cast):
    client = Client()
    client.force_login(cast["admin"])
    return client


def upload(name, rows):
    return SimpleUploadedFile(name, "\n".join(json.dumps(r) for r in rows).encode(), content_type="application/json")


def test_admin_imports_completion_files_all_or_nothing(admin_client, project):
    url = "/admin/annotation/prompt/import-completions/"
    a = upload("model-a.jsonl", [{"prompt": "Name a planet.", "completion": "Mars"}])
    bad = upload("model-b.jsonl", [{"prompt": "Name a planet."}])
    page = admin_client.post(url, {"project": project.pk, "files": [a, bad]}).content.decode()
    assert "model-b.jsonl:1: field" in page and not Completion.objects.exists()
    a = upload("model-a.jsonl", [{"prompt": "Name a planet.", "completion": "Mars"}])
    b = upload("model-b.jsonl", [{"prompt": "Name a planet.", "completion": "Venus"}])
    response = admin_client.post(url, {"project": project.pk, "files": [a, b]})
    assert response.status_code == 302 and RankingTask.objects.get().k == 2


def test_admin_starts_a_sampling_run(admin_client, project, endpoint):
    Prompt.objects.create(project=project, source="imported", instruction="Say hi.", text_key="k", language="en")
    response = admin_client.post(
        "/admin/annotation/samplingrun/add/",
        {
            "project": project.pk,
            "endpoints": [endpoint.pk],
            "per_prompt": 3,
            "sources": ["imported"],
            "params": '{"temperature": 0.3}',
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    run = SamplingRun.objects.get()
    assert run.per_prompt == 3 and run.plan[0]["params"]["temperature"] == 0.3 and run.prompts_total == 1
    bad = admin_client.post(
        "/admin/annotation/samplingrun/add/",
        {
            "project": project.pk,
            "endpoints": [endpoint.pk],
            "per_prompt": 3,
            "sources": ["imported"],
            "params": "{oops",
        },
    )
    assert "not valid JSON" in bad.content.decode()


def test_make_gold_from_consensus_and_resolve_flags(admin_client, project, make_tasks, cast):
    task, flagged_task = make_tasks(2)
    claim_next_ranking_task(project=project, labeler=cast["labeler"])
    submit_ranking(task=task, labeler=cast["labeler"], ranking=task.completion_ids)
    claim_next_ranking_task(project=project, labeler=cast["labeler"])
    row, _ = submit_ranking(task=flagged_task, labeler=cast["labeler"], flag="bad_prompt")
    admin_client.post(
        "/admin/annotation/rankingtask/",
        {"action": "make_gold_from_consensus", "_selected_action": [task.pk, flagged_task.pk]},
    )
    task.refresh_from_db()
    assert task.is_gold and task.gold_ranking == [[i] for i in task.completion_ids]
    assert not RankingTask.objects.get(pk=flagged_task.pk).is_gold  # a flag has no consensus
    dashboard = admin_client.get("/label/alpha/dashboard/").content.decode()
    assert 'id="flagged"' in dashboard and "Bad prompt" in dashboard
    admin_client.post("/label/alpha/dashboard/", {"ranking": [row.pk]})
    row.refresh_from_db()
    assert row.flag_resolved
