"""A training job's console page (charts per metric family, labelled results and metrics, live while it runs;
cancel) and the comparison of several of the project's jobs on chosen metrics, for project admins."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from console.access import admin_project, project_job
from core.errors import ServiceError
from training.metric_selectors import (
    MAX_COMPARE_JOBS,
    compare_jobs,
    comparison_charts,
    job_charts,
    labelled_results,
    logged_series,
    metric_summary,
    parse_job_ids,
    parse_metrics,
)
from training.oversight import evaluations_of_job
from training.paths import base_model_label
from training.selectors import artifacts, jobs_of_project, lineage
from training.services import TrainingJobError, cancel_training_job


def _job_context(project, job) -> dict:
    series = logged_series(job=job)  # read once: the page polls this every few seconds while the job runs
    return {
        "project": project,
        "job": job,
        "base_model": base_model_label(job.base_model),  # its name, never a server path
        "metrics": metric_summary(job=job, series=series),
        "results": labelled_results(job=job),
        "samples": (job.results or {}).get("samples", []),
        "artifacts": artifacts(job=job) if job.status not in ("queued", "running") else [],
        "active": job.status in ("queued", "running"),
        "series": job_charts(job=job, series=series),
        "evaluations": evaluations_of_job(job=job),
        "lineage": lineage(job=job),
    }


@login_required
def job_page(request, slug: str, job_id: int):
    project = admin_project(request, slug)
    context = _job_context(project, project_job(project, job_id))
    context["chartjs"] = settings.CHARTJS_DIR.is_dir()
    return render(request, "console/job.html", context)


@login_required
def job_live(request, slug: str, job_id: int):
    """The job's state, chart data, metrics and results alone: its page polls them while it runs."""
    project = admin_project(request, slug)
    return render(request, "console/job_live.html", _job_context(project, project_job(project, job_id)))


@login_required
@require_POST
def job_cancel(request, slug: str, job_id: int):
    project = admin_project(request, slug)
    job = project_job(project, job_id)
    try:
        cancel_training_job(job=job)
    except TrainingJobError as exc:
        messages.error(request, str(exc))
    return redirect("console-job", slug=project.slug, job_id=job.pk)


@login_required
def compare(request, slug: str):
    """Several jobs of the project (?jobs=1,2,3 or repeated, from the training list's checkboxes) overlaid on the
    chosen metrics (?metric=…, default loss), with each job's final and lowest value."""
    project = admin_project(request, slug)
    context = {"project": project, "chartjs": settings.CHARTJS_DIR.is_dir(), "max_jobs": MAX_COMPARE_JOBS}
    try:
        job_ids = parse_job_ids(request.GET.getlist("jobs"))
        comparison = compare_jobs(
            project=project, job_ids=job_ids, metrics=parse_metrics(request.GET.getlist("metric"))
        )
    except ServiceError as exc:
        context["error"] = str(exc).partition(": ")[2] or str(exc)
        context["recent"] = jobs_of_project(project=project)[:MAX_COMPARE_JOBS]
        return render(request, "console/compare.html", context, status=400)
    chosen = {m["key"] for m in comparison["metrics"]}
    context.update(
        comparison=comparison,
        job_ids=",".join(str(j["id"]) for j in comparison["jobs"]),
        chosen=chosen,
        series={"charts": comparison_charts(comparison), "other": []},
    )
    return render(request, "console/compare.html", context)
