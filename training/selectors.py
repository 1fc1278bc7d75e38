"""Reads for training jobs: jobs, their metrics series and artifact files. The API views narrow these querysets to
the project they resolved (projects.endpoints.ProjectEndpoint.in_project)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from django.db.models import QuerySet
from django.http import Http404

from core import storage
from training.models import DifficultyRun, EvaluationRun, ServingRun, TrainingJob, TrainingMetric
from training.paths import base_model_label, job_dir, job_prefix, redact_paths

ARTIFACT_TOP = ("result.json", "config.json", "job.json", "training_args.json", "metrics.json", "loss.png", "train.log")


def jobs() -> QuerySet[TrainingJob]:
    return TrainingJob.objects.select_related("project", "dataset_version")


def evaluations() -> QuerySet[EvaluationRun]:
    return EvaluationRun.objects.select_related("project", "model_endpoint", "judge_endpoint")


def difficulty_runs() -> QuerySet[DifficultyRun]:
    return DifficultyRun.objects.select_related("project")


def serving_runs() -> QuerySet[ServingRun]:
    """Newest first."""
    return ServingRun.objects.select_related("project", "endpoint").order_by("-pk")


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
    "win_rate",
    "win_rate_ci",
)


def evaluation_rows(results: dict) -> list[dict]:
    """An evaluation's table rows: one per category, then the overall row (for the CLI and the admin page)."""
    return [*results.get("categories", []), {"category": "overall", **results.get("overall", {})}]


def metric_series(*, job: TrainingJob) -> dict[str, list[tuple[int, float]]]:
    """{"loss": [(step, value), …], "eval_loss": […], …} in step order."""
    series: dict[str, list[tuple[int, float]]] = {}
    for step, values in TrainingMetric.objects.filter(job=job).values_list("step", "values"):
        for key, value in values.items():
            series.setdefault(key, []).append((step, value))
    return series


def artifacts(*, job: TrainingJob) -> list[dict]:
    """The job's files a user may download (the model folder, the adapter (LoRA), config, metrics, plot, log), as
    its manifest lists them in shared storage; jobs from before storage: what their folder on this disk holds."""
    manifest = job.artifacts or {}
    if "files" in manifest:
        names = [name for name in manifest["files"] if _listed(name)]
        return [{"name": name, "bytes": _served_size(job, name, manifest["files"][name])} for name in names]
    folder = job_dir(job)
    found = [name for name in ARTIFACT_TOP if (folder / name).is_file()]
    for sub in ("model", "adapter", "tensorboard"):
        if (folder / sub).is_dir():
            found += sorted(f"{sub}/{p.name}" for p in (folder / sub).iterdir() if p.is_file())
    return [{"name": name, "bytes": _served_size(job, name, (folder / name).stat().st_size)} for name in found]


def _listed(name: str) -> bool:
    top, _, rest = name.partition("/")
    return name in ARTIFACT_TOP or (top in ("model", "adapter", "tensorboard") and rest and "/" not in rest)


# Text artifacts are served with server paths replaced (training.paths.redact_paths): configs and logs name the
# job folder, the base model's folder and the Python install. Larger files (weights, big tokenizers) go as they are.
REDACTED_SUFFIXES = (".json", ".log", ".txt", ".jinja", ".md", ".yaml", ".yml")
REDACT_MAX_BYTES = 4 * 1024 * 1024


def _redacted(name: str, size: int) -> bool:
    return Path(name).suffix in REDACTED_SUFFIXES and size <= REDACT_MAX_BYTES


def _key(job: TrainingJob, name: str) -> str:
    return f"{job_prefix(job)}/{name}"


def _stored(job: TrainingJob) -> bool:
    return "files" in (job.artifacts or {})


def _served_size(job: TrainingJob, name: str, size: int) -> int:
    """The size a download will have (text artifacts are redacted); the recorded size when the file cannot be read
    now (removed from storage, the store down): the listing still shows, the download answers for itself."""
    if not _redacted(name, size):
        return size
    try:
        return len(_text(job, name).encode())
    except OSError:
        return size


def _text(job: TrainingJob, name: str) -> str:
    if _stored(job):
        return redact_paths(storage.read_text(_key(job, name), limit=REDACT_MAX_BYTES + 1))
    return redact_paths((job_dir(job) / name).read_text(encoding="utf-8", errors="replace"))


def artifact_content(*, job: TrainingJob, name: str) -> tuple[int, bytes | None, Iterator[bytes] | None]:
    """(size, content, chunks): content is the redacted text of a text artifact; other files stream as they are
    (chunks), from shared storage or, for jobs from before storage, this disk."""
    sizes = {a["name"]: a["bytes"] for a in artifacts(job=job)}
    if name not in sizes:
        raise Http404("No such artifact.")
    raw = (job.artifacts or {}).get("files", {}).get(name)
    if raw is None:
        raw = (job_dir(job) / name).stat().st_size
    if _redacted(name, raw):
        content = _text(job, name).encode()
        return len(content), content, None
    if _stored(job):
        return raw, None, storage.iter_range(_key(job, name), 0, raw)
    return raw, None, _local_chunks(job_dir(job) / name)


def _local_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(storage.CHUNK):
            yield chunk


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
                "win_rate": _round_win_rate(ancestor),
            }
        )
        ancestor = ancestor.base_job
    return {
        "dataset_version": _version_summary(job.dataset_version),
        "base_model": base_model_label(job.base_model),
        "base_job": job.base_job_id,
        "win_rate": _round_win_rate(job),
        "earlier_rounds": rounds,
    }


def _round_win_rate(job: TrainingJob) -> dict | None:
    """The newest finished win-rate run of a round: the job's model against the model it started from."""
    run = (
        EvaluationRun.objects.filter(job=job, opponent_endpoint__isnull=False, status="succeeded")
        .select_related("opponent_endpoint")
        .order_by("-id")
        .first()
    )
    if run is None:
        return None
    overall = run.results.get("overall", {})
    return {
        "evaluation": run.pk,
        "opponent": run.opponent_endpoint.name,
        "win_rate": overall.get("win_rate"),
        "win_rate_ci": overall.get("win_rate_ci"),
        "wins": overall.get("wins"),
        "ties": overall.get("ties"),
        "losses": overall.get("losses"),
    }


def get_job_by_id(*, job_id: int) -> TrainingJob | None:
    """Unscoped lookup for admin-side tools (management commands); never use it to answer a user request."""
    return TrainingJob.objects.select_related("project", "dataset_version").filter(pk=job_id).first()


def stage_counts(*, project) -> dict:
    """The project's trained models in numbers, for its overview."""
    jobs = TrainingJob.objects.filter(project=project)
    return {"jobs": jobs.count(), "models": jobs.filter(status="succeeded").count()}


def jobs_of_project(*, project) -> QuerySet[TrainingJob]:
    return TrainingJob.objects.filter(project=project).select_related("dataset_version").order_by("-id")


def get_project_job(*, project, job_id: int) -> TrainingJob | None:
    return TrainingJob.objects.select_related("project", "dataset_version").filter(project=project, pk=job_id).first()


def metric_rows(*, job: TrainingJob, last: int = 50) -> tuple[list[str], list[dict]]:
    """The job's latest logged metrics as a table: (column names, rows of {step, epoch, values…})."""
    rows = list(TrainingMetric.objects.filter(job=job).order_by("-step", "-id")[:last])[::-1]
    columns = sorted({key for row in rows for key in row.values})
    return columns, [{"step": r.step, "epoch": r.epoch, "values": [r.values.get(c) for c in columns]} for r in rows]


def chart_series(*, job: TrainingJob, max_points: int = 2000) -> dict[str, list[list]]:
    """Every numeric logged metric against the step, each cut to at most `max_points` evenly spaced points."""
    series = {}
    for name, points in metric_series(job=job).items():
        every = max(1, -(-len(points) // max_points))
        series[name] = [[step, value] for step, value in points[::every] if isinstance(value, int | float)]
    return series
