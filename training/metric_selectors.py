"""Reads of training metrics for people: a job's charts (one per metric family, the rest apart), its per-metric
summary and labelled results, and the comparison of several jobs of a project on chosen metrics."""

from __future__ import annotations

import math

from core.errors import ServiceError
from training.metric_labels import FAMILIES, family_of, metric_label, metric_order
from training.models import TrainingJob, TrainingMetric

MAX_COMPARE_JOBS = 10
MAX_COMPARE_METRICS = 8
MAX_POINTS = 2000

Points = list[list[float]]


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _series(job_id: int) -> dict[str, Points]:
    """{"loss": [[step, value], …], …} in step order, numbers only."""
    series: dict[str, Points] = {}
    for step, values in (
        TrainingMetric.objects.filter(job_id=job_id).order_by("step", "id").values_list("step", "values")
    ):
        for key, value in (values or {}).items():
            if _number(value):
                series.setdefault(key, []).append([step, value])
    return series


def _thin(points: Points, max_points: int = MAX_POINTS) -> Points:
    """At most `max_points` evenly spaced points, the last one always kept (the final value must show)."""
    if len(points) <= max_points:
        return points
    every = -(-len(points) // max_points)
    kept = points[::every]
    return kept if kept[-1] is points[-1] else [*kept[:-1], points[-1]]


def _line(key: str, points: Points) -> dict:
    return {"key": key, "label": metric_label(key), "points": _thin(points)}


def logged_series(*, job: TrainingJob) -> dict[str, Points]:
    """Every numeric metric the job logged: {"loss": [[step, value], …], …} in step order."""
    return _series(job.pk)


def _chart_id(key: str) -> str:
    """A stable id for a metric's own chart (it must not change as other metrics appear while the job runs)."""
    return "other-" + "".join(c if c.isascii() and c.isalnum() else "-" for c in key)


def job_charts(*, job: TrainingJob, series: dict[str, Points] | None = None) -> dict:
    """The job page's charts: {"charts": one per known family the job logged (loss with eval loss, learning rate,
    grad norm, rewards …), "other": one per remaining metric}. Each: {"id", "title", "series": [{key, label,
    points}]}; labels translated. `series`: logged_series() when the caller has it already."""
    series = _series(job.pk) if series is None else series
    charts = []
    for family, title, keys in FAMILIES:
        lines = [_line(key, series[key]) for key in keys if key in series]
        if lines:
            charts.append({"id": family, "title": str(title), "series": lines})
    rest = sorted((key for key in series if family_of(key) is None), key=metric_order)
    other = [{"id": _chart_id(key), "title": metric_label(key), "series": [_line(key, series[key])]} for key in rest]
    return {"charts": charts, "other": other}


def metric_summary(*, job: TrainingJob, series: dict[str, Points] | None = None) -> list[dict]:
    """One row per logged metric (known families first): its label, last value and step, minimum and maximum."""
    series = _series(job.pk) if series is None else series
    rows = []
    for key, points in sorted(series.items(), key=lambda item: metric_order(item[0])):
        values = [value for _step, value in points]
        rows.append(
            {
                "key": key,
                "label": metric_label(key),
                "last": values[-1],
                "last_step": points[-1][0],
                "min": min(values),
                "max": max(values),
                "count": len(values),
            }
        )
    return rows


def labelled_results(*, job: TrainingJob) -> list[dict]:
    """The job's results (not the sample generations) as {key, label, value} rows."""
    return [
        {"key": key, "label": metric_label(key), "value": value}
        for key, value in (job.results or {}).items()
        if key != "samples"
    ]


# --- comparison -------------------------------------------------------------------------------------------------


def parse_job_ids(values: list[str] | str) -> list[int]:
    """Job ids from "1,2,3" and/or repeated values, in the order given, without repeats; ServiceError names the
    field."""
    parts = [p.strip() for v in ([values] if isinstance(values, str) else values) for p in str(v).split(",")]
    ids: list[int] = []
    for part in filter(None, parts):
        if not part.isdigit() or len(part) > 12:
            raise ServiceError(f"jobs: “{part[:40]}” is not a job id (give ids like 1,2,3)")
        if int(part) not in ids:
            ids.append(int(part))
    return ids


def parse_metrics(values: list[str] | str) -> list[str]:
    """Metric names from "loss,eval_loss" and/or repeated values, without repeats."""
    parts = [p.strip() for v in ([values] if isinstance(values, str) else values) for p in str(v).split(",")]
    names: list[str] = []
    for part in filter(None, parts):
        if len(part) > 200:
            raise ServiceError("metric: a metric name is at most 200 characters")
        if part not in names:
            names.append(part)
    return names


def run_label(job: TrainingJob) -> str:
    return f"job-{job.pk} · {job.kind}/{job.method}"


def compare_jobs(*, project, job_ids: list[int], metrics: list[str] | None = None) -> dict:
    """Several jobs of `project` on the chosen metrics (default: loss, else the first metric they share):
    {"jobs": [{id, label, kind, method, status}], "shared_metrics": [{key, label}], "metrics": [{key, label, runs:
    [{job, label, final, min, last_step, points}]}]}. Refuses (ServiceError naming the field) no jobs, more than
    MAX_COMPARE_JOBS, a job not in the project (worded the same whether it exists elsewhere or not), and a metric
    none of the jobs logged."""
    if not job_ids:
        raise ServiceError("jobs: pick at least one training job")
    if len(job_ids) > MAX_COMPARE_JOBS:
        raise ServiceError(f"jobs: compare at most {MAX_COMPARE_JOBS} jobs at once ({len(job_ids)} given)")
    found = {job.pk: job for job in TrainingJob.objects.filter(project=project, pk__in=job_ids)}
    missing = [str(pk) for pk in job_ids if pk not in found]
    if missing:
        raise ServiceError(f"jobs: no training job {', '.join(missing)} in this project")
    jobs = [found[pk] for pk in job_ids]
    metrics = list(metrics or [])
    if len(metrics) > MAX_COMPARE_METRICS:
        raise ServiceError(f"metric: compare at most {MAX_COMPARE_METRICS} metrics at once")
    series = {job.pk: _series(job.pk) for job in jobs}
    shared = set.intersection(*(set(s) for s in series.values()))
    logged = set().union(*(set(s) for s in series.values()))
    shared_keys = sorted(shared, key=metric_order)
    if not metrics:
        metrics = ["loss"] if "loss" in logged or not shared_keys else [shared_keys[0]]
    unknown = [m for m in metrics if m not in logged]
    if unknown and logged:
        raise ServiceError(f"metric: none of the chosen jobs logged {', '.join(unknown)}")
    return {
        "jobs": [
            {"id": job.pk, "label": run_label(job), "kind": job.kind, "method": job.method, "status": job.status}
            for job in jobs
        ],
        "shared_metrics": [{"key": key, "label": metric_label(key)} for key in shared_keys],
        "metrics": [
            {"key": key, "label": metric_label(key), "runs": [_run(job, series[job.pk].get(key, [])) for job in jobs]}
            for key in metrics
        ],
    }


def _run(job: TrainingJob, points: Points) -> dict:
    values = [value for _step, value in points]
    return {
        "job": job.pk,
        "label": run_label(job),
        "final": values[-1] if values else None,
        "min": min(values) if values else None,
        "last_step": points[-1][0] if points else None,
        "points": _thin(points),
    }


def comparison_charts(comparison: dict) -> list[dict]:
    """The comparison as the charts the console draws (static/console/curves.js): one per metric, a line per job."""
    return [
        {
            "id": f"compare-{n}",
            "title": metric["label"],
            "series": [{"key": f"job-{r['job']}", "label": r["label"], "points": r["points"]} for r in metric["runs"]],
        }
        for n, metric in enumerate(comparison["metrics"])
    ]
