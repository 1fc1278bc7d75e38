"""Generation from the console: a batch started from fields with defaults (no JSON), its live page with the
numbers and pause/resume/cancel buttons; another project's batch is not there; bad values name their field."""

import re

import pytest

from core.lifecycle import RunStatus
from llm.services import create_endpoint
from llm.teacher import default_seed_files
from selfinstruct.models import GenerationBatch
from selfinstruct.services import import_seed_file


@pytest.fixture
def ready(project, other_project):
    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    create_endpoint(name="teach", base_url="http://127.0.0.1:9/v1", model="m")
    create_endpoint(name="beta-only", base_url="http://127.0.0.1:9/v1", model="m", project=other_project)
    return project


def test_a_batch_starts_from_fields_and_is_steered_on_its_page(client, cast, ready):
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
    batch = GenerationBatch.objects.get()  # one batch, and both answers redirect to its own URL (post/redirect/get)
    assert made.status_code == 302 and made["Location"] == f"/console/alpha/batches/{batch.pk}/"
    assert twice.status_code == 302 and twice["Location"] == made["Location"]
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
    client.force_login(cast["other_admin"])
    assert client.get(f"/console/beta/batches/{batch.pk}/").status_code == 404  # alpha's batch, not beta's
