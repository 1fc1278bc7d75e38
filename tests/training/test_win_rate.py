"""A round's win-rate: the round's served model against the model it started from on the held-out prompts of its
dataset version, judged in both orders; win/tie/loss with a 95% Wilson interval; shown in the job's lineage, and
started from the API, the CLI and the console."""

import io
from contextlib import redirect_stdout

import pytest
from django.core.management import call_command

from core.lifecycle import RunStatus
from llm.services import create_endpoint
from training.evaluations import run_evaluation, start_round_evaluation, win_rate
from training.models import EvaluationRun, TrainingJob
from training.selectors import lineage
from training.services import TrainingJobError

STORED = {"files": {"model/config.json": 2}}


@pytest.fixture
def rounds(project, sft_version, teacher):
    done = {"status": RunStatus.SUCCEEDED, "artifacts": STORED, "dataset_version": sft_version, "kind": "sft"}
    first = TrainingJob.objects.create(project=project, base_model="x", **done)
    second = TrainingJob.objects.create(project=project, base_job=first, base_model="x", **done)
    return first, second


def test_a_round_is_compared_with_the_model_it_started_from(project, rounds, endpoint, teacher):
    first, second = rounds
    with pytest.raises(TrainingJobError, match=f"serve job-{second.pk} first"):
        start_round_evaluation(job=second, judge_endpoint=endpoint)
    create_endpoint(name=f"job-{second.pk}", base_url=teacher.url, model="demo-teacher", project=project)
    with pytest.raises(TrainingJobError, match=f"serve job-{first.pk}"):
        start_round_evaluation(job=second, judge_endpoint=endpoint)
    create_endpoint(name=f"job-{first.pk}", base_url=teacher.url, model="demo-teacher", project=project)
    with pytest.raises(TrainingJobError, match="name the model to beat"):
        create_endpoint(name=f"job-{first.pk}x", base_url=teacher.url, model="m", project=project)
        start_round_evaluation(job=first, judge_endpoint=endpoint)
    run = start_round_evaluation(job=second, judge_endpoint=endpoint, limit=3, enqueue=False)
    assert run.opponent_endpoint.name == f"job-{first.pk}" and run.items_total == min(
        3, second.dataset_version.test_rows
    )
    run_evaluation(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and all(item.reference for item in run.items.all())  # the opponent's
    overall = run.results["overall"]
    low, high = overall["win_rate_ci"]
    assert 0 <= low <= overall["win_rate"] <= high <= 1
    shown = lineage(job=second)["win_rate"]
    assert shown["evaluation"] == run.pk and shown["opponent"] == f"job-{first.pk}"
    assert shown["wins"] + shown["ties"] + shown["losses"] == overall["judged"]


def test_the_wilson_interval_of_a_win_rate():
    class Item:
        def __init__(self, model, reference):
            self.model_score, self.reference_score = model, reference

    assert win_rate([Item(8, 2)] * 10) == {"win_rate": 1.0, "win_rate_ci": [0.722, 1.0]}
    assert win_rate([Item(5, 5)] * 4) == {"win_rate": 0.5, "win_rate_ci": [0.15, 0.85]}  # ties count half
    assert win_rate([]) == {}


def test_the_win_rate_from_the_api_the_cli_and_the_console(project, rounds, endpoint, teacher, api_as, client, cast):
    first, second = rounds
    for job in rounds:
        create_endpoint(name=f"job-{job.pk}", base_url=teacher.url, model="demo-teacher", project=project)
    answer = api_as("project_admin").post(
        f"/api/v1/training-jobs/{second.pk}/win-rate", {"judge_endpoint": endpoint.name, "limit": 2}, format="json"
    )
    assert answer.status_code == 201 and answer.json()["opponent_endpoint"] == f"job-{first.pk}"
    missing = api_as("project_admin").post(f"/api/v1/training-jobs/{second.pk}/win-rate", {"judge_endpoint": "nope"})
    assert missing.status_code == 400 and "judge_endpoint" in missing.json()["detail"]
    out = io.StringIO()
    with redirect_stdout(out):
        call_command("win_rate", job=second.pk, judge=endpoint.name, limit=2, inline=True, stdout=out)
    assert "win_rate" in out.getvalue() and "overall" in out.getvalue()
    client.force_login(cast["project_admin"])
    page = client.get("/console/alpha/models/").content.decode()
    assert f'data-win-rate="{second.pk}"' in page and f'data-win-rate="{first.pk}"' not in page  # a first round
    made = client.post(f"/console/alpha/models/{second.pk}/win-rate", {"judge": endpoint.name})
    run = EvaluationRun.objects.order_by("-id").first()
    assert (
        made["Location"] == f"/console/alpha/evaluations/{run.pk}/" and run.opponent_endpoint.name == f"job-{first.pk}"
    )
    job_page = client.get(f"/console/alpha/training/{second.pk}/").content.decode()
    assert 'id="rounds"' in job_page and "data-win-rate=" in job_page  # the CLI's finished run
