"""The console's difficulty page: start a difficulty run (a trained job of the project or a base model scores the
accepted instructions' perplexity and IFD) or a rating run (an LLM judge rates their complexity and quality, 1–6),
watch the runs live, and see how the pool spreads by a metric — the histogram, its percentiles and how many
instructions a band keeps — with links that review or build a dataset version from that band. Also the pool's
diversity report and the project's task-type taxonomy (edited here, or reset to BELLE's)."""

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from console.access import admin_project
from console.pool_forms import TaxonomyForm
from core.forms import add_service_error
from llm.health import endpoint_choices
from llm.selectors import endpoints_for_project
from selfinstruct.difficulty import METRICS
from selfinstruct.difficulty_selectors import difficulty_metric_counts, difficulty_metric_label
from selfinstruct.diversity import diversity_report
from selfinstruct.rating import RatingRunError, cancel_rating_run, start_rating_run
from selfinstruct.selectors import (
    difficulty_band_ids,
    difficulty_histogram,
    difficulty_scorers,
    rating_runs_for_projects,
)
from selfinstruct.taxonomy import TaxonomyError, reset_taxonomy, set_taxonomy, taxonomy_for
from training.difficulty import cancel_difficulty_run, start_difficulty_run
from training.oversight import any_active, difficulty_runs_of_project, language_models
from training.services import TrainingJobError


class DifficultyRunForm(forms.Form):
    job = forms.TypedChoiceField(
        label=gettext_lazy("Trained model"), coerce=int, required=False, empty_value=None, choices=()
    )
    base_model = forms.CharField(
        label=gettext_lazy("or a base model"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("A model folder's name under the server's model roots, e.g. demo-tiny-llama."),
    )
    max_length = forms.IntegerField(label=gettext_lazy("Tokens per text"), min_value=32, max_value=8192, initial=1024)

    def __init__(self, *args, jobs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["job"].choices = [("", "—")] + [(j.pk, f"job-{j.pk} ({j.kind})") for j in jobs]


class RatingRunForm(forms.Form):
    endpoint = forms.ChoiceField(label=gettext_lazy("Judge endpoint"), choices=())

    def __init__(self, *args, endpoints=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["endpoint"].choices = endpoint_choices(endpoints)


class BandForm(forms.Form):
    scorer = forms.CharField(required=False, max_length=200)
    metric = forms.ChoiceField(choices=[(m, m) for m in METRICS], required=False)
    drop_easiest = forms.FloatField(required=False, min_value=0, max_value=99)
    drop_hardest = forms.FloatField(required=False, min_value=0, max_value=99)


def _context(request, project, form=None, rating_form=None) -> dict:
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
        return render(request, "console/difficulty.html", _context(request, project))
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
    return render(request, "console/difficulty.html", _context(request, project, form), status=400)


@login_required
@require_POST
def rating(request, slug: str):
    """Start a rating run: the judge endpoint rates complexity and quality (1–6) of the accepted instructions."""
    project = admin_project(request, slug)
    endpoints = endpoints_for_project(project=project)
    form = RatingRunForm(request.POST, endpoints=endpoints)
    if form.is_valid():
        try:
            run = start_rating_run(
                project=project, endpoint=endpoints.get(name=form.cleaned_data["endpoint"]), created_by=request.user
            )
        except RatingRunError as exc:
            add_service_error(form, exc)
        else:
            text = _("Rating run %(id)s queued: %(n)s instructions to rate.") % {"id": run.pk, "n": run.items_total}
            messages.success(request, text)
            return redirect("console-difficulty", slug=project.slug)
    return render(request, "console/difficulty.html", _context(request, project, rating_form=form), status=400)


@login_required
@require_POST
def rating_cancel(request, slug: str, run_id: int):
    project = admin_project(request, slug)
    run = rating_runs_for_projects(projects=[project]).filter(pk=run_id).first()
    if run is None:
        raise Http404("No such rating run.")
    try:
        cancel_rating_run(run=run)
    except RatingRunError as exc:
        messages.error(request, str(exc))
    return redirect("console-difficulty", slug=project.slug)


@login_required
def difficulty_live(request, slug: str):
    """The runs and the distribution: the page polls them while a run is queued or running, and once more after
    the last one ends (that answer no longer polls)."""
    project = admin_project(request, slug)
    return render(request, "console/difficulty_results.html", _context(request, project))


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


@login_required
def diversity(request, slug: str):
    """The pool's (or one batch's) diversity: numbers, and bars for length, nearest-neighbour similarity and the
    most frequent opening words."""
    project = admin_project(request, slug)
    batch = request.GET.get("batch", "")
    batch_id = int(batch) if batch.isdigit() and len(batch) < 12 else None
    report = diversity_report(project=project, batch_id=batch_id)
    charts = [
        ("length-data", _("Length (tokens)"), report["length"]),
        ("similarity-data", _("ROUGE-L to the nearest instruction"), report["nearest_similarity"]),
        (
            "openings-data",
            _("Most frequent opening words"),
            {"labels": [o["word"] for o in report["openings"]], "counts": [o["n"] for o in report["openings"]]},
        ),
    ]
    if report["task_types"]:
        zh = get_language().startswith("zh")
        types = report["task_types"]
        names = [t["name_zh"] if zh else t["name"] for t in types]
        charts.insert(0, ("types-data", _("Task types"), {"labels": names, "counts": [t["n"] for t in types]}))
    context = {
        "project": project,
        "report": report,
        "batch_id": batch_id,
        "charts": [
            {"id": cid, "title": title, "data": {"labels": d["labels"], "datasets": {title: d["counts"]}}}
            for cid, title, d in charts
        ],
    }
    return render(request, "console/diversity.html", context)


@login_required
def taxonomy(request, slug: str):
    """The task types the tagger chooses from (and quotas and stratified versions name): edit the list, or go back
    to BELLE's categories."""
    project = admin_project(request, slug)
    current = taxonomy_for(project)
    form = TaxonomyForm(request.POST if request.method == "POST" else None, initial=TaxonomyForm.initial_for(current))
    if request.method == "POST" and request.POST.get("reset"):
        reset_taxonomy(project=project)
        messages.success(request, _("The task types are BELLE's categories again."))
        return redirect("console-taxonomy", slug=project.slug)
    if request.method == "POST" and form.is_valid():
        try:
            saved = set_taxonomy(project=project, types=form.cleaned_data["types"])
        except TaxonomyError as exc:
            form.add_error("types", str(exc))
        else:
            messages.success(request, _("%(n)d task types saved.") % {"n": len(saved.types)})
            return redirect("console-taxonomy", slug=project.slug)
    context = {"project": project, "form": form, "taxonomy": current, "zh": (get_language() or "").startswith("zh")}
    return render(request, "console/taxonomy.html", context, status=400 if form.errors else 200)
