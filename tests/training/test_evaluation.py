"""Evaluating a model against reference answers with the LLM judge: prompt sets (BELLE eval set as is), both
orders per item, the per-category table, resumable runs, and the CLI/API."""

import json
import re

import pytest
from django.core.management import call_command

from core.lifecycle import RunStatus
from llm.models import LLMRequest
from training.evalsets import EvalSetError, read_eval_set, sample_per_category, with_reference
from training.evaluations import evaluation_table, resume_evaluation, run_evaluation, start_evaluation
from training.models import EvaluationItem, EvaluationRun
from training.services import TrainingJobError

BELLE_ROWS = [
    {"question": "把这句话翻译成英文：我喜欢喝茶。", "std_answer": "I like drinking tea.", "class": "rewrite"},
    {"question": "列出三种水果。", "std_answer": "苹果、香蕉、橙子。", "class": "brainstorming"},
    {"question": "太阳从哪边升起？", "std_answer": "东边。", "class": "closed\xa0qa"},
    {"question": "写一句关于大海的诗。", "std_answer": "海风吹过千层浪。", "class": "generation"},
    {"question": "列出两种颜色。", "std_answer": "红色和蓝色。", "class": "brainstorming"},
    {"question": "写一首关于春天的诗。", "std_answer": "", "class": "generation"},  # as in the real set
]


@pytest.fixture
def belle_file(tmp_path):
    path = tmp_path / "eval_set.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in BELLE_ROWS) + "\n", encoding="utf-8")
    return path


def test_the_belle_eval_set_reads_as_is_and_categories_are_normalized(belle_file, tmp_path):
    items, left_out = with_reference(read_eval_set(belle_file))
    assert left_out == 1
    assert [i["category"] for i in items] == ["rewrite", "brainstorming", "closed qa", "generation", "brainstorming"]
    assert items[0] == {
        "question": BELLE_ROWS[0]["question"],
        "reference": "I like drinking tea.",
        "category": "rewrite",
    }
    assert [i["category"] for i in sample_per_category(items, 1)] == [
        "rewrite",
        "brainstorming",
        "closed qa",
        "generation",
    ]
    alpaca = tmp_path / "alpaca.json"
    alpaca.write_text(json.dumps([{"instruction": "Add", "input": "2 and 3", "output": "5", "category": "math"}]))
    assert read_eval_set(alpaca) == [{"question": "Add\n\n2 and 3", "reference": "5", "category": "math"}]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"question": "q", "std_answer": "a"}\n{"question": "q2"}\n', "line 2: no reference answer"),
        ('{"question": "q", "std_answer": 3}\n', "line 1: no reference answer"),
        ('{"std_answer": "a"}\n', "line 1: no prompt"),
        ('{"question": "q", "std_answer": "a"}\n{oops\n', "line 2: invalid JSON"),
        ("[1]", "line 1: expected a JSON object"),
        ('[{"question": "q", "std_answer": "a"},\n {"question": "q2", "std_answer": 7}]', "line 2: no reference"),
        ('{"question": ' + "[" * 100 + "]" * 100 + "}", "line 1: .*nested more than 32 levels"),
        ('{"question": "a\\u0000b", "std_answer": "a"}', "line 1: .*NUL"),
        ("", "the file is empty"),
        ("\n\n", "no prompts"),
    ],
)
def test_bad_prompt_sets_name_the_line(tmp_path, content, message):
    """The evaluation-set reader is the one JSON reader (core.jsonfiles): the same guards as seeds and completions."""
    path = tmp_path / "set.jsonl"
    path.write_text(content)
    with pytest.raises(EvalSetError, match=message):
        read_eval_set(path)


def test_an_evaluation_answers_judges_both_orders_and_tabulates_per_category(project, endpoint, teacher, belle_file):
    run = start_evaluation(
        project=project,
        model_endpoint=endpoint,
        judge_endpoint=endpoint,
        items=with_reference(read_eval_set(belle_file))[0],
        prompt_set=belle_file.name,
    )
    run_evaluation(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and (run.items_done, run.items_failed) == (5, 0)
    purposes = list(LLMRequest.objects.filter(ok=True).values_list("purpose", flat=True))
    assert purposes.count("evaluation") == 5 and purposes.count("judge") == 10  # one answer + two orders each
    items = list(EvaluationItem.objects.filter(run=run))
    for item in items:
        verdicts = item.verdicts
        assert item.answer and item.model_score == (verdicts["order_ab"][0] + verdicts["order_ba"][0]) / 2
        assert item.reference_score == (verdicts["order_ab"][1] + verdicts["order_ba"][1]) / 2
    table = run.results
    by_name = {row["category"]: row for row in table["categories"]}
    assert sorted(by_name) == ["brainstorming", "closed qa", "generation", "rewrite"]
    brainstorming = [i for i in items if i.category == "brainstorming"]
    assert by_name["brainstorming"]["judged"] == 2
    assert by_name["brainstorming"]["model_score"] == round(sum(i.model_score for i in brainstorming) / 2, 3)
    overall = table["overall"]
    assert overall["judged"] == 5 and overall["wins"] + overall["ties"] + overall["losses"] == 5
    assert overall["relative_score"] == round(overall["model_score"] / overall["reference_score"], 3)
    assert overall["position_bias_rate"] == round(sum(i.flipped for i in items) / 5, 3)


def test_a_failed_item_is_reported_and_a_resumed_run_keeps_the_done_ones(project, endpoint, teacher, belle_file):
    run = start_evaluation(
        project=project,
        model_endpoint=endpoint,
        judge_endpoint=endpoint,
        items=read_eval_set(belle_file)[:2],
        prompt_set="x",
    )
    with pytest.raises(TrainingJobError, match="prompts.1: a prompt needs a question and a reference"):
        start_evaluation(
            project=project,
            model_endpoint=endpoint,
            judge_endpoint=endpoint,
            prompt_set="x",
            items=[{"question": "q", "reference": "r"}, {"question": "q", "reference": ""}],
        )
    teacher.faults(queue=["500"] * 4)  # the first item's answer fails through every attempt
    run_evaluation(run_id=run.pk)
    run.refresh_from_db()
    assert (run.status, run.items_done, run.items_failed) == (RunStatus.SUCCEEDED, 1, 1)
    assert "server_error" in run.error and run.results["overall"]["judged"] == 1
    assert resume_evaluation(run=run) == 1  # the real resume path: the failed item is tried again, the judged kept
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and run.error == "" and run.finished_at is None
    before = LLMRequest.objects.count()
    run_evaluation(run_id=run.pk)
    run.refresh_from_db()
    assert (run.items_done, run.items_failed) == (2, 0) and LLMRequest.objects.count() - before == 3


def test_the_table_of_nothing_judged():
    assert evaluation_table([]) == {"categories": [], "overall": {"items": 0, "judged": 0}}


def test_evaluations_from_the_cli_and_the_api(
    project, endpoint, teacher, belle_file, api_as, capsys, django_capture_on_commit_callbacks, monkeypatch
):
    with django_capture_on_commit_callbacks() as enqueued:
        call_command(
            "evaluate_model",
            "--project",
            "alpha",
            "--model",
            "teach",
            "--judge",
            "teach",
            "--prompts",
            str(belle_file),
            "--per-category",
            "1",
            "--inline",
        )
    assert not enqueued  # --inline runs here: no worker is sent the same run
    out = capsys.readouterr().out
    assert re.search(r"evaluation \d+: 4 prompt\(s\)", out) and "relative_score" in out and "closed qa" in out
    assert out.strip().splitlines()[-1].startswith("overall")
    consumer, admin = api_as("consumer"), api_as("project_admin")  # admins start (LLM budget), consumers read
    body = {
        "project": "alpha",
        "model_endpoint": "teach",
        "judge_endpoint": "teach",
        "prompts": [{"question": "Name a colour.", "reference": "Blue.", "category": "open qa"}],
    }
    assert consumer.post("/api/v1/evaluations/", body, format="json").status_code == 403
    response = admin.post("/api/v1/evaluations/", body, format="json")
    assert response.status_code == 201 and response.json()["items_total"] == 1
    run_evaluation(run_id=response.json()["id"])
    detail = consumer.get(f"/api/v1/evaluations/{response.json()['id']}").json()
    assert detail["status"] == "succeeded" and detail["results"]["categories"][0]["category"] == "open qa"
    bad = admin.post("/api/v1/evaluations/", {**body, "judge_endpoint": "nope"}, format="json")
    assert bad.status_code == 400 and "judge_endpoint: no endpoint named 'nope'" in bad.json()["detail"]
    assert api_as("other_consumer").get(f"/api/v1/evaluations/{response.json()['id']}").status_code == 404


def test_waiting_without_a_worker_ends_at_the_timeout_with_the_reason(project, endpoint, belle_file):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"evaluation run \d+ still queued after 1s — is a worker running\?"):
        call_command(
            "evaluate_model",
            "--project",
            "alpha",
            "--model",
            "teach",
            "--judge",
            "teach",
            "--prompts",
            str(belle_file),
            "--limit",
            "1",
            "--wait",
            "--timeout",
            "1",
        )
    assert EvaluationRun.objects.get().status == RunStatus.QUEUED  # queued work is kept, not lost


def test_evaluations_are_sent_to_the_default_queue_not_the_gpu_queue(monkeypatch, settings):
    """LLM calls only: an evaluation must not wait behind (or block) training on the one-at-a-time GPU queue."""
    from training import evaluations
    from training.tasks import evaluation_task

    sent = []
    monkeypatch.setattr(evaluation_task, "apply_async", lambda args, **options: sent.append((args, options)))
    evaluations.send_evaluation(7)
    assert sent == [((7,), {"queue": settings.CELERY_TASK_DEFAULT_QUEUE})]
    assert settings.CELERY_TASK_DEFAULT_QUEUE != settings.TRAINING_QUEUE


def test_prompt_sets_with_a_bom_read_and_oversized_ones_are_refused(tmp_path, monkeypatch):
    from training import evalsets

    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"question": "q", "std_answer": "a"}\n')
    assert read_eval_set(path) == [{"question": "q", "reference": "a", "category": ""}]
    monkeypatch.setattr(evalsets, "MAX_EVAL_FILE_BYTES", 10)
    with pytest.raises(EvalSetError, match="the limit is 10"):
        read_eval_set(path)
