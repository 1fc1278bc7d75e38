"""The console's labeler-quality page: Krippendorff's α of the rankings and per aspect, each labeler's reliability and
standing, charts of both over time (a live fragment the page polls), the guardrail minimums, and reinstating a
labeler a guardrail paused."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from annotation import guardrails
from annotation.quality_selectors import get_project_labeler, quality_overview
from annotation.services import AnnotationError, get_ranking_config, update_ranking_config
from console.access import admin_project
from console.quality_forms import GuardrailsForm


def _context(project, form=None) -> dict:
    config = get_ranking_config(project=project)
    initial = {"min_reliability": config.min_reliability, "min_gold_accuracy": config.min_gold_accuracy}
    return {
        "project": project,
        "form": form or GuardrailsForm(initial=initial),
        "guarded": guardrails.guarded(config),
        "rules": {"min_rankings": guardrails.MIN_RANKINGS, "every": guardrails.EVERY, "window": guardrails.WINDOW},
        "quality": quality_overview(project=project),
        "charts": settings.CHARTJS_DIR.is_dir(),
    }


@login_required
def quality(request, slug: str):
    project = admin_project(request, slug)
    form = GuardrailsForm(request.POST or None) if request.method == "POST" else None
    if form is not None and form.is_valid():
        try:
            update_ranking_config(project=project, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            # Raised minimums bite at once: the same judgement `manage.py labelers --check` runs, for everyone.
            paused = guardrails.evaluate_project(project=project)
            messages.success(
                request,
                _("Guardrails saved; every labeler was checked: %(n)d paused now.") % {"n": len(paused)},
            )
            return redirect("console-quality", slug=project.slug)
    status = 400 if form is not None and form.errors else 200
    return render(request, "console/quality.html", _context(project, form), status=status)


@login_required
@require_POST
def check_now(request, slug: str):
    """Judge every labeler against the current minimums now (what `manage.py labelers --check` does)."""
    project = admin_project(request, slug)
    paused = guardrails.evaluate_project(project=project)
    messages.success(request, _("Every labeler was checked: %(n)d paused now.") % {"n": len(paused)})
    return redirect("console-quality", slug=project.slug)


@login_required
def quality_live(request, slug: str):
    project = admin_project(request, slug)
    return render(request, "console/quality_live.html", _context(project))


@login_required
@require_POST
def reinstate(request, slug: str, username: str):
    project = admin_project(request, slug)
    labeler = get_project_labeler(project=project, username=username)
    if labeler is None:
        raise Http404("No such labeler in this project.")
    try:
        guardrails.reinstate_labeler(project=project, labeler=labeler, by=request.user)
    except AnnotationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("%(name)s may claim tasks again.") % {"name": labeler.username})
    return redirect("console-quality", slug=project.slug)
