"""Models from the console: the project's trained models with what each can do next (register a running server
as job-<id>, only at an allowed host; score with a reward model), an evaluation started from an uploaded prompt set
whose page shows the results table per category, and a judge run; all live while they run."""

import io

from annotation.models import JudgeRun
from core.lifecycle import RunStatus
from llm.models import LLMEndpoint
from tests.annotation.conftest import labelers, make_tasks  # noqa: F401 - shared fixtures
from tests.training.conftest import sft_version  # noqa: F401 - shared fixture
from training.evaluations import run_evaluation
from training.models import EvaluationRun, ScoringRun, TrainingJob

STORED = {"files": {"model/config.json": 2}}  # what the artifact manifest says of an uploaded model


def _upload(name: str, text: str):
    handle = io.BytesIO(text.encode())
    handle.name = name
    return handle


def test_models_served_scored_evaluated_judged(client, cast, project, sft_version, endpoint, make_tasks, settings):  # noqa: F811
    settings.PROJECT_ENDPOINT_HOSTS = ["127.0.0.1"]
    done = {"status": RunStatus.SUCCEEDED, "artifacts": STORED, "base_model": "x", "dataset_version": sft_version}
    sft = TrainingJob.objects.create(project=project, kind="sft", results={"eval_loss": 1.23456789}, **done)
    reward = TrainingJob.objects.create(project=project, kind="reward", **done)
    make_tasks(2, k=2)
    client.force_login(cast["project_admin"])
    page = client.get("/console/alpha/models/").content.decode()
    assert f'data-job="{sft.pk}"' in page and "1.235" in page
    # the command the page prints is one serve_model accepts (it printed `--job N`, which it refused)
    import re
    import shlex

    from training.management.commands.serve_model import Command as ServeModel

    printed = re.search(r"manage\.py (serve_model [^<]*)</code>", page).group(1)
    name, *args = shlex.split(printed)
    assert ServeModel().create_parser("manage.py", name).parse_args(args).job_id == sft.pk
    key = "k-" + "x" * 30
    refused = client.post(
        f"/console/alpha/models/{sft.pk}/serve", {"base_url": "http://10.1.1.1:8100/v1", "api_key": key}, follow=True
    )
    assert (
        "not one a site admin allowed" in refused.content.decode()
        and not LLMEndpoint.objects.filter(name=f"job-{sft.pk}").exists()
    )
    keyless = client.post(
        f"/console/alpha/models/{sft.pk}/serve", {"base_url": "http://127.0.0.1:8100/v1"}, follow=True
    )
    assert "api_key:" in keyless.content.decode() and not LLMEndpoint.objects.filter(name=f"job-{sft.pk}").exists()
    client.post(f"/console/alpha/models/{sft.pk}/serve", {"base_url": "http://127.0.0.1:8100/v1", "api_key": key})
    served = LLMEndpoint.objects.get(name=f"job-{sft.pk}")
    assert served.project == project and served.base_url == "http://127.0.0.1:8100/v1" and served.served_key == key
    wrong = client.post(
        f"/console/alpha/models/{reward.pk}/serve",
        {"base_url": "http://127.0.0.1:8100/v1", "api_key": key},
        follow=True,
    )
    assert "only SFT, DPO and KTO models generate text" in wrong.content.decode()
    client.post(f"/console/alpha/models/{reward.pk}/score")
    scoring = ScoringRun.objects.get()
    assert scoring.job == reward and scoring.completions_total == 4
    live = client.get("/console/alpha/models/").content.decode()
    assert 'hx-trigger="every 3s"' in live and f'data-served="job-{sft.pk}"' in live  # a queued run: it polls
    assert key not in live and key not in client.get("/console/alpha/endpoints/").content.decode()
    prompts = (
        '{"question": "Name a colour.", "reference": "Blue.", "category": "easy"}\n{"question": "x", "reference": ""}\n'
    )
    bad = client.post(
        "/console/alpha/evaluations/new",
        {
            "model_endpoint": endpoint.name,
            "judge_endpoint": endpoint.name,
            "max_tokens": 64,
            "prompts": _upload("set.jsonl", "{oops\n"),
        },
    )
    assert bad.status_code == 400 and "set.jsonl: line 1" in bad.content.decode()
    made = client.post(
        "/console/alpha/evaluations/new",
        {
            "model_endpoint": endpoint.name,
            "judge_endpoint": endpoint.name,
            "max_tokens": 64,
            "prompts": _upload("set.jsonl", prompts),
        },
    )
    assert made.status_code == 302, made.content.decode()[-3000:]
    run = EvaluationRun.objects.get()
    assert made.status_code == 302 and made["Location"] == f"/console/alpha/evaluations/{run.pk}/"
    assert run.items_total == 1 and run.prompt_set == "set.jsonl"  # the prompt without a reference left out
    run_evaluation(run_id=run.pk)  # as a worker would
    result = client.get(made["Location"]).content.decode()
    assert (
        'data-status="succeeded"' in result and 'data-category="easy"' in result and 'data-category="overall"' in result
    )
    assert "Name a colour." in result and "hx-trigger" not in result
    judged = client.post("/console/alpha/judge-runs/new", {"endpoint": endpoint.name, "limit": 1})
    assert judged.status_code == 302 and JudgeRun.objects.get().task_ids.__len__() == 1
    none_ranked = client.post("/console/alpha/judge-runs/new", {"endpoint": endpoint.name, "only_ranked": "on"})
    assert none_ranked.status_code == 400 and "no ranking tasks to judge" in none_ranked.content.decode()
    judge_run = JudgeRun.objects.get()
    client.post(f"/console/alpha/judge-runs/{judge_run.pk}/cancel")
    judge_run.refresh_from_db()
    assert judge_run.status == RunStatus.CANCELLED
    EvaluationRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error="worker lost")
    assert 'id="resume-evaluation"' in client.get(made["Location"]).content.decode()
    client.post(f"/console/alpha/evaluations/{run.pk}/resume")
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and run.error == ""
    client.force_login(cast["other_admin"])
    assert client.get(f"/console/beta/evaluations/{run.pk}/").status_code == 404
    client.post(f"/console/beta/models/{reward.pk}/score")
    assert ScoringRun.objects.count() == 1


def test_triggers_train_automatically_and_refuse_a_server_path(client, cast, project, settings, tmp_path):
    from training.models import TrainingTrigger

    (tmp_path / "models" / "tiny").mkdir(parents=True)
    (tmp_path / "models" / "tiny" / "config.json").write_text("{}")
    settings.TRAINING_MODEL_ROOTS = [str(tmp_path / "models")]
    client.force_login(cast["project_admin"])
    refused = client.post(
        "/console/alpha/triggers/", {"kind": "sft", "base_model": "/etc", "method": "full"}, follow=True
    )
    assert "base model" in refused.content.decode().lower() and not TrainingTrigger.objects.exists()
    bad = client.post("/console/alpha/triggers/", {"kind": "sft", "base_model": "tiny", "method": "full", "epochs": -1})
    assert bad.status_code == 302 and not TrainingTrigger.objects.exists()
    client.post("/console/alpha/triggers/", {"kind": "reward", "base_model": "tiny", "method": "lora", "epochs": 2})
    trigger = TrainingTrigger.objects.get()
    assert (trigger.project, trigger.kind, trigger.base_model, trigger.hyperparameters) == (
        project,
        "reward",
        "tiny",
        {"epochs": 2.0},
    )
    page = client.get("/console/alpha/training/").content.decode()
    assert f'data-trigger="{trigger.pk}"' in page
    client.post(f"/console/alpha/triggers/{trigger.pk}/disable")
    trigger.refresh_from_db()
    assert not trigger.enabled
    client.force_login(cast["other_admin"])
    client.post(f"/console/beta/triggers/{trigger.pk}/delete")  # beta's admin: not beta's trigger
    assert TrainingTrigger.objects.filter(pk=trigger.pk).exists()
    client.force_login(cast["project_admin"])
    client.post(f"/console/alpha/triggers/{trigger.pk}/delete")
    assert not TrainingTrigger.objects.exists()
