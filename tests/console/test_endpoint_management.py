"""Issue 35 (defects 3 and 5): every endpoint picker shows each endpoint's health, switched-off endpoints are in no
picker and refused by the APIs that start runs, admins switch endpoints off/on and delete unused ones (page and
API), a taken name is refused on create and editing is explicit (the old check then shows as stale)."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from llm.client import record_request
from llm.models import EndpointCheck, LLMEndpoint
from llm.services import create_endpoint


def _checked(endpoint, *, ok=True, latency_ms=420, minutes_ago=3):
    at = timezone.now() - timedelta(minutes=minutes_ago)
    status = "succeeded" if ok else "failed"
    check = EndpointCheck.objects.create(endpoint=endpoint, status=status, latency_ms=latency_ms, finished_at=at)
    EndpointCheck.objects.filter(pk=check.pk).update(created_at=at)
    return check


def test_every_picker_shows_health_and_never_a_switched_off_endpoint(client, cast, project, api_as):
    _checked(create_endpoint(name="zh-teacher", base_url="http://127.0.0.1:9/v1", model="qwen2"))
    failing = create_endpoint(name="flaky", base_url="http://127.0.0.1:9/v1", model="m")
    record_request(endpoint=failing, purpose="generation", ok=False, latency_ms=9)
    LLMRequest = failing.requests.model
    LLMRequest.objects.filter(endpoint=failing).update(created_at=timezone.now() - timedelta(hours=2))
    create_endpoint(name="fresh", base_url="http://127.0.0.1:9/v1", model="m")
    off = create_endpoint(name="gone-server", base_url="http://127.0.0.1:9/v1", model="m")
    off.is_active = False
    off.save()
    client.force_login(cast["project_admin"])
    pages = [
        "/console/alpha/generation/new",  # teacher
        "/console/alpha/sampling/",  # sampling endpoints
        "/console/alpha/difficulty/",  # rating judge
        "/console/alpha/evaluations/new",  # evaluation model and judge
        "/console/alpha/judge-runs/new",  # ranking judge
    ]
    for url in pages:
        page = client.get(url).content.decode()
        assert "zh-teacher · qwen2 · ok 420 ms, 3\xa0minutes ago" in page, url
        assert "flaky · m · failed 2\xa0hours ago" in page and "fresh · m · never checked" in page, url
        assert "gone-server" not in page, url
    # the APIs that start runs refuse it, naming the field
    api = api_as("project_admin")
    batch = api.post("/api/v1/generation-batches", {"project": "alpha", "endpoint": "gone-server", "target": 3})
    assert batch.status_code == 400 and batch.json()["detail"].startswith("endpoint: ")
    assert "switched off" in batch.json()["detail"]
    body = {"project": "alpha", "endpoints": [{"name": "gone-server"}], "sources": ["seed"]}
    sampling = api.post("/api/v1/sampling-runs", body, format="json")
    assert sampling.status_code == 400 and sampling.json()["detail"].startswith("endpoints.0.name: ")


def test_admins_switch_off_and_delete_endpoints_on_the_page(client, cast, project, other_project, settings):
    settings.PROJECT_ENDPOINT_HOSTS = ["127.0.0.1"]
    mine = create_endpoint(name="mine", base_url="http://127.0.0.1:9/v1", model="m", project=project)
    record_request(endpoint=mine, purpose="generation", ok=True, latency_ms=9719)
    spare = create_endpoint(name="spare", base_url="http://127.0.0.1:9/v1", model="m", project=project)
    check = _checked(spare)
    sent = record_request(endpoint=spare, purpose="endpoint-check", ok=True)  # its check's request goes with it
    type(sent).objects.filter(pk=sent.pk).update(created_at=timezone.now() - timedelta(minutes=4))
    create_endpoint(name="shared", base_url="http://10.0.0.1/v1", model="big")
    create_endpoint(name="beta-own", base_url="http://127.0.0.1:9/v1", model="m", project=other_project)
    client.force_login(cast["project_admin"])
    page = client.get("/console/alpha/endpoints/").content.decode()
    assert 'href="/console/alpha/endpoints/mine/switch"' in page
    # one Health column, saying what it rests on: the last check, or the last request a run made (no "Last check"
    # column showing "—" beside a health taken from a request)
    spare_row = page[page.index('data-endpoint="spare"') :].split("</tr>")[0]
    assert "check ok · 420 ms · 3\xa0minutes ago" in spare_row
    mine_row = page[page.index('data-endpoint="mine"') :].split("</tr>")[0]
    assert "ok · 9,719 ms · last request just now" in mine_row and "—" not in mine_row and "Last check" not in page
    check.pk = None  # a check under way is said beside the health it does not change yet
    check.status, check.finished_at = "queued", None
    check.save()
    page = client.get("/console/alpha/endpoints/").content.decode()
    spare_row = page[page.index('data-endpoint="spare"') :].split("</tr>")[0]
    assert "check ok · 420 ms" in spare_row and "a check is under way" in spare_row and "hx-trigger" in page
    assert 'href="/console/alpha/endpoints/shared/delete"' not in page  # site-wide: a site admin's
    assert "Switch off endpoint mine?" in client.get("/console/alpha/endpoints/mine/switch").content.decode()
    client.post("/console/alpha/endpoints/mine/switch", {"active": "off"})
    assert not LLMEndpoint.objects.get(name="mine").is_active
    assert 'value="mine"' not in client.get("/console/alpha/sampling/").content.decode()
    client.post("/console/alpha/endpoints/mine/switch", {"active": "on"})
    assert LLMEndpoint.objects.get(name="mine").is_active
    for name in ("shared", "beta-own"):  # a project admin: neither a site-wide endpoint nor another project's
        for action in ("switch", "delete"):
            assert client.post(f"/console/alpha/endpoints/{name}/{action}", {"active": "off"}).status_code == 404
    assert LLMEndpoint.objects.filter(is_active=True).count() == 4
    confirm = client.get("/console/alpha/endpoints/mine/delete").content.decode()
    assert 'id="endpoint-in-use"' in confirm
    refused = client.post("/console/alpha/endpoints/mine/delete", follow=True)
    assert refused.status_code == 200 and "Switch it off instead" in refused.content.decode()
    assert LLMEndpoint.objects.filter(name="mine").exists()
    client.post("/console/alpha/endpoints/spare/delete")
    assert not LLMEndpoint.objects.filter(name="spare").exists()
    assert not EndpointCheck.objects.exists()
    client.force_login(cast["admin"])  # a site admin manages site-wide endpoints here too
    client.post("/console/alpha/endpoints/shared/switch", {"active": "off"})
    assert not LLMEndpoint.objects.get(name="shared").is_active


def test_a_taken_name_is_refused_and_an_edit_keeps_the_name_and_marks_the_check_stale(client, cast, project, settings):
    settings.PROJECT_ENDPOINT_HOSTS = ["127.0.0.1"]
    mine = create_endpoint(name="zh-teacher", base_url="http://127.0.0.1:9/v1", model="qwen2", project=project)
    _checked(mine)
    served = create_endpoint(name="job-7", base_url="http://127.0.0.1:8100/v1", model="job-7", project=project)
    served.served_key = "k" * 32
    served.save()
    client.force_login(cast["project_admin"])
    base = {
        "base_url": "http://127.0.0.1:9/v1",
        "api_style": "chat",
        "max_concurrency": 2,
        "request_timeout_s": 30,
        "max_retries": 1,
        "price_input_per_1k": 0,
        "price_output_per_1k": 0,
        "is_active": "on",
    }
    again = client.post("/console/alpha/endpoints/", {**base, "name": "zh-teacher", "model": "x"})
    assert again.status_code == 400 and "an endpoint named &#x27;zh-teacher&#x27; exists; edit it instead" in (
        again.content.decode()
    )
    zh = client.post(
        "/console/alpha/endpoints/", {**base, "name": "zh-teacher", "model": "x"}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert zh.status_code == 400 and "已有名为 &#x27;zh-teacher&#x27; 的端点；请改为编辑它" in zh.content.decode()
    create_endpoint(name="demo-teacher", base_url="http://10.0.0.1/v1", model="m")  # site-wide
    variant = client.post("/console/alpha/endpoints/", {**base, "name": "Demo-Teacher", "model": "x"})
    said = "&#x27;Demo-Teacher&#x27; differs only in letter case from the endpoint &#x27;demo-teacher&#x27;"
    assert variant.status_code == 400 and said in variant.content.decode()
    assert LLMEndpoint.objects.filter(name__iexact="zh-teacher").count() == 1
    assert LLMEndpoint.objects.filter(name__iexact="demo-teacher").count() == 1
    edited = client.post("/console/alpha/endpoints/zh-teacher/", {**base, "name": "renamed", "model": "x"})
    assert edited.status_code == 302
    mine.refresh_from_db()
    assert mine.model == "x" and not LLMEndpoint.objects.filter(name="renamed").exists()
    page = client.get("/console/alpha/endpoints/").content.decode()
    row = page[page.index('data-endpoint="zh-teacher"') :].split("</tr>")[0]
    assert "not checked since the last edit" in row and "420" not in row
    served_page = client.get("/console/alpha/endpoints/job-7/").content.decode()
    assert "key managed by the model server" in served_page and 'name="api_key_env"' not in served_page


def test_the_endpoints_api_lists_health_refuses_taken_names_and_scopes_changes(
    api_as, project, other_project, settings
):
    settings.PROJECT_ENDPOINT_HOSTS = ["127.0.0.1"]
    shared = create_endpoint(name="shared", base_url="http://10.0.0.1/v1", model="big")
    _checked(shared)
    used = create_endpoint(name="used", base_url="http://127.0.0.1:9/v1", model="m", project=project)
    record_request(endpoint=used, purpose="generation", ok=True, latency_ms=12)
    create_endpoint(name="beta-own", base_url="http://127.0.0.1:9/v1", model="m", project=other_project)
    api = api_as("project_admin")
    rows = {row["name"]: row for row in api.get("/api/v1/endpoints").json()}
    assert set(rows) == {"shared", "used"}
    assert rows["shared"]["last_check_ok"] is True and rows["shared"]["last_latency_ms"] == 420
    assert rows["used"]["last_check_source"] == "request" and rows["used"]["last_check_at"]
    body = {"project": "alpha", "name": "shared", "base_url": "http://127.0.0.1:9/v1", "model": "x"}
    taken = api.post("/api/v1/endpoints", body, format="json")
    assert taken.status_code == 400 and taken.json()["detail"].startswith("name: ")
    added = api.post("/api/v1/endpoints", {**body, "name": "spare"}, format="json")
    assert added.status_code == 201 and added.json()["project"] == "alpha"
    again = api.post("/api/v1/endpoints", {**body, "name": "spare"}, format="json")
    assert again.status_code == 400 and "exists; edit it instead" in again.json()["detail"]
    for name in ("Spare", "SHARED"):  # names are unique ignoring case: no near-identical entries in pickers
        variant = api.post("/api/v1/endpoints", {**body, "name": name}, format="json")
        assert variant.status_code == 400 and "differs only in letter case" in variant.json()["detail"]
    site = {key: value for key, value in body.items() if key != "project"}
    for name, why in (("Shared", "differs only in letter case"), ("JOB-3", "reserved for served training models")):
        refused = api_as("admin").post("/api/v1/endpoints", {**site, "name": name}, format="json")
        assert refused.status_code == 400 and why in refused.json()["detail"]
        with pytest.raises(CommandError, match=why):
            call_command("add_endpoint", name, "--base-url", "http://10.0.0.2/v1", "--model", "m")
    assert LLMEndpoint.objects.count() == 4
    assert api.patch("/api/v1/endpoints/shared", {"is_active": False}, format="json").status_code == 403
    assert api.patch("/api/v1/endpoints/beta-own", {"is_active": False}, format="json").status_code == 404
    assert api.delete("/api/v1/endpoints/shared").status_code == 403
    assert LLMEndpoint.objects.filter(is_active=False).count() == 0
    edit = api.patch("/api/v1/endpoints/used", {"model": "m2", "is_active": False}, format="json")
    assert edit.status_code == 200 and edit.json()["model"] == "m2" and edit.json()["is_active"] is False
    assert edit.json()["name"] == "used" and edit.json()["last_check_at"] is None  # the old outcome is stale
    renamed = api.patch("/api/v1/endpoints/used", {"name": "other"}, format="json")
    assert renamed.status_code == 400 and renamed.json()["detail"].startswith("name: ")
    in_use = api.delete("/api/v1/endpoints/used")
    assert in_use.status_code == 409 and "switch it off" in in_use.json()["detail"]
    assert api.delete("/api/v1/endpoints/spare").status_code == 204
    assert api_as("admin").patch("/api/v1/endpoints/shared", {"is_active": False}, format="json").status_code == 200
