"""The labeler's pages (server-rendered) and the project admin's ranking dashboard."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from annotation import claims, consensus, guardrails, oversight, review_selectors, selectors, services
from annotation.aspects import page_questions
from annotation.models import Flag
from annotation.quality_selectors import quality_overview
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


def _all_done_key(project) -> str:
    return f"all-done:{project.pk}"


def _claim_and_show_next(request, project):
    """Claim the labeler's next task inside the POST that asks for one (Start, submit, skip, undo) and send them to
    the labeler page, which only shows what is held: POST, redirect, GET — the round trips the page always had, and
    a GET (a link, a reload, a prefetch) never claims. A claim that finds nothing leaves a note for the page to say
    so."""
    try:
        if claims.claim_next_ranking_task(project=project, labeler=request.user) is None:
            request.session[_all_done_key(project)] = True
    except AnnotationError as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(reverse("label-next", kwargs={"slug": project.slug}), status=303)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def label_next(request, slug: str):
    """GET: the task the labeler holds (read only: no claim, no lease renewed), else a Start button (autofocused:
    Enter starts), or the all-done page when the last claim found nothing. POST: claim, then show it."""
    project = get_project_for_user(user=request.user, slug=slug, roles=selectors.LABELING_ROLES)
    if request.method == "POST":
        return _claim_and_show_next(request, project)
    assignment = claims.held_assignment(project=project, labeler=request.user)
    config = services.get_ranking_config(project=project)
    progress = selectors.labeler_progress(project=project, labeler=request.user)
    context = {
        "project": project,
        "config": config,
        "guidelines_html": render_markdown(project.guidelines) if project.guidelines else "",
        "progress": progress,
        "flags": [(value, label) for value, label in Flag.choices if value],
        "undo_seconds": config.undo_seconds,
        "just_submitted": request.session.pop(f"submitted:{project.pk}", None),
        "is_admin": role_in_project(user=request.user, project=project) == Role.ADMIN,
        "rejections": review_selectors.rejections_for_labeler(project=project, labeler=request.user),
    }
    all_done = request.session.pop(_all_done_key(project), False)
    if assignment is None:
        if all_done or not progress["remaining"]:
            return render(request, "annotation/done.html", context)
        # a paused labeler reads why before pressing Start (the claim would only refuse them with it)
        context["paused"] = guardrails.pause_notice(project=project, labeler=request.user, config=config)
        return render(request, "annotation/start.html", context)
    context["view"] = selectors.task_view(task=assignment.task, assignment=assignment, config=config)
    context["questions"] = page_questions(config, get_language())
    return render(request, "annotation/rank.html", context)


MAX_RANKING_CHARS = 4000  # K ≤ 9 ids: a real ranking is a few dozen characters
MAX_ANSWER_CHARS = 20000  # 9 answers × 10 aspects, or 8 strengths: a few thousand characters at most
MAX_RESOLVE_IDS = 1000


def _is_id(value: str) -> bool:
    """A database id as sent in a form: ASCII digits only ("²".isdigit() is true), within a bigint."""
    return value.isascii() and value.isdigit() and len(value) <= 18


def _int_or_none(value):
    return int(value) if isinstance(value, str) and _is_id(value) else None


def _posted_json(raw: str):
    """A JSON form field (the page's aspects and strengths): None when empty; text that does not parse is passed on
    as text, for the submission's rules to refuse naming the field."""
    raw = raw[:MAX_ANSWER_CHARS]
    try:
        return safejson.loads(raw) if raw else None
    except ValueError:
        return raw


def _posted_answers(post) -> dict:
    return {
        "aspects": _posted_json(post.get("aspects", "")),
        "strengths": _posted_json(post.get("strengths", "")),
        "rationale": post.get("rationale", ""),
    }


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
            answers=_posted_answers(request.POST),
        )
    except AnnotationError as exc:
        messages.error(request, str(exc))
    else:
        request.session[f"submitted:{task.project_id}"] = task.pk
        messages.success(request, _("Submitted."))
    return _claim_and_show_next(request, task.project)


@login_required
@require_POST
def label_skip(request, slug: str, task_id: int):
    task = selectors.get_task_for_labeler(user=request.user, task_id=task_id)
    try:
        claims.skip_task(task=task, labeler=request.user)
        messages.info(request, _("Skipped."))
    except AnnotationError as exc:
        messages.error(request, str(exc))
    return _claim_and_show_next(request, task.project)


@login_required
@require_POST
def label_undo(request, slug: str):
    project = get_project_for_user(user=request.user, slug=slug, roles=selectors.LABELING_ROLES)
    try:
        claims.undo_last_submission(project=project, labeler=request.user)
        messages.info(request, _("Your last submission was taken back; rank the task again."))
    except AnnotationError as exc:
        messages.error(request, str(exc))
    return _claim_and_show_next(request, project)


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
    context["quality"] = quality_overview(project=project)  # polled on its own, less often (console quality_live)
    return render(request, "annotation/dashboard.html", context)
