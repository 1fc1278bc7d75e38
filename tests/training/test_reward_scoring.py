"""Scoring completions with a trained reward model: the text is built as TRL's RewardTrainer builds it, scores are
batched and stored per completion, reruns score only what is missing, and the run is reachable from the API, the
CLI and the admin."""

import pytest
from django.core.management import call_command
from django.test import Client

from annotation.models import RankingTask, RewardScore
from core.lifecycle import RunStatus
from tests.annotation.conftest import labelers, make_tasks  # noqa: F401 - shared fixtures
from tests.training.conftest import preference_version, tiny_base  # noqa: F401 - shared fixtures
from training.models import JobKind, ScoringRun, TrainingJob
from training.reward_scoring import run_reward_scoring, start_reward_scoring
from training.services import TrainingJobError, model_dir


def direct_score(job, prompt, text):
    """The reward TRL's RewardTrainer trains for a non-conversational (prompt, completion): prompt + completion +
    EOS, tokenized as one text, the head's output at the last non-pad token."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir(job))
    model = AutoModelForSequenceClassification.from_pretrained(model_dir(job), num_labels=1).eval()
    model.config.pad_token_id = tokenizer.pad_token_id
    ids = tokenizer(prompt + text + tokenizer.eos_token, return_tensors="pt")
    with torch.no_grad():
        return float(model(**ids).logits[0, 0])


def test_scores_match_the_models_own_reward_and_every_task_gets_the_rm_order(project, reward_job):
    run = start_reward_scoring(job=reward_job)
    total = RankingTask.objects.filter(project=project).count() * 3
    assert run.completions_total == total and run.status == RunStatus.QUEUED
    run_reward_scoring(run_id=run.pk)
    run.refresh_from_db()
    assert (run.status, run.completions_scored, run.tasks_updated) == (RunStatus.SUCCEEDED, total, total // 3)
    assert RewardScore.objects.filter(job_id=reward_job.pk).count() == total
    sample = RewardScore.objects.select_related("completion__prompt").order_by("id")[4]
    prompt = sample.completion.prompt
    assert sample.score == pytest.approx(direct_score(reward_job, prompt.instruction, sample.completion.text), abs=1e-4)
    for task in RankingTask.objects.filter(project=project):
        scores = dict(
            RewardScore.objects.filter(completion_id__in=task.completion_ids).values_list("completion_id", "score")
        )
        assert task.rm_job_id == reward_job.pk and task.rm_order == sorted(scores, key=lambda c: -scores[c])
        ordered = sorted(scores.values())
        assert task.rm_margin == pytest.approx(min(b - a for a, b in zip(ordered, ordered[1:], strict=False)))


def test_a_rerun_scores_only_what_is_missing(project, reward_job):
    run_reward_scoring(run_id=start_reward_scoring(job=reward_job).pk)
    kept = dict(RewardScore.objects.values_list("completion_id", "score"))
    RewardScore.objects.filter(completion_id__in=list(kept)[:5]).delete()  # as if the worker died mid-run
    second = start_reward_scoring(job=reward_job)
    assert second.completions_total == 5
    run_reward_scoring(run_id=second.pk)
    run_reward_scoring(run_id=second.pk)  # a redelivered message finds the run claimed: nothing happens
    second.refresh_from_db()
    assert second.completions_scored == 5
    assert dict(RewardScore.objects.values_list("completion_id", "score")) == pytest.approx(kept, abs=1e-5)


def test_only_succeeded_reward_jobs_score_and_one_run_at_a_time(project, reward_job, preference_version):  # noqa: F811
    sft = TrainingJob.objects.create(
        project=project,
        dataset_version=preference_version,
        kind=JobKind.SFT,
        base_model="x",
        status=RunStatus.SUCCEEDED,
    )
    with pytest.raises(TrainingJobError, match="only reward models score"):
        start_reward_scoring(job=sft)
    TrainingJob.objects.filter(pk=reward_job.pk).update(status=RunStatus.RUNNING)
    reward_job.refresh_from_db()
    with pytest.raises(TrainingJobError, match="is running, not succeeded"):
        start_reward_scoring(job=reward_job)
    TrainingJob.objects.filter(pk=reward_job.pk).update(status=RunStatus.SUCCEEDED)
    reward_job.refresh_from_db()
    start_reward_scoring(job=reward_job)
    with pytest.raises(TrainingJobError, match="already has a scoring run queued or running"):
        start_reward_scoring(job=reward_job)


def test_a_run_whose_worker_died_goes_back_to_the_queue(project, reward_job, monkeypatch, settings):
    from datetime import timedelta

    from django.utils import timezone

    from core import lifecycle
    from training.tasks import score_completions_task

    settings.TRAINING_STALE_SECONDS = 120
    sent = []
    monkeypatch.setattr(score_completions_task, "apply_async", lambda args, **options: sent.append(args[0]))
    run = start_reward_scoring(job=reward_job)
    lifecycle.claim(lifecycle.kind("scoring"), run.pk)  # a worker took it, then died
    ScoringRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    assert lifecycle.reconcile()["scoring"] == 1 and sent == [run.pk]
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
    assert lifecycle.reconcile()["scoring"] == 0  # queued and fresh: left alone
    run_reward_scoring(run_id=run.pk)
    assert ScoringRun.objects.get(pk=run.pk).status == RunStatus.SUCCEEDED


def test_a_missing_model_fails_the_run_with_the_reason(project, reward_job):
    import shutil

    run = start_reward_scoring(job=reward_job)
    shutil.rmtree(model_dir(reward_job))
    run_reward_scoring(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "its model is not in storage" in run.error


def test_scoring_from_the_api_the_cli_and_the_admin(project, reward_job, api_as, cast, capsys):
    refused = api_as("consumer").post(f"/api/v1/training-jobs/{reward_job.pk}/scoring")
    assert refused.status_code == 403 and "only project admins" in refused.json()["detail"]
    response = api_as("admin").post(f"/api/v1/training-jobs/{reward_job.pk}/scoring")
    assert response.status_code == 201 and response.json()["status"] == "queued"
    run_reward_scoring(run_id=response.json()["id"])
    listed = api_as("consumer").get(f"/api/v1/training-jobs/{reward_job.pk}/scoring").json()
    assert listed[0]["status"] == "succeeded" and listed[0]["tasks_updated"] > 0
    RewardScore.objects.all().delete()
    call_command("score_completions", str(reward_job.pk), "--inline")
    out = capsys.readouterr().out
    assert f"run {ScoringRun.objects.first().pk} succeeded" in out and RewardScore.objects.exists()
    admin = Client()
    admin.force_login(cast["admin"])
    page = admin.get(f"/admin/training/trainingjob/{reward_job.pk}/change/").content.decode()
    assert "Score the project's completions" in page and "tasks ordered" in page
    RewardScore.objects.all().delete()
    assert admin.post(f"/admin/training/trainingjob/{reward_job.pk}/score/").status_code == 302
    assert ScoringRun.objects.filter(status=RunStatus.QUEUED).count() == 1
