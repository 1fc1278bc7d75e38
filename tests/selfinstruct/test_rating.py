"""LLM ratings of complexity and quality (1–6, DEITA's scale) and task-type / verb–object tags by a judge endpoint —
here the demo teacher's rating and tagging modes: the reply parses or is refused readably; a rating run rates each accepted instruction once, goes on from where
it stopped, leaves failed items to the next run, fails at once on a misconfigured endpoint; its ratings chart and
filter dataset versions like perplexities; through the API, the CLI and the console. A project's own task types
replace BELLE's for the tagger, quotas, stratified versions and the report."""

import json
import re

import pytest
from django.core.management import CommandError, call_command

from demo.teacher import default_seed_files
from exports.services import DatasetError, build_dataset_version, create_dataset_version
from llm.rating import parse_rating
from selfinstruct.batches import start_batch
from selfinstruct.models import DifficultyScore, GeneratedInstruction, RatingRun
from selfinstruct.rating import RatingRunError, run_rating, start_rating_run
from selfinstruct.selectors import difficulty_histogram
from selfinstruct.services import import_seed_file
from tests.helpers.generation import drive


def test_a_rating_reply_parses_or_says_what_is_wrong():
    assert parse_rating("Complexity: 4", "complexity") == 4
    assert parse_rating("  **Quality**：5\n", "quality") == 5
    with pytest.raises(ValueError, match="outside 1–6"):
        parse_rating("Quality: 9", "quality")
    with pytest.raises(ValueError, match="has no 'Complexity:' line"):
        parse_rating("Quality: 3", "complexity")


def test_a_tagging_reply_parses_into_a_taxonomy_type_or_says_what_is_wrong():
    from llm.tagging import parse_tags
    from selfinstruct.taxonomy import DEFAULT_TASK_TYPES as TASK_TYPES

    keys = list(TASK_TYPES)
    tags = parse_tags("Type: Rewrite\nVerb: Rewrite\nObject: paragraph", keys)
    assert (tags.task_type, tags.verb, tags.object) == ("rewrite", "rewrite", "paragraph")
    assert parse_tags("**Type**：code\nVerb: 写\nObject: -", keys).object == ""
    with pytest.raises(ValueError, match="not one of the taxonomy's keys"):
        parse_tags("Type: poetry\nVerb: write\nObject: poem", keys)
    with pytest.raises(ValueError, match="no 'Type:' line"):
        parse_tags("Verb: write", keys)


@pytest.fixture
def pool(project, endpoint):
    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    drive(start_batch(project=project, endpoint=endpoint, template_name="alpaca", target=8, seed=7))
    return GeneratedInstruction.objects.filter(project=project, status="accepted")


def test_a_run_rates_each_instruction_once_and_leaves_failures_to_the_next(project, endpoint, pool, monkeypatch):
    import selfinstruct.rating as rating

    unlucky = pool.order_by("id").first().pk
    real = rating.rate

    def flaky(endpoint, *, instruction, **kw):
        if instruction.startswith(pool.get(pk=unlucky).instruction):
            raise rating.RatingError("rating reply has no 'Quality:' line")
        return real(endpoint, instruction=instruction, **kw)

    monkeypatch.setattr(rating, "rate", flaky)
    run = start_rating_run(project=project, endpoint=endpoint, enqueue=False)
    assert run.scorer == f"judge:{endpoint.name}" and run.items_total == pool.count() >= 8
    run_rating(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded" and (run.items_scored, run.items_failed) == (pool.count() - 1, 1), run.error
    scores = DifficultyScore.objects.filter(scorer=run.scorer)
    assert all(1 <= s.complexity <= 6 and 1 <= s.quality <= 6 for s in scores)
    # the tagger's task type (one of the taxonomy's keys), root verb and object are kept on each rated instruction
    from selfinstruct.taxonomy import DEFAULT_TASK_TYPES as TASK_TYPES

    tagged = pool.exclude(pk=unlucky)
    assert all(row.task_type in TASK_TYPES and row.root_verb for row in tagged)
    assert pool.get(pk=unlucky).task_type == ""  # left for the next run, like its ratings
    with pytest.raises(RatingRunError, match="already has a rating run"):
        RatingRun.objects.filter(pk=run.pk).update(status="running")
        start_rating_run(project=project, endpoint=endpoint, enqueue=False)
    RatingRun.objects.filter(pk=run.pk).update(status="succeeded")
    monkeypatch.setattr(rating, "rate", real)
    again = start_rating_run(project=project, endpoint=endpoint, enqueue=False)
    assert again.items_total == 1  # only the one that failed
    run_rating(run_id=again.pk)
    assert DifficultyScore.objects.filter(scorer=run.scorer).count() == pool.count()
    chart = difficulty_histogram(project=project, scorer=run.scorer, metric="complexity")
    assert chart["labels"] == ["1", "2", "3", "4", "5", "6"] and sum(chart["counts"]) == pool.count()
    band = {"scorer": run.scorer, "metric": "quality", "drop_easiest": 30, "drop_hardest": 0}
    version = create_dataset_version(
        project=project, kind="sft", test_fraction=0.0, filters={"include_seeds": False, "difficulty": band}
    )
    build_dataset_version(version_id=version.pk)
    version.refresh_from_db()
    assert version.status == "ready" and 0 < version.row_count <= pool.count()
    assert version.lineage["difficulty"]["metric"] == "quality"


def test_a_misconfigured_judge_fails_the_run_with_the_reason(project, endpoint, pool):
    endpoint.api_key_env = "MISSING_JUDGE_API_KEY"
    endpoint.save()
    run = start_rating_run(project=project, endpoint=endpoint, enqueue=False)
    run_rating(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed" and "MISSING_JUDGE_API_KEY" in run.error and run.finished_at


def test_rating_through_the_api_the_cli_and_the_console(project, endpoint, pool, api_as, client, cast, capsys):
    body = {"project": "alpha", "endpoint": endpoint.name}
    assert api_as("consumer").post("/api/v1/rating-runs", body, format="json").status_code == 403
    assert (
        api_as("project_admin")
        .post("/api/v1/rating-runs", {**body, "endpoint": "nope"}, format="json")
        .json()["detail"]
        .startswith("endpoint: no endpoint named")
    )
    made = api_as("project_admin").post("/api/v1/rating-runs", body, format="json")
    assert made.status_code == 201 and made.json()["items_total"] == pool.count()
    run_id = made.json()["id"]
    assert api_as("consumer").get(f"/api/v1/rating-runs/{run_id}").json()["status"] == "queued"
    scoped = api_as("consumer").get("/api/v1/projects/alpha/rating-runs")  # the project's own route (issue 36)
    assert [r["id"] for r in scoped.json()] == [run_id] and "Deprecation" not in scoped
    assert api_as("consumer").post(f"/api/v1/projects/alpha/rating-runs/{run_id}/cancel").status_code == 403
    assert api_as("admin").get(f"/api/v1/projects/beta/rating-runs/{run_id}").status_code == 404
    assert api_as("project_admin").post(f"/api/v1/rating-runs/{run_id}/cancel").json()["status"] == "cancelled"
    call_command("rate_instructions", "--project", "alpha", "--endpoint", endpoint.name, "--inline")
    out = capsys.readouterr().out
    assert f"{pool.count()} instruction(s) to rate" in out and f"complexity of {pool.count()} instruction(s)" in out
    chart = api_as("consumer").get(
        "/api/v1/difficulty", {"project": "alpha", "scorer": f"judge:{endpoint.name}", "metric": "quality"}
    )
    assert chart.json()["n"] == pool.count() and chart.json()["labels"] == ["1", "2", "3", "4", "5", "6"]
    client.force_login(cast["project_admin"])
    page = client.get("/console/alpha/difficulty/", {"scorer": f"judge:{endpoint.name}", "metric": "complexity"})
    text = page.content.decode()
    assert 'id="rating-runs"' in text and 'id="rating-form"' in text and 'id="difficulty-data"' in text
    started = client.post("/console/alpha/difficulty/rate", {"endpoint": endpoint.name})
    assert started.status_code == 302 and RatingRun.objects.filter(status="queued").count() == 1
    assert client.post("/console/alpha/difficulty/rate", {"endpoint": "nope"}).status_code == 400


def test_the_diversity_report_through_the_api_the_cli_and_the_console(project, pool, api_as, client, cast, capsys):
    from selfinstruct.diversity import diversity_report, opening

    client.force_login(cast["project_admin"])
    assert 'id="not-tagged"' in client.get("/console/alpha/diversity/").content.decode()
    for n, row in enumerate(pool.order_by("id")):  # as a rating run's tagger leaves them
        verb = ("write", "list", "explain")[n % 3]
        row.task_type, row.root_verb, row.root_object = ("generation", "brainstorming")[n % 2], verb, f"thing{n % 7}"
        row.save(update_fields=["task_type", "root_verb", "root_object"])

    assert opening("Summarize the key dates.") == "summarize" and opening("总结一次产品发布的关键日期。") == "总结"
    report = diversity_report(project=project)
    n = pool.count()
    assert report["instructions"] == n == sum(report["length"]["counts"]) == sum(report["nearest_similarity"]["counts"])
    assert 0 < report["distinct_2"] <= 1 and 0 < report["distinct_1"] <= 1 and sum(report["languages"].values()) == n
    assert report["mean_nearest_similarity"] < 0.7  # the near-duplicate threshold held
    assert sum(o["n"] for o in report["openings"]) <= n and report["openings"][0]["n"] >= report["openings"][-1]["n"]
    assert report["tagged"] == n and sum(t["n"] for t in report["task_types"]) == n
    assert {t["type"] for t in report["task_types"]} == {"generation", "brainstorming"}
    assert 0.9 < report["task_type_entropy"] <= 1.0  # two types, nearly balanced
    verbs = report["verb_objects"]
    assert [v["verb"] for v in verbs] == [v["verb"] for v in sorted(verbs, key=lambda v: (-v["n"], v["verb"]))]
    assert {v["verb"] for v in verbs} == {"write", "list", "explain"} and sum(v["n"] for v in verbs) == n
    assert all(sum(o["n"] for o in v["objects"]) == v["n"] and len(v["objects"]) <= 5 for v in verbs)
    assert api_as("consumer").get("/api/v1/diversity", {"project": "alpha"}).json() == report
    assert api_as("consumer").get("/api/v1/projects/alpha/diversity").json() == report
    assert api_as("consumer").get("/api/v1/diversity", {"project": "alpha", "batch": "x"}).status_code == 400
    assert api_as("labeler").get("/api/v1/diversity", {"project": "alpha"}).status_code == 404
    call_command("diversity", "--project", "alpha")
    out = capsys.readouterr().out
    assert f"{n} instruction(s)" in out and f"task types ({n} tagged" in out and "  write " in out
    page = client.get("/console/alpha/diversity/").content.decode()
    assert (
        'id="diversity-numbers"' in page
        and page.count("data-bars=") == 4
        and 'data-sunburst="verb-objects-data"' in page
    )
    assert "sunburst.js" in page and 'id="not-tagged"' not in page
    assert 'id="no-instructions"' in client.get("/console/alpha/diversity/", {"batch": "999"}).content.decode()


def test_versions_stratified_by_task_type(project, pool, client, cast):
    rows = list(pool.order_by("id"))
    for n, row in enumerate(rows):  # five of one type, the rest of another, one left untagged
        row.task_type = "" if n == len(rows) - 1 else ("generation" if n < 5 else "rewrite")
        row.save(update_fields=["task_type"])
    rewrites = len(rows) - 6

    def built(stratify, seed=0):
        version = create_dataset_version(
            project=project, kind="sft", split_seed=seed, filters={"include_seeds": False, "stratify": stratify}
        )
        build_dataset_version(version_id=version.pk)
        version.refresh_from_db()
        assert version.status == "ready", version.error
        return version

    two = built({"per_type": 2})
    assert two.lineage["stratify"]["instructions_per_type"] == {
        "generation": 2,
        "rewrite": min(2, rewrites),
        "untagged": 1,
    }
    assert two.lineage["generated_instructions"] == 2 + min(2, rewrites) + 1
    assert built({"per_type": 2}).content_hash == two.content_hash  # the same seed chooses the same
    only = built({"per_type": 100, "types": ["generation"]})
    assert (
        only.lineage["stratify"]["instructions_per_type"] == {"generation": 5}
        and only.lineage["generated_instructions"] == 5
    )
    for bad in ({"per_type": 0}, {"per_type": 2, "types": ["poetry"]}, {"types": ["code"]}, {"per_type": True}, []):
        with pytest.raises(DatasetError, match="filters.stratify"):
            create_dataset_version(project=project, kind="sft", filters={"stratify": bad})
    client.force_login(cast["project_admin"])
    made = client.post(
        "/console/alpha/datasets/",
        {
            "kind": "sft",
            "test_fraction": "0.1",
            "split_seed": "0",
            "per_type": "3",
            "task_types": ["rewrite", "untagged"],
        },
    )
    assert made.status_code == 302
    from exports.models import DatasetVersion

    assert DatasetVersion.objects.latest("id").filters["stratify"] == {"per_type": 3, "types": ["rewrite", "untagged"]}


def test_a_taxonomy_is_checked_field_by_field_and_read_from_lines():
    from selfinstruct.taxonomy import TaxonomyError, as_lines, clean_types, default_taxonomy, parse_lines

    good = [{"key": "poem", "name": "Poem", "name_zh": "诗", "definition": "write a poem"}, {"key": "other"}]
    good[1].update(name="Other", definition="none of the above")
    assert [t.key for t in clean_types(good)] == ["poem", "other"]
    for bad, field in (
        ({"types": good}, "types"),
        (good[:1], "types"),
        ([*good, {**good[0]}], "types[2].key"),
        ([good[0], {**good[1], "key": "Other"}], "types[1].key"),
        ([good[0], {**good[1], "key": "untagged"}], "types[1].key"),
        ([good[0], {**good[1], "definition": "x" * 201}], "types[1].definition"),
        ([good[0], {**good[1], "name": " "}], "types[1].name"),
        ([good[0], {**good[1], "name_zh": 3}], "types[1].name_zh"),
        ([good[0], {**good[1], "colour": "red"}], "types[1]"),
        ([good[0], {**good[1], "name": "a\x00b"}], "types[1].name"),
        ([good[0], {**good[1], "definition": "this | that"}], "types[1].definition"),
        ([{**good[0], "key": f"k{n}"} for n in range(41)], "types"),
    ):
        with pytest.raises(TaxonomyError, match=rf"^{re.escape(field)}: "):
            clean_types(bad)
    default = default_taxonomy()
    assert clean_types(parse_lines(as_lines(default))) == default.types  # the console's lines go both ways
    with pytest.raises(TaxonomyError, match="^line 3: "):
        parse_lines("poem | Poem | 诗 | write a poem\n\nnot a type line")


def test_a_project_taxonomy_steers_tagging_quotas_and_versions_through_api_console_and_cli(
    project, endpoint, pool, api_as, client, cast, tmp_path, capsys
):
    from selfinstruct.batches import BatchError
    from selfinstruct.taxonomy import taxonomy_for

    url = "/api/v1/projects/alpha/taxonomy"
    shown = api_as("consumer").get(url).json()
    assert shown["custom"] is False and len(shown["types"]) == 12 and shown["types"][-1]["key"] == "other"
    assert api_as("labeler").get(url).status_code == 404
    mine = [
        {"key": "poem", "name": "Poem", "name_zh": "诗", "definition": "write a poem, haiku, story or verse"},
        {"key": "question", "name": "Question", "name_zh": "", "definition": "answer a question or explain a fact"},
        {"key": "other", "name": "Other", "name_zh": "其他", "definition": "none of the above"},
    ]
    assert api_as("consumer").put(url, {"types": mine}, format="json").status_code == 403
    refused = api_as("project_admin").put(url, {"types": [mine[0], {**mine[1], "key": "poem"}]}, format="json")
    assert refused.status_code == 400 and refused.json()["detail"].startswith("types[1].key:")
    assert api_as("project_admin").put(url, {}, format="json").status_code == 400
    assert taxonomy_for(project).custom is False  # nothing half-written
    saved = api_as("project_admin").put(url, {"types": mine}, format="json")
    assert saved.status_code == 200 and saved.json() == {"custom": True, "types": mine}

    # the tagger chooses from the project's types
    run = start_rating_run(project=project, endpoint=endpoint, enqueue=False)
    run_rating(run_id=run.pk)
    assert set(pool.values_list("task_type", flat=True)) <= {"poem", "question", "other"}
    assert pool.filter(task_type="poem").exists()
    # quotas and stratified versions name the project's types only
    assert start_batch(
        project=project, endpoint=endpoint, template_name="alpaca", target=2, type_quotas={"poem": 1}
    ).type_quotas == {"poem": 1}
    with pytest.raises(BatchError, match="not a task type of the project"):
        start_batch(project=project, endpoint=endpoint, template_name="alpaca", target=2, type_quotas={"code": 1})
    body = {"project": "alpha", "endpoint": "teach", "template": "alpaca", "target": 3, "type_quotas": {"math": 2}}
    assert api_as("project_admin").post("/api/v1/generation-batches/", body, format="json").status_code == 400
    with pytest.raises(DatasetError, match="filters.stratify.types"):
        create_dataset_version(project=project, kind="sft", filters={"stratify": {"per_type": 5, "types": ["code"]}})
    version = create_dataset_version(
        project=project, kind="sft", filters={"stratify": {"per_type": 5, "types": ["poem"]}}
    )
    assert version.filters["stratify"]["types"] == ["poem"]
    report = api_as("consumer").get("/api/v1/diversity", {"project": "alpha"}).json()
    assert {t["name"] for t in report["task_types"]} <= {"Poem", "Question", "Other"}

    # the console: the list as lines, a refusal naming the line, the forms offering the project's types
    client.force_login(cast["project_admin"])
    page = client.get("/console/alpha/taxonomy/").content.decode()
    assert 'data-custom="1"' in page and 'data-key="question"' in page and "poem | Poem | 诗 |" in page
    bad = client.post("/console/alpha/taxonomy/", {"types": "poem | Poem | 诗 | verse\nquestion | Question"})
    assert bad.status_code == 400 and "line 2:" in bad.content.decode()
    lines = "poem | Poem | 诗 | write a poem or verse\nother | Other | | anything else"
    assert client.post("/console/alpha/taxonomy/", {"types": lines}).status_code == 302
    assert taxonomy_for(project).keys() == ["poem", "other"]
    assert 'value="poem"' in client.get("/console/alpha/datasets/").content.decode()
    assert "poem, other" in client.get("/console/alpha/generation/new").content.decode()
    # a rating run tags again what carries a type no longer in the list (here: "question"), and only that
    stale = pool.filter(task_type="question").count()
    assert 0 < stale < pool.count()
    again = start_rating_run(project=project, endpoint=endpoint, enqueue=False)
    assert again.items_total == stale
    run_rating(run_id=again.pk)
    assert set(pool.values_list("task_type", flat=True)) <= {"poem", "other"}
    assert client.post("/console/alpha/taxonomy/", {"reset": "1"}).status_code == 302
    assert taxonomy_for(project).custom is False

    # the CLI: set from lines or JSON, print, reset; a bad file is refused with its reason
    listing = tmp_path / "types.txt"
    listing.write_text("poem | Poem | 诗 | write a poem\nother | Other | 其他 | anything else\n")
    call_command("taxonomy", "--project", "alpha", "--set", str(listing))
    assert "2 task types, the project's own" in capsys.readouterr().out
    as_json = tmp_path / "types.json"
    as_json.write_text(json.dumps({"types": mine}))
    call_command("taxonomy", "--project", "alpha", "--set", str(as_json), "--json")
    assert json.loads(capsys.readouterr().out) == {"custom": True, "types": mine}
    as_json.write_text(json.dumps([mine[0]]))
    with pytest.raises(CommandError, match="^types: from 2 to 40"):
        call_command("taxonomy", "--project", "alpha", "--set", str(as_json))
    call_command("taxonomy", "--project", "alpha", "--reset")
    assert "12 task types, BELLE's categories" in capsys.readouterr().out
