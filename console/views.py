"""The console's pages for project admins (not staff): the project overview, live while work runs."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from console.pipeline import running, stages
from projects.models import Role
from projects.selectors import get_project_for_user


@login_required
def overview(request, slug: str):
    project = get_project_for_user(user=request.user, slug=slug, roles=(Role.ADMIN,))
    context = {"project": project, "stages": stages(project=project), "runs": running(project=project)}
    return render(request, "console/overview.html", context)


@login_required
def running_now(request, slug: str):
    """The stages and the running-now panel alone: the overview polls them (htmx) every few seconds."""
    project = get_project_for_user(user=request.user, slug=slug, roles=(Role.ADMIN,))
    context = {"project": project, "stages": stages(project=project), "runs": running(project=project)}
    return render(request, "console/running.html", context)
