"""Seeds and generation batches through the API: project admins only, scoped, schema-checked, clear errors."""

import pytest

from projects.services import add_member
from selfinstruct.models import GenerationBatch, SeedTask


@pytest.fixture
def manager(cast, project):
    add_member(project=project, user=cast["labeler"], role="admin")  # "lab" now administers alpha
    return "labeler"


def batch_body(**extra):
    return {"project": "alpha", "endpoint": "teach", "template": "alpaca", "target": 10, **extra}


def test_project_admin_starts_and_watches_a_batch(api_as, manager, seeded, endpoint):
    client = api_as(manager)
    response = client.post(
        "/api/v1/generation-batches/", batch_body(topic="cooking", params={"temperature": 0.9}), format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["template"] == "alpaca" and body["language"] == "en" and body["params"]["temperature"] == 0.9
    assert body["progress"]["status"] == "running" and body["progress"]["accepted"] == 0
    detail = client.get(f"/api/v1/generation-batches/{body['id']}/").json()
    assert detail["id"] == body["id"] and detail["topic"] == "cooking"
    assert [b["id"] for b in client.get("/api/v1/generation-batches/?project=alpha").json()] == [body["id"]]
    assert client.post(f"/api/v1/generation-batches/{body['id']}/pause").json()["status"] == "paused"
    conflict = client.post(f"/api/v1/generation-batches/{body['id']}/pause")
    assert conflict.status_code == 409 and "only a running batch" in conflict.json()["detail"]
    resumed = client.post(f"/api/v1/generation-batches/{body['id']}/resume").json()
    assert resumed["status"] == "running"
    assert [(e["event"], e["by"]) for e in resumed["events"]] == [("paused", "lab"), ("resumed", "lab")]
    assert client.post(f"/api/v1/generation-batches/{body['id']}/cancel").json()["status"] == "cancelled"


@pytest.mark.parametrize("who", ["consumer", "other_labeler", "other_consumer"])
def test_others_cannot_see_or_start_batches(api_as, cast, seeded, endpoint, who):
    from selfinstruct.batches import start_batch

    batch = start_batch(project=seeded, endpoint=endpoint, template_name="alpaca", target=5)
    client = api_as(who)
    assert client.post("/api/v1/generation-batches/", batch_body(), format="json").status_code == 404
    assert client.get(f"/api/v1/generation-batches/{batch.pk}/").status_code == 404
    assert client.post(f"/api/v1/generation-batches/{batch.pk}/cancel").status_code == 404
    assert client.get("/api/v1/generation-batches/").json() == []
    assert GenerationBatch.objects.count() == 1


def test_batches_on_the_project_route(api_as, manager, seeded, endpoint, cast):
    client = api_as(manager)
    body = {key: value for key, value in batch_body().items() if key != "project"}  # the URL names it
    made = client.post("/api/v1/projects/alpha/generation-batches", body, format="json")
    assert made.status_code == 201 and "Deprecation" not in made
    batch = made.json()["id"]
    assert [b["id"] for b in client.get("/api/v1/projects/alpha/generation-batches").json()] == [batch]
    assert client.post(f"/api/v1/projects/alpha/generation-batches/{batch}/pause").json()["status"] == "paused"
    assert api_as("admin").get(f"/api/v1/projects/beta/generation-batches/{batch}").status_code == 404
    assert api_as("consumer").get("/api/v1/projects/alpha/generation-batches").status_code == 404
    flat = client.get(f"/api/v1/generation-batches/{batch}")
    assert flat["Link"] == f'</api/v1/projects/alpha/generation-batches/{batch}>; rel="successor-version"'


def test_site_admin_sees_all_batches(api_as, seeded, endpoint):
    from selfinstruct.batches import start_batch

    start_batch(project=seeded, endpoint=endpoint, template_name="alpaca", target=5)
    assert len(api_as("admin").get("/api/v1/generation-batches/").json()) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"endpoint": "nope"}, "endpoint: no endpoint named 'nope'"),
        ({"template": "nope"}, "template: no template named 'nope'"),
        ({"params": {"best_of": 3}}, "params.best_of: not an allowed sampling parameter"),
        ({"language": "zh", "project": "alpha"}, None),
    ],
)
def test_batch_errors_name_the_field(api_as, manager, seeded, endpoint, extra, message):
    response = api_as(manager).post("/api/v1/generation-batches/", batch_body(**extra), format="json")
    if message is None:
        assert response.status_code == 201
    else:
        assert response.status_code == 400 and message in response.json()["detail"]


def test_target_must_be_positive(api_as, manager, seeded, endpoint):
    response = api_as(manager).post("/api/v1/generation-batches/", batch_body(target=0), format="json")
    assert response.status_code == 400 and response.json()["detail"].startswith("target: ")


def test_seed_upload(api_as, manager, project, tmp_path):
    client = api_as(manager)
    good = tmp_path / "seeds.csv"
    good.write_text(
        "instruction,input,output\nName a red fruit please.,,Apple\n用一句话介绍长城。,,长城是古代防御工程。\n"
    )
    with good.open("rb") as f:
        response = client.post("/api/v1/projects/alpha/seeds", {"file": f}, format="multipart")
    assert response.status_code == 201 and response.json() == {
        "created": 2,
        "duplicates": 0,
        "by_language": {"en": 1, "zh": 1},
        "duplicate_ids": [],
        "duplicate_id_count": 0,
        "warnings": [],
    }
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "ok one"}\n{"instruction": ["not", "text"]}\n')
    with bad.open("rb") as f:
        response = client.post("/api/v1/projects/alpha/seeds", {"file": f}, format="multipart")
    assert response.status_code == 400
    assert response.json()["detail"] == "bad.jsonl, line 2, field 'instruction': must be a string, got list"
    assert SeedTask.objects.count() == 2
    assert client.post("/api/v1/projects/alpha/seeds", {}, format="multipart").status_code == 400


def test_seed_upload_warns_of_source_ids_already_used(api_as, manager, project, tmp_path):
    """Two seed files numbering alike (BELLE's and Self-Instruct's both have seed_task_8) import, with a warning."""
    client = api_as(manager)
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(
        "".join(f'{{"id": "seed_task_{n}", "instruction": "Name fruit number {n}."}}\n' for n in range(25))
    )
    rows = [f'{{"id": "seed_task_{n}", "instruction": "写出第{n}种蔬菜的名字。"}}' for n in range(24)]
    second.write_text("\n".join([*rows, '{"id": "seed_task_0", "instruction": "再写一种水果。"}', ""]))
    with first.open("rb") as f:
        assert client.post("/api/v1/projects/alpha/seeds", {"file": f}, format="multipart").json()["warnings"] == []
    with second.open("rb") as f:
        body = client.post("/api/v1/projects/alpha/seeds", {"file": f}, format="multipart").json()
    assert body["created"] == 25 and body["by_language"] == {"zh": 25} and body["duplicate_id_count"] == 25
    assert body["duplicate_ids"] == [f"seed_task_{n}" for n in range(20)]  # the first 20, then the count
    assert body["warnings"][0].startswith("25 imported seeds share a source id") and "and 5 more" in body["warnings"][0]


def test_seed_upload_is_for_project_admins(api_as, cast, project, tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"instruction": "Name a red fruit please."}\n')
    for who in ("labeler", "consumer", "other_labeler"):
        with path.open("rb") as f:
            assert api_as(who).post("/api/v1/projects/alpha/seeds", {"file": f}, format="multipart").status_code == 404
    assert not SeedTask.objects.exists()
