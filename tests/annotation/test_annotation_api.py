"""The ranking API: claim → submit/skip/heartbeat/undo, scoped to the labeler's projects, schema-checked."""

import pytest

from annotation.models import Ranking, RankingTask
from annotation.services import update_ranking_config
from projects.services import add_member


def test_labeler_claims_and_submits_through_the_api(api_as, project, make_tasks):
    make_tasks(2)
    client = api_as("labeler")
    body = client.post("/api/v1/annotation/next?project=alpha").json()
    assert len(body["completions"]) == 4 and body["progress"] == {"done": 0, "remaining": 2}
    assert [c["label"] for c in body["completions"]] == ["A", "B", "C", "D"]
    assert "model" not in body["completions"][0]  # labelers never see which model wrote what
    order = [c["id"] for c in body["completions"]][::-1]
    url = f"/api/v1/annotation/tasks/{body['task']}/ranking"
    created = client.post(url, {"ranking": order, "time_spent_ms": 4200}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["ranking"] == [[i] for i in order] and created.json()["time_spent_ms"] == 4200
    again = client.post(url, {"ranking": order, "time_spent_ms": 4200}, format="json")
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    changed = client.post(url, {"ranking": order[::-1]}, format="json")
    assert changed.status_code == 409 and "undo" in changed.json()["detail"]
    bad = client.post(f"/api/v1/annotation/tasks/{body['task']}/ranking", {"ranking": order[:2]}, format="json")
    assert bad.status_code == 400 and bad.json()["detail"].startswith("ranking:")


def test_validation_errors_name_the_field(api_as, project, make_tasks):
    make_tasks(1, k=3)
    client = api_as("labeler")
    body = client.post("/api/v1/annotation/next?project=alpha").json()
    ids = [c["id"] for c in body["completions"]]
    url = f"/api/v1/annotation/tasks/{body['task']}/ranking"
    response = client.post(url, {"ranking": ids[:2]}, format="json")
    assert response.status_code == 400 and response.json()["detail"].startswith("ranking: ")
    response = client.post(url, {"flag": "boring"}, format="json")
    assert response.status_code == 400 and response.json()["detail"].startswith("flag:")
    assert not Ranking.objects.exists()


def test_skip_heartbeat_undo_and_empty_queue(api_as, project, make_tasks):
    make_tasks(2)
    update_ranking_config(project=project, undo_seconds=120)
    client = api_as("labeler")
    first = client.post("/api/v1/annotation/next?project=alpha").json()
    assert client.post(f"/api/v1/annotation/tasks/{first['task']}/heartbeat").json() == {"ok": True}
    assert client.post(f"/api/v1/annotation/tasks/{first['task']}/skip").json() == {"ok": True}
    assert client.post(f"/api/v1/annotation/tasks/{first['task']}/heartbeat").status_code == 409
    second = client.post("/api/v1/annotation/next?project=alpha").json()
    assert second["task"] != first["task"]
    ids = [c["id"] for c in second["completions"]]
    client.post(f"/api/v1/annotation/tasks/{second['task']}/ranking", {"ranking": ids}, format="json")
    assert client.post("/api/v1/annotation/next?project=alpha").status_code == 204
    undone = client.post("/api/v1/annotation/undo?project=alpha")
    assert undone.status_code == 200 and undone.json()["task"] == second["task"]
    assert RankingTask.objects.get(pk=second["task"]).rankings_count == 0
    assert client.post("/api/v1/annotation/undo?project=alpha").status_code == 409  # nothing left to undo


@pytest.mark.parametrize("who", ["other_labeler", "consumer", "other_consumer"])
def test_outsiders_cannot_claim_or_touch_tasks(api_as, project, make_tasks, who):
    (task,) = make_tasks(1)
    client = api_as(who)
    assert client.post("/api/v1/annotation/next?project=alpha").status_code == 404
    ids = task.completion_ids
    assert (
        client.post(f"/api/v1/annotation/tasks/{task.pk}/ranking", {"ranking": ids}, format="json").status_code == 404
    )
    assert client.post(f"/api/v1/annotation/tasks/{task.pk}/skip").status_code == 404


def test_the_project_routes_answer_within_their_project(api_as, cast, project, other_project, make_tasks):
    make_tasks(2)
    add_member(project=other_project, user=cast["labeler"], role="labeler")  # labels in both projects
    client = api_as("labeler")
    body = client.post("/api/v1/projects/alpha/annotation/next")
    assert body.status_code == 200 and "Deprecation" not in body
    task, ids = body.json()["task"], [c["id"] for c in body.json()["completions"]]
    elsewhere = f"/api/v1/projects/beta/annotation/tasks/{task}"  # alpha's task is not found through beta
    assert client.post(f"{elsewhere}/ranking", {"ranking": ids}, format="json").status_code == 404
    assert client.post(f"{elsewhere}/heartbeat").status_code == 404
    assert client.post(f"/api/v1/projects/alpha/annotation/tasks/{task}/heartbeat").json() == {"ok": True}
    done = client.post(f"/api/v1/projects/alpha/annotation/tasks/{task}/ranking", {"ranking": ids}, format="json")
    assert done.status_code == 201
    assert client.post("/api/v1/projects/beta/annotation/next").status_code == 204
    rankings = api_as("consumer").get("/api/v1/projects/alpha/annotation/rankings").json()["results"]
    assert [r["task"] for r in rankings] == [task]
    assert api_as("consumer").get("/api/v1/projects/alpha/annotation/stats").status_code == 404
    assert api_as("other_consumer").get("/api/v1/projects/alpha/annotation/rankings").status_code == 404


def test_anonymous_gets_401(api_as, project):
    assert api_as(None).post("/api/v1/annotation/next?project=alpha").status_code in (401, 403)


def test_consumers_read_raw_rankings_with_consensus_and_admins_see_stats(api_as, project, make_tasks, cast):
    make_tasks(1, k=2)
    labeler = api_as("labeler")
    body = labeler.post("/api/v1/annotation/next?project=alpha").json()
    ids = [c["id"] for c in body["completions"]]
    labeler.post(f"/api/v1/annotation/tasks/{body['task']}/ranking", {"ranking": ids}, format="json")
    page = api_as("consumer").get("/api/v1/annotation/rankings?project=alpha").json()
    assert [r["ranking"] for r in page["results"]] == [[[i] for i in ids]]
    assert page["results"][0]["consensus"] == [[i] for i in ids] and page["next_after"] is None
    assert api_as("other_consumer").get("/api/v1/annotation/rankings?project=alpha").status_code == 404
    assert api_as("labeler").get("/api/v1/annotation/stats?project=alpha").status_code == 404
    stats = api_as("admin").get("/api/v1/annotation/stats?project=alpha").json()
    assert stats["progress"]["complete"] == 1 and stats["labelers"][0]["labeler"] == "lab"


def test_project_admin_starts_a_sampling_run(api_as, cast, project, endpoint, tmp_path):
    from annotation.services import import_prompt_list

    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "Name a colour."}\n{"prompt": "Name a fruit."}\n')
    import_prompt_list(project=project, path=path)
    add_member(project=project, user=cast["labeler"], role="admin")
    client = api_as("labeler")
    body = {
        "project": "alpha",
        "endpoints": [{"name": "teach", "params": {"temperature": 0.5}}],
        "per_prompt": 3,
        "sources": ["imported"],
    }
    response = client.post("/api/v1/sampling-runs/", body, format="json")
    assert response.status_code == 201, response.json()
    run = response.json()
    assert run["prompts_total"] == 2 and run["per_prompt"] == 3 and run["plan"][0]["params"]["temperature"] == 0.5
    assert client.get(f"/api/v1/sampling-runs/{run['id']}/").json()["status"] == "running"
    assert api_as("other_labeler").get(f"/api/v1/sampling-runs/{run['id']}/").status_code == 404
    assert client.get(f"/api/v1/projects/alpha/sampling-runs/{run['id']}").json()["id"] == run["id"]
    assert client.get(f"/api/v1/projects/alpha/sampling-runs/{run['id'] + 1}").status_code == 404
    unknown = client.post("/api/v1/sampling-runs/", {**body, "endpoints": [{"name": "nope"}]}, format="json")
    assert unknown.status_code == 400 and unknown.json()["detail"].startswith("endpoints.0.name")


def test_the_answers_built_directly_equal_the_serializers(project, make_tasks, labelers):
    """The claim's and the submit's answers skip DRF's serializers (annotation/api.py _task_json, _ranking_json); they
    must be exactly what the serializers, which document them, give — here with an input, an RM hint and a flag."""
    from annotation import api, claims

    (task,) = make_tasks(1, show_rm_hint=True)
    task.prompt.input = "Some *input*: 中文"
    task.prompt.save(update_fields=["input"])
    RankingTask.objects.filter(pk=task.pk).update(rm_order=task.completion_ids[::-1], rm_margin=0.1)
    (labeler,) = labelers(1)
    claimed = claims.claim_next_task_view(project=project, labeler=labeler)
    direct = api._task_json(claimed, labeler)
    assert direct == api.TaskViewSerializer(api._task_payload(claimed, labeler)).data
    assert direct["rm_hint"] == ["D", "C", "B", "A"] and direct["prompt"]["input_html"]
    row, _ = claims.submit_ranking_to(task_id=task.pk, labeler=labeler, ranking=task.completion_ids, flag="harmful")
    assert api._ranking_json(row) == api.RankingOutputSerializer(row).data
    assert api._ranking_json(row)["created_at"].endswith("Z")


@pytest.mark.parametrize(
    ("body", "read"),
    [
        ({"ranking": [3, 1, 2]}, True),
        ({"ranking": [[3], [1, 2]], "time_spent_ms": 0}, True),
        ({"ranking": [1], "time_spent_ms": None}, True),
        ({"ranking": [1, 2], "time_spent_ms": 7 * 24 * 3600 * 1000}, True),
        ({"ranking": [1, 2], "time_spent_ms": 7 * 24 * 3600 * 1000 + 1}, False),
        ({"ranking": [1, 2], "time_spent_ms": -1}, False),
        ({"ranking": [1, 2], "time_spent_ms": True}, False),
        ({"ranking": [1, 2], "time_spent_ms": "12"}, False),
        ({"ranking": [1, 2], "comment": "  why  "}, False),
        ({"ranking": [1, 2], "flag": ""}, False),
        ({"ranking": "1,2"}, False),
        ({"flag": "harmful"}, False),
        ([1, 2], False),
    ],
)
def test_a_plain_submit_body_reads_as_the_serializer_reads_it(body, read):
    """The submit view reads the usual body without RankingInputSerializer: what it reads equals the serializer's
    validated data, and every other body is left to the serializer (its checks, its wording)."""
    from annotation.api import RankingInputSerializer, _plain_ranking_body

    plain = _plain_ranking_body(body)
    assert (plain is not None) == read
    if read:
        serializer = RankingInputSerializer(data=body)
        assert serializer.is_valid() and dict(serializer.validated_data) == plain
