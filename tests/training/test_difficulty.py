"""Instruction difficulty by perplexity and IFD (Cherry-LLM): the scorer's numbers are the model's own losses; a run
scores the project's accepted instructions once (a rerun has nothing left), through the service, the API and the
CLI; the distribution and its percentiles; a dataset version keeps a percentile band of the generated rows."""

import math

import pytest
from django.core.management import CommandError, call_command

from demo.teacher import default_seed_files
from exports.services import DatasetError, build_dataset_version, create_dataset_version, materialize
from selfinstruct.batches import start_batch
from selfinstruct.models import DifficultyScore, GeneratedInstruction
from selfinstruct.selectors import difficulty_band_ids, difficulty_histogram
from selfinstruct.services import import_seed_file
from tests.helpers.generation import drive
from training.difficulty import run_difficulty_scoring, start_difficulty_run
from training.services import TrainingJobError
from training.trainer.perplexity import PerplexityScorer


def test_the_perplexities_are_the_models_own_losses(tiny_base):
    import torch

    scorer = PerplexityScorer(tiny_base, max_length=256)
    prompt, response = "Task number 3: explain item 3.", " answer 1 to 3"
    scored, bare = scorer.score([(prompt, response), ("explain item 4", "")])
    tok = scorer.tokenizer
    bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
    p = bos + tok(prompt, add_special_tokens=False)["input_ids"]
    r = tok(response, add_special_tokens=False)["input_ids"]

    def loss(ids, masked):
        ids = torch.tensor([ids])
        labels = ids.clone()
        labels[0, :masked] = -100
        with torch.no_grad():
            return math.exp(scorer.model(input_ids=ids, labels=labels).loss.item())

    assert scored["ppl_response_given"] == pytest.approx(loss(p + r, len(p)), rel=1e-4)
    assert scored["ppl_response"] == pytest.approx(loss(bos + r, 1 if bos else 0), rel=1e-4)
    assert scored["ppl_instruction"] == pytest.approx(loss(p, 0), rel=1e-4)
    assert scored["ifd"] == pytest.approx(scored["ppl_response_given"] / scored["ppl_response"])
    assert bare["ppl_response"] is None and bare["ifd"] is None and bare["ppl_instruction"] > 1


@pytest.fixture
def pool(project, endpoint):
    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    drive(start_batch(project=project, endpoint=endpoint, template_name="alpaca", target=12, seed=5))
    return GeneratedInstruction.objects.filter(project=project, status="accepted")


def test_a_run_scores_each_instruction_once_and_a_version_keeps_a_band(project, pool, tiny_base):
    run = start_difficulty_run(project=project, base_model=str(tiny_base), max_length=128, enqueue=False)
    assert run.scorer == "tiny-base" and run.items_total == pool.count() >= 12  # the name, never the server path
    run_difficulty_scoring(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded" and run.items_scored == run.items_total, run.error
    scores = DifficultyScore.objects.filter(scorer="tiny-base")
    assert scores.count() == pool.count() and not scores.filter(ifd__isnull=True).exists()  # alpaca rows answer
    assert start_difficulty_run(project=project, base_model="tiny-base", enqueue=False).items_total == 0
    chart = difficulty_histogram(project=project, scorer="tiny-base", metric="ifd")
    assert (
        chart["n"] == pool.count() == sum(chart["counts"]) and chart["percentiles"]["5"] <= chart["percentiles"]["95"]
    )

    band = {"scorer": "tiny-base", "metric": "ifd", "drop_easiest": 25, "drop_hardest": 25}
    kept = difficulty_band_ids(project=project, **{k: v for k, v in band.items() if k != "scorer"}, scorer="tiny-base")
    ifd = dict(scores.values_list("instruction_id", "ifd"))
    inside = sorted(ifd[i] for i in kept)
    outside = [v for i, v in ifd.items() if i not in kept]
    assert 0 < len(kept) < len(ifd) and all(v < inside[0] or v > inside[-1] for v in outside)
    version = create_dataset_version(
        project=project, kind="sft", test_fraction=0.0, filters={"include_seeds": False, "difficulty": band}
    )
    build_dataset_version(version_id=version.pk)
    version.refresh_from_db()
    path, _ = materialize(version=version, shape="raw", split="all", file_type="jsonl", compress=False)
    rows = [__import__("json").loads(line) for line in path.read_text().splitlines()]
    assert {r["source"]["instruction_id"] for r in rows} == kept
    assert version.lineage["difficulty"]["rows_left_out"] == len(ifd) - len(kept)
    with pytest.raises(DatasetError, match="filters.difficulty: drop_easiest \\+ drop_hardest must stay below 100"):
        create_dataset_version(project=project, kind="sft", filters={"difficulty": {**band, "drop_hardest": 75}})
    with pytest.raises(DatasetError, match="filters.difficulty.metric: one of"):
        create_dataset_version(project=project, kind="sft", filters={"difficulty": {**band, "metric": "x"}})


def test_runs_through_the_api_and_the_cli(project, pool, tiny_base, api_as, capsys):
    admin, consumer = api_as("project_admin"), api_as("consumer")
    body = {"project": "alpha", "base_model": "tiny-base", "max_length": 64}
    assert consumer.post("/api/v1/difficulty-runs", body, format="json").status_code == 403
    assert api_as("other_admin").post("/api/v1/difficulty-runs", body, format="json").status_code == 404
    both = admin.post("/api/v1/difficulty-runs", {**body, "job": 1}, format="json")
    assert both.status_code in (400, 404)
    assert admin.post("/api/v1/difficulty-runs", {**body, "max_length": 9}, format="json").status_code == 400
    made = admin.post("/api/v1/difficulty-runs", body, format="json")
    assert made.status_code == 201 and made.json()["scorer"] == "tiny-base" and made.json()["status"] == "queued"
    run_id = made.json()["id"]
    assert admin.post("/api/v1/difficulty-runs", body, format="json").status_code == 409  # one at a time
    assert consumer.get(f"/api/v1/difficulty-runs/{run_id}").json()["items_total"] == pool.count()
    assert admin.post(f"/api/v1/difficulty-runs/{run_id}/cancel").json()["status"] == "cancelled"
    assert admin.post(f"/api/v1/difficulty-runs/{run_id}/cancel").status_code == 409
    call_command(
        "score_difficulty",
        "--project",
        "alpha",
        "--base-model",
        "tiny-base",
        "--max-length",
        "64",
        "--inline",
        "--metric",
        "ppl_instruction",
    )
    out = capsys.readouterr().out
    assert f"{pool.count()} instruction(s) to score by tiny-base" in out and "ppl_instruction over" in out
    chart = consumer.get("/api/v1/difficulty", {"project": "alpha", "metric": "ppl_instruction"}).json()
    assert chart["scorer"] == "tiny-base" and chart["n"] == pool.count() and len(chart["counts"]) == 24
    assert consumer.get("/api/v1/difficulty", {"project": "alpha", "metric": "nope"}).status_code == 400
    with pytest.raises(CommandError, match="base_model: no base model named"):
        call_command("score_difficulty", "--project", "alpha", "--base-model", "../../etc", "--inline")
    with pytest.raises(TrainingJobError, match="name one trained job or one base model"):
        start_difficulty_run(project=project)


def test_the_console_page_starts_a_run_charts_it_and_links_a_band_to_review_and_datasets(
    client, cast, project, pool, tiny_base
):
    client.force_login(cast["project_admin"])
    empty = client.get("/console/alpha/difficulty/").content.decode()
    assert 'id="no-scores"' in empty and 'id="difficulty-form"' in empty
    refused = client.post("/console/alpha/difficulty/", {"base_model": "../etc", "max_length": 64})
    assert refused.status_code == 400 and "no base model named" in refused.content.decode()
    made = client.post("/console/alpha/difficulty/", {"base_model": "tiny-base", "max_length": 512}, follow=True)
    assert "Difficulty run" in made.content.decode() and 'hx-trigger="every 2s"' in made.content.decode()
    from training.models import DifficultyRun

    run_difficulty_scoring(run_id=DifficultyRun.objects.get().pk)
    band = {"scorer": "tiny-base", "metric": "ifd", "drop_easiest": 20, "drop_hardest": 20}
    page = client.get("/console/alpha/difficulty/", band).content.decode()
    assert 'id="difficulty-data"' in page and "hx-trigger" not in page and 'id="band-kept"' in page
    kept = len(difficulty_band_ids(project=project, **band))
    assert f"This band keeps {kept} of {pool.count()} scored instructions." in page, page[
        page.find("band-kept") - 20 :
    ][:300]
    outside = client.get("/console/alpha/instructions/", {**band, "side": "outside", "status": "accepted"})
    assert outside.content.decode().count('class="card review-card') == pool.count() - kept
    form = client.get("/console/alpha/datasets/", {"kind": "sft", **band}).content.decode()
    assert 'name="scorer" value="tiny-base"' in form and 'name="drop_easiest" value="20"' in form
    client.force_login(cast["labeler"])
    assert client.get("/console/alpha/difficulty/").status_code == 404


def test_the_page_defaults_to_a_metric_that_exists_and_refreshes_its_results_while_runs_go(
    client, cast, project, pool, endpoint
):
    from core.lifecycle import RunStatus
    from selfinstruct.models import RatingRun
    from selfinstruct.services import store_difficulty_scores

    client.force_login(cast["project_admin"])
    judge = "judge:teach"  # a judge rates complexity and quality only: no IFD
    store_difficulty_scores(scorer=judge, scores={i.pk: {"complexity": 3, "quality": 4} for i in pool})
    page = client.get("/console/alpha/difficulty/").content.decode()
    assert 'id="difficulty-data"' in page and 'id="no-metric"' not in page
    assert '<option value="complexity" selected>' in page and "hx-trigger" not in page
    assert "p5 <b>3</b>" in page and "3.000" not in page  # whole ratings as whole numbers
    zh = client.get("/console/alpha/difficulty/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "评审：teach" in zh and ">judge:teach" not in zh  # the scorer and the metrics in words
    assert "IFD（指令跟随难度）" in zh and "给定指令时回答的困惑度" in zh and ">ppl_response_given" not in zh
    run = RatingRun.objects.create(project=project, endpoint=endpoint, scorer=judge, status=RunStatus.RUNNING)
    live = client.get("/console/alpha/difficulty/live", {"metric": "quality"}).content.decode()
    assert 'hx-trigger="every 2s"' in live and "metric=quality" in live  # the band the page shows is kept
    assert 'id="difficulty-data"' in live and 'id="rating-runs"' in live  # the distribution refreshes too
    RatingRun.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED)
    last = client.get("/console/alpha/difficulty/live").content.decode()
    assert "hx-trigger" not in last and 'data-status="succeeded"' in last
    asked = client.get("/console/alpha/difficulty/", {"metric": "ifd"}).content.decode()
    assert 'id="no-metric"' in asked and "This scorer has: Complexity (judge&#x27;s rating, 1–6), Quality" in asked
