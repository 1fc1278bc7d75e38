"""The reviewer's page (server-rendered, keyboard-first like the labeler's): the queue's next task with every
labeler's ranking beside the consensus and the RM's and judge's orders; accept, reject a ranking with a reason, or
write the adjudicated order. Each decision is a POST that redirects to the next task (POST, redirect, GET)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from annotation import review, review_selectors
from annotation.aspects import answers_for_review
from annotation.models import ReviewState
from annotation.review_models import ReviewDecision
from annotation.services import AnnotationError, get_ranking_config
from projects.selectors import get_project_for_user

DECISIONS = ("accept", "reject", "adjudicate")


def _id_or_none(value) -> int | None:
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18 else None


def _page(request, project, task, *, after=None, queued=False):
    config = get_ranking_config(project=project)
    context = {
        "project": project,
        "config": config,
        "counts": review_selectors.review_counts(project=project, config=config),
        "policy": config.get_review_policy_display(),
    }
    if task is None:
        context["after"] = after
        return render(request, "annotation/review_empty.html", context)
    view = context["view"] = review_selectors.review_task_view(task=task)
    state = view["review_state"]
    queue = review_selectors.review_queue(project=project, config=config)
    if not state and (queued or queue.filter(pk=task.pk).exists()):
        state = ReviewState.QUEUED  # picked by the policy, nobody decided yet
    context["state"] = ReviewState(state).label
    for record in view["reviews"]:
        record["label"] = ReviewDecision(record["decision"]).label
    labels = {c["id"]: c["label"] for c in view["completions"]}
    language = translation.get_language()
    for row in view["rankings"]:  # each labeler's aspect scores and strengths, in the page's letters
        row |= answers_for_review(row, labels, config.aspects, language)
    consensus = next((o for o in view["orders"] if o["source"] == "consensus"), None)
    context["consensus_letters"] = consensus["letters"] if consensus else ""
    return render(request, "annotation/review.html", context)


@login_required
def review_next(request, slug: str):
    """The queue's first task (after `?after=<id>` when the reviewer skipped one); nothing is claimed."""
    project = get_project_for_user(user=request.user, slug=slug, roles=review_selectors.REVIEW_ROLES)
    after = _id_or_none(request.GET.get("after"))
    config = get_ranking_config(project=project)
    task = review_selectors.next_review_task(project=project, config=config, after=after)
    return _page(request, project, task, after=after, queued=True)


@login_required
def review_task(request, slug: str, task_id: int):
    project = get_project_for_user(user=request.user, slug=slug, roles=review_selectors.REVIEW_ROLES)
    task = review_selectors.get_review_task(project=project, task_id=task_id)
    if task is None:
        raise Http404("No such task.")
    return _page(request, project, task)


@login_required
@require_POST
def review_decide(request, slug: str, task_id: int):
    project = get_project_for_user(user=request.user, slug=slug, roles=review_selectors.REVIEW_ROLES)
    task = review_selectors.get_review_task(project=project, task_id=task_id, to_show=False)
    if task is None:
        raise Http404("No such task.")
    decision = request.POST.get("decision", "")
    version = _id_or_none(request.POST.get("version"))
    reason = request.POST.get("reason", "")[: review.REASON_MAX_CHARS + 1]
    try:
        if decision == "accept":
            review.accept_task(task=task, reviewer=request.user, version=version, reason=reason)
            messages.success(request, _("Accepted task %(task)d.") % {"task": task.pk})
        elif decision == "reject":
            review.reject_ranking(
                task=task,
                reviewer=request.user,
                version=version,
                ranking_id=_id_or_none(request.POST.get("ranking")),
                reason=reason,
            )
            messages.success(request, _("Rejected the ranking; the task asks for one more."))
        elif decision == "adjudicate":
            order = review.order_from_labels(request.POST.get("order", ""), completion_ids=task.completion_ids)
            review.adjudicate_task(task=task, reviewer=request.user, version=version, order=order, reason=reason)
            messages.success(request, _("Task %(task)d now has your order as its consensus.") % {"task": task.pk})
        else:
            raise AnnotationError("decision: " + _("one of %(choices)s") % {"choices": ", ".join(DECISIONS)})
    except AnnotationError as exc:
        messages.error(request, str(exc))
        back = reverse("label-review-task", kwargs={"slug": project.slug, "task_id": task.pk})
        return HttpResponseRedirect(back, status=303)
    return HttpResponseRedirect(reverse("label-review", kwargs={"slug": project.slug}), status=303)
