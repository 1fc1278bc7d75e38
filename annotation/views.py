"""The labeler's pages (server-rendered) and the project admin's ranking dashboard."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from annotation import claims, consensus, oversight, selectors, services
from annotation.models import Flag
from annotation.render import render_markdown
from annotation.services import AnnotationError
from core import safejson
from projects.models import Role
from projects.selectors import get_project_for_user, role_in_project


@login_required
def label_home(request):
    projects = selectors.labeling_projects(user=request.user)
    rows = [{"project": p, **selectors.labeler_progress(project=p, labeler=request.user)} for p in projects]
    return render(request, "annotation/home.html", {"rows": rows})


@login_required
def label_next(request, slug: str):
    project = get_project_for_user(user=request.user, slug=slug, roles=selectors.LABELING_ROLES)
    try:
        assignment = claims.claim_next_ranking_task(project=project, labeler=request.user)
    except AnnotationError as exc:
        messages.error(request, str(exc))
        assignment = None
    config = services.get_ranking_config(project=project)
    context = {
        "project": project,
        "config": config,
        "guidelines_html": render_markdown(project.guidelines) if project.guidelines else "",
        "progress": selectors.labeler_progress(project=project, labeler=request.user),
        "flags": [(value, label) for value, label in Flag.choices if value],
        "undo_seconds": config.undo_seconds,
        "just_submitted": request.session.pop(f"submitted:{project.pk}", None),
        "is_admin": role_in_project(user=request.user, project=project) == Role.ADMIN,
    }
    if assignment is None:
        return render(request, "annotation/done.html", context)
    context["view"] = selectors.task_view(task=assignment.task, assignment=assignment, config=config)
    return render(request, "annotation/rank.html", context)


MAX_RANKING_CHARS = 4000  # K ≤ 9 ids: a real ranking is a few dozen characters
MAX_RESOLVE_IDS = 1000


def _is_id(value: str) -> bool:
    """A database id as sent in a form: ASCII digits only ("²".isdigit() is true), within a bigint."""
    return value.isascii() and value.isdigit() and len(value) <= 18


def _int_or_none(value):
    return int(value) if isinstance(value, str) and _is_id(value) else None


@login_required
@require_POST
def label_submit(request, slug: str, task_id: int):
    task = selectors.get_task_for_labeler(user=request.user, task_id=task_id)
    if task.project.slug != slug:
        return HttpResponseBadRequest("task and project do not match")
    flag = request.POST.get("flag", "")
    raw = request.POST.get("ranking", "")[:MAX_RANKING_CHARS]
    try:
        ranking = safejson.loads(raw) if raw else None
    except ValueError:  # not JSON, or JSON the platform refuses (too deep, lone surrogates): not a ranking
        ranking = raw
    if flag:
        ranking = ranking or None  # a flag may come with or without a ranking
    try:
        claims.submit_ranking(
            task=task,
            labeler=request.user,
            ranking=ranking,
            flag=flag,
            comment=request.POST.get("comment", ""),
            time_spent_ms=_int_or_none(request.POST.get("time_spent_ms")),
        )
    except AnnotationError as exc:
        messages.error(request, str(exc))
        return redirect("label-next", slug=slug)
    request.session[f"submitted:{task.project_id}"] = task.pk
    messages.success(request, _("Submitted."))
    return redirect("label-next", slug=slug)


@login_required
@require_POST
def label_skip(request, slug: str, task_id: int):
    task = selectors.get_task_for_labeler(user=request.user, task_id=task_id)
    try:
        claims.skip_task(task=task, labeler=request.user)
        messages.info(request, _("Skipped."))
    except AnnotationError as exc:
        messages.error(request, str(exc))
    return redirect("label-next", slug=slug)


@login_required
@require_POST
def label_undo(request, slug: str):
    project = get_project_for_user(user=request.user, slug=slug, roles=selectors.LABELING_ROLES)
    try:
        claims.undo_last_submission(project=project, labeler=request.user)
        messages.info(request, _("Your last submission was taken back; rank the task again."))
    except AnnotationError as exc:
        messages.error(request, str(exc))
    return redirect("label-next", slug=slug)


@login_required
def dashboard(request, slug: str):
    project = get_project_for_user(user=request.user, slug=slug, roles=(Role.ADMIN,))
    if request.method == "POST":
        ids = [int(x) for x in request.POST.getlist("ranking")[:MAX_RESOLVE_IDS] if _is_id(x)]
        count = consensus.resolve_flags(ranking_ids=ids, project=project)
        messages.success(request, _("%(n)d flag(s) marked resolved.") % {"n": count})
        return redirect(reverse("label-dashboard", kwargs={"slug": slug}))
    reward_model = selectors.reward_model_stats(project=project)
    context = {
        "project": project,
        "stats": selectors.project_ranking_stats(project=project),
        "labelers": selectors.labeler_table(project=project),
        "reward_model": reward_model,
        "rm_gap": oversight.rm_agreement_gap(stats=reward_model),
        "timeline": oversight.ranking_timeline(project=project),
        "charts": settings.CHARTJS_DIR.is_dir(),
        "judge": selectors.judge_stats(project=project),
        "flagged": selectors.flagged_queue(project=project),
        "completion_counts": selectors.completion_counts(project=project),
    }
    if request.htmx:
        return render(request, "annotation/dashboard_stats.html", context)
    return render(request, "annotation/dashboard.html", context)
