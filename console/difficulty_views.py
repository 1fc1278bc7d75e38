"""The console's difficulty page: start a difficulty run (a trained job of the project or a base model scores the
accepted instructions' perplexity and IFD), watch the runs live, and see how the pool spreads by a metric — the
histogram, its percentiles and how many instructions a band keeps — with links that review or build a dataset version
from that band. The page also lists the rating runs, whose scores it charts too; starting and cancelling them is in
console/rating_views.py."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from console.access import admin_project
from console.difficulty_forms import BandForm, DifficultyRunForm, RatingRunForm
from core.forms import add_service_error
from llm.selectors import endpoints_for_project
from selfinstruct.difficulty import METRICS
from selfinstruct.difficulty_selectors import difficulty_metric_counts, difficulty_metric_label
from selfinstruct.selectors import (
    difficulty_band_ids,
    difficulty_histogram,
    difficulty_scorers,
    rating_runs_for_projects,
)
from training.difficulty import cancel_difficulty_run, start_difficulty_run
from training.oversight import any_active, difficulty_runs_of_project, language_models
from training.services import TrainingJobError


def page_context(request, project, form=None, rating_form=None) -> dict:
    """The difficulty page's context: its forms (a bound one, with errors, when given), the difficulty and rating
    runs, and the distribution of the band asked for in the query."""
    runs = difficulty_runs_of_project(project=project)
    ratings = rating_runs_for_projects(projects=[project]).order_by("-id")
    band = BandForm(request.GET or None)
    values = band.cleaned_data if band.is_valid() else {}
    scorers = difficulty_scorers(project=project)
    scorer = values.get("scorer") or (scorers[0]["scorer"] if scorers else "")
    # the metric asked for; else the first this scorer has (a judge rates complexity and quality, a model has IFD)
    metric_counts = difficulty_metric_counts(project=project, scorer=scorer) if scorer else {}
    metric = values.get("metric") or next((m for m in METRICS if metric_counts.get(m)), "ifd")
    easiest, hardest = values.get("drop_easiest") or 0, values.get("drop_hardest") or 0
    chart = difficulty_histogram(project=project, scorer=scorer, metric=metric) if scorer else {"n": 0}
    kept = None
    if scorer and chart["n"] and (easiest or hardest) and easiest + hardest < 100:
        kept = len(
            difficulty_band_ids(
                project=project, scorer=scorer, metric=metric, drop_easiest=easiest, drop_hardest=hardest
            )
        )
    return {
        "project": project,
        "form": form or DifficultyRunForm(jobs=language_models(project=project)),
        "runs": runs[:20],
        "rating_form": rating_form or RatingRunForm(endpoints=endpoints_for_project(project=project)),
        "rating_runs": ratings[:20],
        "active": any_active(runs, ratings),
        "scorers": scorers,
        "scorer": scorer,
        "metric": metric,
        "metrics": [(m, metric_counts.get(m, 0)) for m in METRICS],
        "scorer_metrics": [m for m in METRICS if metric_counts.get(m)],
        "scorer_metric_names": [difficulty_metric_label(m) for m in METRICS if metric_counts.get(m)],
        # the live fragment keeps the band the page shows
        "band_query": urlencode({k: request.GET[k][:200] for k in BandForm.base_fields if k in request.GET}),
        "drop_easiest": easiest,
        "drop_hardest": hardest,
        "band_error": band.errors if band.is_bound and not band.is_valid() else None,
        "chart": chart,
        "chart_data": {"labels": chart.get("labels", []), "datasets": {metric: chart.get("counts", [])}},
        "kept": kept,
    }


@login_required
def difficulty(request, slug: str):
    project = admin_project(request, slug)
    if request.method != "POST":
        return render(request, "console/difficulty.html", page_context(request, project))
    jobs = language_models(project=project)
    form = DifficultyRunForm(request.POST, jobs=jobs)
    if form.is_valid():
        values = form.cleaned_data
        job = next((j for j in jobs if j.pk == values["job"]), None)
        try:
            run = start_difficulty_run(
                project=project,
                job=job,
                base_model=values["base_model"].strip(),
                max_length=values["max_length"],
                created_by=request.user,
            )
        except TrainingJobError as exc:
            add_service_error(form, exc)
        else:
            messages.success(
                request,
                _("Difficulty run %(id)s queued: %(n)s instructions to score.") % {"id": run.pk, "n": run.items_total},
            )
            return redirect("console-difficulty", slug=project.slug)
    return render(request, "console/difficulty.html", page_context(request, project, form), status=400)


@login_required
def difficulty_live(request, slug: str):
    """The runs and the distribution: the page polls them while a run is queued or running, and once more after
    the last one ends (that answer no longer polls)."""
    project = admin_project(request, slug)
    return render(request, "console/difficulty_results.html", page_context(request, project))


@login_required
@require_POST
def difficulty_cancel(request, slug: str, run_id: int):
    project = admin_project(request, slug)
    run = difficulty_runs_of_project(project=project).filter(pk=run_id).first()
    if run is None:
        raise Http404("No such difficulty run.")
    try:
        cancel_difficulty_run(run=run)
    except TrainingJobError as exc:
        messages.error(request, str(exc))
    return redirect("console-difficulty", slug=project.slug)
