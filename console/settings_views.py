"""The console's project settings for its admins (not staff): members and their roles, API tokens, and the
project's own LLM endpoints with their health (the global ones read-only, but for site admins)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from console.access import admin_project
from console.forms import AddMemberForm, EndpointForm, ProjectSettingsForm
from core.forms import add_service_error
from llm.health import with_health
from llm.keyscope import project_key_prefix
from llm.selectors import endpoint_references, get_project_endpoint, latest_checks, project_endpoint_lists
from llm.services import (
    EndpointError,
    delete_endpoint,
    request_endpoint_check,
    save_project_endpoint,
    set_endpoint_active,
)
from projects.invitations import invite_member
from projects.selectors import has_token, memberships_of
from projects.services import (
    ProjectError,
    add_project_member,
    change_member_role,
    remove_member,
    revoke_token,
    rotate_token,
    update_project,
)


def _members_page(request, project, form, *, shown=None, status=200):
    context = {
        "project": project,
        "form": form,
        "memberships": memberships_of(project=project),
        "roles": AddMemberForm.base_fields["role"].choices,
        "shown": shown,  # a password, token or invitation link made just now: shown on this response only
        "my_token": has_token(user=request.user),
    }
    return render(request, "console/members.html", context, status=status)


@login_required
def members(request, slug: str):
    """Project admins invite (the invitee accepts; the answer never tells whether the account exists); site admins
    add an account directly, or create one."""
    project = admin_project(request, slug)
    direct = request.user.is_staff
    form = AddMemberForm(request.POST or None, direct=direct)
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            if direct:
                membership, password, token = add_project_member(
                    project=project, username=values["username"], role=values["role"], create=values["create"]
                )
            else:
                link = invite_member(
                    project=project, username=values["username"], role=values["role"], invited_by=request.user
                )
        except ProjectError as exc:
            add_service_error(form, exc)
        else:
            if not direct:
                url = request.build_absolute_uri(reverse("invitation-join", kwargs={"link": link}))
                shown = {"username": values["username"], "link": url}
                messages.success(
                    request,
                    _("%(user)s is invited as %(role)s: the invitation waits on their home page for 7 days.")
                    % {
                        "user": values["username"],
                        "role": dict(AddMemberForm.base_fields["role"].choices)[values["role"]],
                    },
                )
                return _members_page(request, project, AddMemberForm(direct=direct), shown=shown)
            shown = {"username": membership.user.username, "password": password, "token": token}
            messages.success(
                request,
                _("%(user)s is now %(role)s.") % {"user": shown["username"], "role": membership.get_role_display()},
            )
            return _members_page(
                request, project, AddMemberForm(direct=direct), shown=shown if password or token else None
            )
    return _members_page(request, project, form, status=400 if form.errors else 200)


@login_required
@require_POST
def member_action(request, slug: str, user_id: int, action: str):
    """Change a member's role or remove them; the last admin is not demoted (the page says why), but anyone may
    be removed, and an admin may remove themself: leaving is never refused."""
    project = admin_project(request, slug)
    try:
        if action == "role":
            change_member_role(project=project, user_id=user_id, role=request.POST.get("role", "")[:16])
        elif action == "remove":
            remove_member(project=project, user_id=user_id)
        else:
            raise Http404("No such action.")
    except ProjectError as exc:
        messages.error(request, str(exc))
    if user_id == request.user.pk and action == "remove":
        return redirect("home")  # an admin who left the project can no longer see its pages
    return redirect("console-members", slug=project.slug)


@login_required
@require_POST
def my_token(request, slug: str):
    """The signed-in admin's own API token: a new one is shown once; revoking stops the old one at once."""
    project = admin_project(request, slug)
    if request.POST.get("action") == "revoke":
        revoke_token(user=request.user)
        messages.success(request, _("Your API token is revoked."))
        return redirect("console-members", slug=project.slug)
    token = rotate_token(user=request.user)
    shown = {"username": request.user.username, "password": None, "token": token}
    return _members_page(request, project, AddMemberForm(), shown=shown)


# --- endpoints --------------------------------------------------------------------------------------------------


UNDER_WAY = ("queued", "running")


def _endpoints_page(request, project, form, *, editing=None, status=200):
    own, shared = project_endpoint_lists(project=project)
    own_rows, shared_rows = with_health(own), with_health(shared)
    checks = latest_checks(endpoint_ids=[e.pk for e in own_rows + shared_rows])
    for endpoint in own_rows + shared_rows:
        # one Health column (e.health_detail: what it rests on, a check or a request); besides it, a check under
        # way and the error of the failed check it rests on
        check = checks.get(endpoint.pk)
        endpoint.check_under_way = check is not None and check.status in UNDER_WAY
        rests_on_check = check is not None and endpoint.health is not None and endpoint.health.source == "check"
        endpoint.check_error = check.error if rests_on_check and check.finished_at == endpoint.health.at else ""
    context = {
        "project": project,
        "checking": any(c.status in UNDER_WAY for c in checks.values()),
        "form": form,
        "own": own_rows,
        "shared": shared_rows,
        "manage_shared": request.user.is_staff,  # site-wide endpoints: site admins switch off and delete them
        "editing": editing,
        "key_prefix": project_key_prefix(project),
    }
    return render(request, "console/endpoints.html", context, status=status)


def _save_endpoint(request, project, form, editing=None):
    values = dict(form.cleaned_data)
    name = editing.name if editing is not None else values.pop("name")
    values.pop("name", None)
    if editing is not None and editing.served_key:
        values["api_key_env"] = ""  # the model server's own key is sent; no variable is read
    try:
        endpoint = save_project_endpoint(project=project, name=name, editing=editing is not None, **values)
    except EndpointError as exc:
        add_service_error(form, exc)
        return None
    messages.success(request, _("Endpoint %(name)s saved.") % {"name": endpoint.name})
    return redirect("console-endpoints", slug=project.slug)


@login_required
def endpoints(request, slug: str):
    """Add an endpoint (a taken name is refused: editing one is its own page)."""
    project = admin_project(request, slug)
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        done = _save_endpoint(request, project, form)
        if done is not None:
            return done
    return _endpoints_page(request, project, form, status=400 if form.errors else 200)


@login_required
def endpoint_edit(request, slug: str, name: str):
    project = admin_project(request, slug)
    endpoint = get_project_endpoint(project=project, name=name)
    if endpoint is None:
        raise Http404("No such endpoint in this project.")
    fields = EndpointForm.base_fields
    initial = {field: getattr(endpoint, field) for field in fields}
    form = EndpointForm(request.POST or None, initial=initial)
    form.fields["name"].disabled = True  # renaming would orphan what names it (batches, plans)
    if endpoint.served_key:
        del form.fields["api_key_env"]  # shown as "key managed by the model server" instead of an empty box
    if request.method == "POST" and form.is_valid():
        done = _save_endpoint(request, project, form, editing=endpoint)
        if done is not None:
            return done
    return _endpoints_page(request, project, form, editing=endpoint, status=400 if form.errors else 200)


def _usable_endpoint(request, project, name: str):
    """One of the endpoints the project's page lists: its own, or a site-wide one."""
    endpoint = get_project_endpoint(project=project, name=name)
    if endpoint is None:
        endpoint = project_endpoint_lists(project=project)[1].filter(name=name).first()
    if endpoint is None:
        raise Http404("No such endpoint.")
    return endpoint


def _managed_endpoint(request, project, name: str):
    """An endpoint this admin may switch off or delete: the project's own; a site-wide one for site admins only."""
    endpoint = _usable_endpoint(request, project, name)
    if endpoint.project_id is None and not request.user.is_staff:
        raise Http404("Site-wide endpoints are managed by site admins.")
    return endpoint


@login_required
@require_POST
def endpoint_check(request, slug: str, name: str):
    """Queue a round trip through a worker to one of the project's usable endpoints."""
    project = admin_project(request, slug)
    endpoint = _usable_endpoint(request, project, name)
    check = request_endpoint_check(endpoint=endpoint, requested_by=request.user)
    messages.success(
        request, _("Check #%(id)d queued: a worker sends one request to %(name)s.") % {"id": check.pk, "name": name}
    )
    return redirect("console-endpoints", slug=project.slug)


@login_required
def endpoint_switch(request, slug: str, name: str):
    """GET: confirm switching it off. POST active=on|off: no new run may use a switched-off endpoint; its history
    stays, and switching it on again makes it usable."""
    project = admin_project(request, slug)
    endpoint = _managed_endpoint(request, project, name)
    if request.method != "POST":
        return render(request, "console/endpoint_confirm.html", {"project": project, "endpoint": endpoint})
    active = request.POST.get("active") == "on"
    set_endpoint_active(endpoint, active)
    if active:
        messages.success(request, _("Endpoint %(name)s is switched on.") % {"name": endpoint.name})
    else:
        messages.success(request, _("Endpoint %(name)s is switched off.") % {"name": endpoint.name})
    return redirect("console-endpoints", slug=project.slug)


@login_required
def endpoint_delete(request, slug: str, name: str):
    """GET: confirm (or say why it cannot go: what uses it). POST: delete it."""
    project = admin_project(request, slug)
    endpoint = _managed_endpoint(request, project, name)
    if request.method != "POST":
        used_by = sum(endpoint_references(endpoint=endpoint).values())
        context = {"project": project, "endpoint": endpoint, "deleting": True, "used_by": used_by}
        return render(request, "console/endpoint_confirm.html", context)
    try:
        delete_endpoint(endpoint)
    except EndpointError:
        messages.error(
            request,
            _("%(name)s is used by runs or requests: deleting it would lose their history. Switch it off instead.")
            % {"name": name},
        )
    else:
        messages.success(request, _("Endpoint %(name)s is deleted.") % {"name": name})
    return redirect("console-endpoints", slug=project.slug)


# --- the project itself -----------------------------------------------------------------------------------------


@login_required
def project_settings(request, slug: str):
    """The project's name, description and the guidelines labelers see on every ranking page."""
    project = admin_project(request, slug)
    initial = {"name": project.name, "description": project.description, "guidelines": project.guidelines}
    form = ProjectSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            update_project(project=project, **form.cleaned_data)
        except ProjectError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, _("Project saved."))
            return redirect("console-project", slug=project.slug)
    status = 400 if form.errors else 200
    return render(request, "console/project.html", {"project": project, "form": form}, status=status)
