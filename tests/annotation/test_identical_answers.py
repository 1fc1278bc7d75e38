"""Issue 35, defect 2: answers identical up to whitespace are one item of a ranking task (sampling and import),
every source stays visible, a prompt with a single distinct answer is not offered; "completions by model" keeps
two endpoints of one model apart; a flagged ranking reads "flagged" on the task page."""

import json
from types import SimpleNamespace

import pytest

from annotation.claims import claim_next_ranking_task, submit_ranking
from annotation.models import Completion, Prompt, RankingTask
from annotation.sampling import run_sampling_chunk, start_sampling_run
from annotation.services import import_completions, prompt_text_key
from llm.services import create_endpoint
from tests.helpers.labeling import start_ranking

ANSWERS = {  # slot i comes from endpoint i % 2: east, west, east, west
    "What is the capital of France?": ["Paris.", "  Paris.\n", "Lyon.", "Paris is the capital."],
    "Say yes.": ["Yes.", "Yes.", "Yes. ", "Yes."],
}


def _prompt(project, text):
    return Prompt.objects.create(
        project=project, source="imported", instruction=text, text_key=prompt_text_key(text, ""), language="en"
    )


@pytest.fixture
def fake_llm(monkeypatch):
    served = {text: iter(answers) for text, answers in ANSWERS.items()}

    def call_llm(endpoint, *, messages, **kwargs):
        text = next(served[messages[0]["content"]])
        choice = SimpleNamespace(text=text, finish_reason="stop")
        return SimpleNamespace(
            choices=[choice], model="", prompt_tokens=3, completion_tokens=2, latency_ms=1, request_id=None
        )

    monkeypatch.setattr("annotation.sampling.call_llm", call_llm)


def test_sampling_merges_identical_answers_and_offers_no_single_answer_prompt(
    client, cast, api_as, project, fake_llm, labelers
):
    east = create_endpoint(name="east", base_url="http://127.0.0.1:9/v1", model="same-model")
    west = create_endpoint(name="west", base_url="http://127.0.0.1:9/v1", model="same-model")
    for text in ANSWERS:
        _prompt(project, text)
    run = start_sampling_run(project=project, endpoints=[(east, {}), (west, {})], per_prompt=4, sources=("imported",))
    run_sampling_chunk(run_id=run.pk, number=0)
    run_sampling_chunk(run_id=run.pk, number=0)  # a redelivered chunk changes nothing
    run.refresh_from_db()
    assert run.status == "succeeded" and run.completions_created == 8 and run.prompts_single_answer == 1
    (task,) = RankingTask.objects.filter(project=project)  # "Say yes." gave one text four times: no task
    items = {c.text: c for c in Completion.objects.filter(pk__in=task.completion_ids)}
    assert task.k == 3 and sorted(items) == ["Lyon.", "Paris is the capital.", "Paris."]
    paris = items["Paris."]
    assert paris.endpoint == east and [(c.endpoint.name, c.model) for c in paris.duplicates.all()] == [
        ("west", "same-model")
    ]

    client.force_login(cast["project_admin"])
    page = client.get(f"/console/alpha/sampling/{run.pk}/").content.decode()
    assert 'data-single="1"' in page and "Prompts with a single distinct answer" in page
    detail = client.get(f"/console/alpha/tasks/{task.pk}/").content.decode()
    assert "also from: same-model · west" in detail
    assert api_as("project_admin").get(f"/api/v1/sampling-runs/{run.pk}").json()["prompts_single_answer"] == 1
    dashboard = client.get("/label/alpha/dashboard/").content.decode()  # two endpoints of one model stay apart
    assert 'data-endpoint="east"><code>east</code> (same-model) 4' in dashboard
    assert 'data-endpoint="west"><code>west</code> (same-model) 4' in dashboard

    (labeler,) = labelers(1)
    client.force_login(labeler)
    rank = start_ranking(client).content.decode()
    assert rank.count('class="completion card"') == 3 and "Same text as" not in rank


def write(tmp_path, name, rows):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    return path


def test_import_merges_identical_answers_across_model_files(project, tmp_path):
    answers = {"model-a": ("Same answer.", "x"), "model-b": ("Same  answer. ", "x"), "model-c": ("Other.", " x")}
    paths = [
        write(tmp_path, f"{model}.jsonl", [{"prompt": "p1", "completion": p1}, {"prompt": "p2", "completion": p2}])
        for model, (p1, p2) in answers.items()
    ]
    summary = import_completions(project=project, paths=paths)
    assert summary.tasks_created == 1 and summary.prompts_single_answer == 1 and summary.completions_merged == 3
    (task,) = RankingTask.objects.all()
    assert task.prompt.instruction == "p1" and task.k == 2
    kept = Completion.objects.get(pk__in=task.completion_ids, model="model-a")
    assert [c.model for c in kept.duplicates.all()] == ["model-b"]


def test_a_flagged_ranking_reads_flagged_on_the_task_page(client, cast, project, make_tasks, labelers):
    (task,) = make_tasks(1, k=2, overlap=2)
    first, second = labelers(2)
    submit_ranking(task=claim_next_ranking_task(project=project, labeler=first).task, labeler=first, flag="bad_prompt")
    claim_next_ranking_task(project=project, labeler=second)
    client.force_login(cast["project_admin"])
    row = client.get(f"/console/alpha/tasks/{task.pk}/").content.decode().split('data-labeler="ranker0"')[1]
    row = row.split("</tr>")[0]
    assert "flagged" in row and "skipped" not in row and "Bad prompt" in row
