"""The console's rating runs: start one (an LLM judge rates the accepted instructions' complexity and quality, 1–6)
or cancel it. They are shown on the difficulty page (console/difficulty_views.py), which charts their scores beside
the perplexity and IFD ones, so both views answer with that page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from console.access import admin_project
from console.difficulty_forms import RatingRunForm
from console.difficulty_views import page_context
from core.forms import add_service_error
from llm.selectors import endpoints_for_project
from selfinstruct.rating import RatingRunError, cancel_rating_run, start_rating_run
from selfinstruct.selectors import rating_runs_for_projects


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
    return render(request, "console/difficulty.html", page_context(request, project, rating_form=form), status=400)


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
