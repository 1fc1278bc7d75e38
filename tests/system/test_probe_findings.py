"""Findings 4, 6 and 8 of the outside probe: bounded payloads checked before any work, the inputs that used to be
answered with a 500, and uploads with the same (or an unstorable) name."""

from __future__ import annotations

import json

import pytest

from tests.annotation.conftest import labelers, make_tasks  # noqa: F401 - shared fixtures
from tests.training.conftest import sft_version, tiny_base  # noqa: F401 - shared fixtures

HUGE = 2**63  # one past PostgreSQL's bigint


class CountingList(list):
    """A list that counts the items anyone iterates over (to show a check stops early, without timing it)."""

    seen = 0

    def __iter__(self):
        for item in super().__iter__():
            CountingList.seen += 1
            yield item


def test_a_ranking_is_bounded_by_its_task_before_any_other_work():
    """Finding 4: 30,000 ids took 18.7 s to refuse (a quadratic duplicate check)."""
    from annotation.rankings import RankingError, normalize_ranking

    CountingList.seen = 0
    with pytest.raises(RankingError, match="has 30000 entries; this task has 4"):
        normalize_ranking(CountingList(range(30_000)), item_ids=[1, 2, 3, 4], allow_ties=True)
    group = CountingList(range(30_000))
    with pytest.raises(RankingError, match="more than the task's 4"):
        normalize_ranking([group], item_ids=[1, 2, 3, 4], allow_ties=True)
    assert CountingList.seen == 0  # refused on the lengths alone
    with pytest.raises(RankingError, match=r"\[2\] more than once"):
        normalize_ranking([1, 2, 2, 3], item_ids=[1, 2, 3, 4], allow_ties=False)


def test_the_ranking_api_refuses_an_oversized_ranking_with_400(api_as, make_tasks):  # noqa: F811
    (task,) = make_tasks(1)
    client = api_as("labeler")
    assert client.post("/api/v1/annotation/next?project=alpha").status_code == 200
    response = client.post(
        f"/api/v1/annotation/tasks/{task.pk}/ranking", {"ranking": list(range(30_000))}, format="json"
    )
    assert response.status_code == 400 and "this task has 4 completions" in response.json()["detail"]


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/datasets/", {"project": "alpha", "kind": "sft", "split_seed": HUGE}, "split_seed"),
        ("/api/v1/generation-batches/", {"project": "alpha", "endpoint": "teach", "target": 3, "seed": HUGE}, "seed"),
        (
            "/api/v1/generation-batches/",
            {"project": "alpha", "endpoint": "teach", "target": 3, "token_budget": HUGE},
            "token_budget",
        ),
        ("/api/v1/training-jobs/", {"dataset": 1, "kind": "sft", "seed": HUGE}, "seed"),
        ("/api/v1/training-jobs/", {"dataset": HUGE, "kind": "sft"}, "dataset"),
        ("/api/v1/sampling-runs/", {"project": "alpha", "endpoints": [{"name": "teach"}], "limit": HUGE}, "limit"),
        ("/api/v1/annotation/judge-runs", {"project": "alpha", "endpoint": "teach", "limit": HUGE}, "limit"),
    ],
)
def test_integers_past_the_columns_are_400_naming_the_field(api_as, endpoint, url, body, field):
    response = api_as("admin").post(url, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith(f"{field}:"), response.json()


def test_the_request_schema_bounds_every_integer_list_string_and_object():
    """So schemathesis (and clients) can find this class: every request field states its bounds."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    unbounded = []

    def walk(where, node):
        kind = node.get("type")
        kinds = set(kind) - {"null"} if isinstance(kind, list) else {kind}
        if "integer" in kinds and "maximum" not in node:
            unbounded.append(f"{where}: integer without maximum")
        if "array" in kinds:
            if "maxItems" not in node:
                unbounded.append(f"{where}: array without maxItems")
            walk(f"{where}[]", node.get("items", {}))
        plain_string = not ({"enum", "pattern"} & set(node)) and node.get("format") not in ("binary", "date-time")
        if "string" in kinds and plain_string and "maxLength" not in node:
            unbounded.append(f"{where}: string without maxLength")
        if "object" in kinds:
            if node.get("additionalProperties") not in (None, False) and "maxProperties" not in node:
                unbounded.append(f"{where}: object without maxProperties")
            for key, value in node.get("properties", {}).items():
                walk(f"{where}.{key}", value)

    for name, component in schema["components"]["schemas"].items():
        if name.endswith("Request"):
            walk(name, component)
    assert not unbounded, "\n".join(unbounded)


@pytest.mark.parametrize("url", ["/api/v1/datasets/", "/api/v1/sampling-runs/", "/api/v1/annotation/judge-runs"])
def test_a_body_nested_3000_levels_deep_is_a_400(api_as, url):
    client = api_as("admin")
    body = '{"project": "alpha", "filters": ' + "[" * 3000 + "]" * 3000 + "}"
    response = client.generic("POST", url, body, "application/json")
    assert response.status_code == 400 and "nested" in response.json()["detail"]


def test_lone_surrogates_and_nuls_in_a_json_body_are_400_naming_where(api_as, make_tasks):  # noqa: F811
    (task,) = make_tasks(1)
    client = api_as("labeler")
    client.post("/api/v1/annotation/next?project=alpha")
    for text in ('"bad \\ud800"', '"a\\u0000b"'):
        body = '{"flag": "unclear", "comment": ' + text + "}"
        response = client.generic("POST", f"/api/v1/annotation/tasks/{task.pk}/ranking", body, "application/json")
        assert response.status_code == 400 and "comment" in response.json()["detail"], response.content


def test_an_upload_named_with_250_cjk_characters_is_imported(api_as, project):
    """Finding 6: the spool file took the client's name (750 bytes, past the 255-byte limit): a 500."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from selfinstruct.models import SeedTask

    name = "种子任务" * 62 + "集合.jsonl"
    rows = [
        {"instruction": f"Name fruit number {i}.", "instances": [{"input": "", "output": "Apple"}]} for i in range(2)
    ]
    upload = SimpleUploadedFile(name, "\n".join(json.dumps(r) for r in rows).encode())
    response = api_as("project_admin").post("/api/v1/projects/alpha/seeds", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    sources = set(SeedTask.objects.filter(project=project).values_list("source", flat=True))
    assert sources == {name[:200]}


def test_same_named_completion_files_in_one_import_never_replace_each_other(admin_client, project):
    """Finding 8: the second file silently replaced the first, and one model's completions were lost."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotation.models import Completion

    def upload(name, model=None, answer="x"):
        rows = [
            {"prompt": f"Say {i}", "completion": f"{answer} {i}", **({"model": model} if model else {})}
            for i in range(3)
        ]
        return SimpleUploadedFile(name, "\n".join(json.dumps(r) for r in rows).encode())

    url = "/admin/annotation/prompt/import-completions/"
    page = admin_client.post(url, {"project": project.pk, "files": [upload("preds.jsonl"), upload("preds.jsonl")]})
    assert page.status_code == 200 and "is also in preds.jsonl" in page.content.decode()
    assert not Completion.objects.exists()  # refused whole, nothing half-written
    page = admin_client.post(
        url,
        {
            "project": project.pk,
            "files": [upload("preds.jsonl", "model-a", "a"), upload("preds.jsonl", "model-b", "b")],
        },
    )
    assert page.status_code == 302
    assert sorted(set(Completion.objects.values_list("model", flat=True))) == ["model-a", "model-b"]
    assert Completion.objects.count() == 6


def test_an_admin_completion_import_named_with_cjk_characters_works(admin_client, project):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotation.models import Completion

    rows = [{"prompt": f"Say {i}", "completion": f"x {i}"} for i in range(2)]
    name = "模型预测" * 62 + ".jsonl"
    files = [
        SimpleUploadedFile(name, "\n".join(json.dumps(r) for r in rows).encode()),
        SimpleUploadedFile("other.jsonl", "\n".join(json.dumps(r) for r in rows).encode()),
    ]
    page = admin_client.post("/admin/annotation/prompt/import-completions/", {"project": project.pk, "files": files})
    assert page.status_code == 302, page.content.decode()[-2000:]
    assert Completion.objects.count() == 4


@pytest.mark.parametrize("value", ["²", "10" + "0" * 22, "-1", "1e3"])
def test_dashboard_form_numbers_that_are_not_ids_are_ignored(client, cast, value):
    client.force_login(cast["project_admin"])
    response = client.post("/label/alpha/dashboard/", {"ranking": [value]})
    assert response.status_code == 302


def test_the_labeler_page_takes_any_ranking_text_without_a_500(client, cast, make_tasks):  # noqa: F811
    (task,) = make_tasks(1)
    client.force_login(cast["labeler"])
    assert client.post("/label/alpha/").status_code == 303  # Start: the claim
    for raw in ("[" * 5000 + "]" * 5000, '["\\ud800"]', "x" * 100_000, json.dumps(list(range(30_000)))):
        response = client.post(f"/label/alpha/tasks/{task.pk}/submit", {"ranking": raw})
        assert response.status_code == 303


def test_a_json_body_past_the_size_limit_is_refused_before_parsing(api_as, settings, monkeypatch):
    import core.parsers

    monkeypatch.setattr(core.parsers, "MAX_JSON_BODY_BYTES", 1000)
    body = '{"project": "alpha", "kind": "sft", "name": "' + "x" * 2000 + '"}'
    response = api_as("admin").generic("POST", "/api/v1/datasets/", body, "application/json")
    assert response.status_code == 400 and "larger than" in response.json()["detail"]
