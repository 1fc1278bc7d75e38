"""Reads for the project admin's console on the model side: the project's trained models with what each can do
next (serve, score, evaluate), and its scoring and evaluation runs."""

from __future__ import annotations

from django.db.models import QuerySet

from training.models import EvaluationItem, EvaluationRun, ScoringRun, TrainingJob
from training.selectors import EVALUATION_COLUMNS, evaluation_rows

ACTIVE = ("queued", "running")


def trained_models(*, project) -> list[TrainingJob]:
    """The project's succeeded jobs, newest first, each with its served endpoint (job-<id> when registered) and
    its newest scoring run (reward models)."""
    from llm.models import LLMEndpoint

    succeeded = TrainingJob.objects.filter(project=project, status="succeeded")
    jobs = list(succeeded.select_related("dataset_version").order_by("-id"))
    served = {e.name: e for e in LLMEndpoint.objects.filter(project=project, name__in=[f"job-{j.pk}" for j in jobs])}
    latest: dict[int, ScoringRun] = {}
    for run in ScoringRun.objects.filter(job__in=jobs).order_by("job_id", "-id"):
        latest.setdefault(run.job_id, run)
    for job in jobs:
        job.served = served.get(f"job-{job.pk}")
        job.latest_scoring = latest.get(job.pk)
    return jobs


def evaluations_of_project(*, project) -> QuerySet[EvaluationRun]:
    return (
        EvaluationRun.objects.filter(project=project)
        .select_related("model_endpoint", "judge_endpoint", "job")
        .order_by("-id")
    )


def get_project_evaluation(*, project, run_id: int) -> EvaluationRun | None:
    return evaluations_of_project(project=project).filter(pk=run_id).first()


def evaluation_page(*, run: EvaluationRun, items: int = 50) -> dict:
    """An evaluation's table (per category and overall) and its first judged items, readable."""
    return {
        "columns": EVALUATION_COLUMNS,
        "rows": [[row.get(c) for c in EVALUATION_COLUMNS] for row in evaluation_rows(run.results)]
        if run.results
        else [],
        "items": EvaluationItem.objects.filter(run=run, done=True).order_by("number")[:items],
    }


def scoring_runs_of_project(*, project) -> QuerySet[ScoringRun]:
    return ScoringRun.objects.filter(job__project=project).select_related("job").order_by("-id")


def any_active(*querysets) -> bool:
    return any(qs.filter(status__in=ACTIVE).exists() for qs in querysets)


def triggers_of_project(*, project) -> QuerySet:
    from training.models import TrainingTrigger

    return TrainingTrigger.objects.filter(project=project).order_by("id")


def evaluations_of_job(*, job: TrainingJob, limit: int = 20) -> list[EvaluationRun]:
    return list(
        EvaluationRun.objects.filter(job=job).select_related("model_endpoint", "judge_endpoint").order_by("-id")[:limit]
    )


def difficulty_runs_of_project(*, project) -> QuerySet:
    from training.models import DifficultyRun

    return DifficultyRun.objects.filter(project=project).order_by("-id")


def language_models(*, project) -> list[TrainingJob]:
    """The project's succeeded jobs whose model writes text (what can score difficulty), newest first."""
    from training.difficulty import SCORING_KINDS

    return list(TrainingJob.objects.filter(project=project, status="succeeded", kind__in=SCORING_KINDS).order_by("-id"))
