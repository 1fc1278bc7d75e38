"""Reads for training jobs, scoped to the caller's projects: jobs, their metrics series and artifact files."""

from __future__ import annotations

from pathlib import Path

from django.db.models import QuerySet
from django.http import Http404

from projects.models import DATA_ROLES
from projects.selectors import projects_for_user
from training.models import EvaluationRun, TrainingJob, TrainingMetric
from training.paths import base_model_label, job_dir, redact_paths

ARTIFACT_TOP = ("result.json", "config.json", "job.json", "training_args.json", "metrics.json", "loss.png", "train.log")


def jobs_for_user(*, user) -> QuerySet[TrainingJob]:
    return TrainingJob.objects.filter(project__in=projects_for_user(user=user, roles=DATA_ROLES)).select_related(
        "project", "dataset_version"
    )


def evaluations_for_user(*, user) -> QuerySet[EvaluationRun]:
    return EvaluationRun.objects.filter(project__in=projects_for_user(user=user, roles=DATA_ROLES)).select_related(
        "project", "model_endpoint", "judge_endpoint"
    )


EVALUATION_COLUMNS = (
    "category",
    "judged",
    "model_score",
    "reference_score",
    "relative_score",
    "wins",
    "ties",
    "losses",
    "position_bias_rate",
)


def evaluation_rows(results: dict) -> list[dict]:
    """An evaluation's table rows: one per category, then the overall row (for the CLI and the admin page)."""
    return [*results.get("categories", []), {"category": "overall", **results.get("overall", {})}]


def get_job_for_user(*, user, job_id: int) -> TrainingJob:
    job = jobs_for_user(user=user).filter(pk=job_id).first()
    if job is None:
        raise Http404("No such training job.")
    return job


def metric_series(*, job: TrainingJob) -> dict[str, list[tuple[int, float]]]:
    """{"loss": [(step, value), …], "eval_loss": […], …} in step order."""
    series: dict[str, list[tuple[int, float]]] = {}
    for step, values in TrainingMetric.objects.filter(job=job).values_list("step", "values"):
        for key, value in values.items():
            series.setdefault(key, []).append((step, value))
    return series


def artifacts(*, job: TrainingJob) -> list[dict]:
    """The job's files a user may download: the model folder, the adapter (LoRA), config, metrics, plot, log."""
    folder = job_dir(job)
    found = []
    for name in ARTIFACT_TOP:
        if (folder / name).is_file():
            found.append(name)
    for sub in ("model", "adapter"):
        if (folder / sub).is_dir():
            found += sorted(f"{sub}/{p.name}" for p in (folder / sub).iterdir() if p.is_file())
    return [{"name": name, "bytes": _served_size(folder / name)} for name in found]


# Text artifacts are served with server paths replaced (training.paths.redact_paths): configs and logs name the
# job folder, the base model's folder and the Python install. Larger files (weights, big tokenizers) go as they are.
REDACTED_SUFFIXES = (".json", ".log", ".txt", ".jinja", ".md", ".yaml", ".yml")
REDACT_MAX_BYTES = 4 * 1024 * 1024


def _redacted(path: Path) -> bool:
    return path.suffix in REDACTED_SUFFIXES and path.stat().st_size <= REDACT_MAX_BYTES


def _served_size(path: Path) -> int:
    return len(artifact_text(path).encode()) if _redacted(path) else path.stat().st_size


def artifact_text(path: Path) -> str:
    return redact_paths(path.read_text(encoding="utf-8", errors="replace"))


def artifact_path(*, job: TrainingJob, name: str) -> Path:
    if name not in {a["name"] for a in artifacts(job=job)}:
        raise Http404("No such artifact.")
    return job_dir(job) / name


def artifact_content(*, job: TrainingJob, name: str) -> tuple[Path, bytes | None]:
    """(path, content): content is the redacted text for text artifacts, None for files served as they are."""
    path = artifact_path(job=job, name=name)
    return path, (artifact_text(path).encode() if _redacted(path) else None)


def _version_summary(version) -> dict:
    return {
        "id": version.pk,
        "kind": version.kind,
        "number": version.number,
        "content_hash": version.content_hash,
        "lineage": version.lineage,
    }


def lineage(*, job: TrainingJob) -> dict:
    """Where a model came from: its dataset version (whose lineage names the batches, templates, endpoints, seeds,
    labelers, models and sampling runs behind the rows), its base model, and the earlier rounds it was trained on
    top of (base_job, then that job's base_job, …), oldest last."""
    rounds, seen, ancestor = [], {job.pk}, job.base_job
    while ancestor is not None and ancestor.pk not in seen and len(rounds) < 50:
        seen.add(ancestor.pk)
        rounds.append(
            {
                "job": ancestor.pk,
                "kind": ancestor.kind,
                "status": ancestor.status,
                "base_model": base_model_label(ancestor.base_model),
                "dataset_version": _version_summary(ancestor.dataset_version),
            }
        )
        ancestor = ancestor.base_job
    return {
        "dataset_version": _version_summary(job.dataset_version),
        "base_model": base_model_label(job.base_model),
        "base_job": job.base_job_id,
        "earlier_rounds": rounds,
    }


def get_job_by_id(*, job_id: int) -> TrainingJob | None:
    """Unscoped lookup for admin-side tools (management commands); never use it to answer a user request."""
    return TrainingJob.objects.select_related("project", "dataset_version").filter(pk=job_id).first()
