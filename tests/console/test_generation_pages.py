"""Generation from the console: a batch started from fields with defaults (no JSON), its live page with the
numbers and pause/resume/cancel buttons; another project's batch is not there; bad values name their field."""

import re
import uuid

import pytest
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils import translation

from core.lifecycle import RunStatus
from demo.teacher import default_seed_files
from llm.services import create_endpoint
from selfinstruct.models import GenerationBatch
from selfinstruct.services import import_seed_file


@pytest.fixture
def ready(project, other_project):
    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    create_endpoint(name="teach", base_url="http://127.0.0.1:9/v1", model="m")
    create_endpoint(name="beta-only", base_url="http://127.0.0.1:9/v1", model="m", project=other_project)
    return project


def test_a_batch_starts_from_fields_and_is_steered_on_its_page(client, cast, ready, monkeypatch):
    client.force_login(cast["project_admin"])
    form = client.get("/console/alpha/generation/new").content.decode()
    assert 'value="teach" selected' in form and "beta-only" not in form  # the one usable endpoint, preselected
    assert 'value="self-instruct" selected' in form and 'name="target" value="100"' in form
    bad = client.post("/console/alpha/generation/new", {"endpoint": "teach", "template": "alpaca", "target": 0})
    assert bad.status_code == 400 and "greater than or equal to 1" in bad.content.decode()
    other = client.post("/console/alpha/generation/new", {"endpoint": "beta-only", "template": "alpaca", "target": 5})
    assert other.status_code == 400 and not GenerationBatch.objects.exists()
    token = re.search(r'name="submit_token" value="(\w+)"', form).group(1)
    fields = {"endpoint": "teach", "template": "alpaca", "target": 5, "submit_token": token}
    made = client.post("/console/alpha/generation/new", fields)
    twice = client.post("/console/alpha/generation/new", fields)  # a double-click: the same form sent again
    batch = GenerationBatch.objects.get()  # one batch, and both answers 303 to its own URL (never the page here)
    assert made.status_code == 303 and made["Location"] == f"/console/alpha/batches/{batch.pk}/"
    assert twice.status_code == 303 and twice["Location"] == made["Location"]
    late = client.post("/console/alpha/generation/new", {**fields, "target": 0})  # whatever the copy says
    assert late.status_code == 303 and late["Location"] == made["Location"] and GenerationBatch.objects.count() == 1
    assert "data-submit-once" in form and "console/submit_once.js" in form  # the button is disabled on submit
    starting = uuid.uuid4().hex
    cache.set(f"console:new-batch:{ready.pk}:{starting}", 0)  # its first submission is still starting the batch
    monkeypatch.setattr("console.views.NEW_BATCH_WAIT_SECONDS", 0.05)
    waited = client.post("/console/alpha/generation/new", {**fields, "submit_token": starting})
    assert waited.status_code == 303 and waited["Location"] == "/console/alpha/"  # the running panel shows it soon
    assert GenerationBatch.objects.count() == 1
    assert "still starting" in client.get(waited["Location"]).content.decode()
    page = client.get(made["Location"]).content.decode()
    assert 'data-accepted="0"' in page and 'id="pause"' in page and 'hx-trigger="every 2s"' in page
    assert client.post(f"/console/alpha/batches/{batch.pk}/pause").status_code == 302
    batch.refresh_from_db()
    assert batch.status == RunStatus.PAUSED
    live = client.get(f"/console/alpha/batches/{batch.pk}/live").content.decode()
    assert 'id="resume"' in live and 'id="pause"' not in live
    again = client.post(f"/console/alpha/batches/{batch.pk}/pause", follow=True).content.decode()
    assert "only a running batch can be paused" in again  # said on the page, nothing changes
    admin = cast["project_admin"].username
    assert re.search(rf'data-event="paused">· paused at \d\d:\d\d by {admin}<', live)  # when and who
    assert re.search(r'"timeline-pauses" type="application/json">\[\[[\d.]+, [\d.]+, true\]\]<', live)  # open band
    client.post(f"/console/alpha/batches/{batch.pk}/resume")
    live = client.get(f"/console/alpha/batches/{batch.pk}/live").content.decode()
    assert re.search(rf'data-event="resumed">· resumed \d\d:\d\d by {admin}<', live)
    assert re.search(r'"timeline-pauses" type="application/json">\[\[[\d.]+, [\d.]+, false\]\]<', live)
    zh = client.get(f"/console/alpha/batches/{batch.pk}/live", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert re.search(rf"\d\d:\d\d 由 {admin} 继续", zh)
    client.post(f"/console/alpha/batches/{batch.pk}/cancel")
    batch.refresh_from_db()
    assert batch.status == RunStatus.CANCELLED
    done = client.get(f"/console/alpha/batches/{batch.pk}/").content.decode()
    assert "hx-trigger" not in done and 'id="cancel"' not in done  # a finished batch stops polling
    assert client.post(f"/console/alpha/batches/{batch.pk}/explode").status_code == 404
    chinese = client.get("/console/alpha/generation/new", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "教师模型端点" in chinese and "开始批次" in chinese
    from selfinstruct.selectors import batch_progress

    usage = {"cost": 0.000012, "prompt_tokens": 49189, "completion_tokens": 58812}
    progress = {**batch_progress(batch=batch), **usage, "rejected_by_reason": {"near_duplicate": 2}}
    context = {"project": ready, "batch": batch, "progress": progress}
    with translation.override("en"):
        numbers = render_to_string("console/batch_live.html", context)
    assert "49,189 in · 58,812 out" in numbers and "&lt; 0.01" in numbers and "0.0000" not in numbers
    assert "· near duplicate<" in numbers and "near_duplicate<" not in numbers  # reasons in words
    with translation.override("zh-hans"):
        numbers = render_to_string("console/batch_live.html", context)
    assert "输入 49,189 · 输出 58,812" in numbers and "近似重复" in numbers
    client.force_login(cast["other_admin"])
    assert client.get(f"/console/beta/batches/{batch.pk}/").status_code == 404  # alpha's batch, not beta's
