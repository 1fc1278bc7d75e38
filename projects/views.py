"""Server-rendered pages: the signed-in user's home (their projects and invitations, creating one), accepting an
invitation, leaving a project, and the throttled sign-in."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.forms.utils import ErrorDict
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.utils.translation import check_for_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views import i18n as i18n_views
from django.views.decorators.http import require_POST

from core.forms import add_service_error
from projects import signin
from projects.invitations import (
    accept_invitation,
    decline_invitation,
    invitation_for,
    leave_project,
    pending_invitations,
)
from projects.models import Role
from projects.selectors import get_project_for_user, language_preference, projects_for_user, user_roles
from projects.services import (
    MAX_DESCRIPTION_CHARS,
    ProjectError,
    can_create_projects,
    create_project_as,
    creation_refusal,
    set_language_preference,
)


class ThrottledLoginView(auth_views.LoginView):
    """Django's login view with django-axes lock-outs (projects.signin), attempts for one username from one address
    taken one at a time so that concurrent guesses are counted before the next is checked. Used for the site's and
    the admin's sign-in pages; a locked-out attempt answers 429 (`locked_out`) without checking the password."""

    def post(self, request, *args, **kwargs):
        with signin.serialized(username=request.POST.get("username", "")[:150], request=request):
            return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        signin.remember_device(response, username=form.get_user().get_username())  # exempt from the ceiling
        language = language_preference(user=form.get_user())
        if language:  # the language the user chose, in whatever browser they chose it
            _set_language_cookie(response, language)
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # the admin's sign-in page says "You are authenticated as <username>, but are not authorized…"
        context.setdefault("username", self.request.user.get_username())
        return context


def set_language(request):
    """Django's language switch (the top bar's form), which also keeps a signed-in user's choice on their account
    so that it follows them to another browser (applied at sign-in)."""
    response = i18n_views.set_language(request)
    language = request.POST.get("language", "") if request.method == "POST" else ""
    if language and check_for_language(language):
        set_language_preference(user=request.user, language=language)
    return response


def _set_language_cookie(response, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


def locked_out(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the sign-in page again, with the reason, as HTTP 429 with Retry-After (seconds until
    the locks holding this attempt lift)."""
    wait = signin.retry_after_seconds(request, credentials)
    if signin.username_ceiling_reached(request, credentials):
        minutes = -(-wait // 60)
        message = ngettext(
            "Too many failed sign-in attempts for this account. Try again in %(minutes)d minute.",
            "Too many failed sign-in attempts for this account. Try again in %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}
    else:
        message = _("Too many failed sign-in attempts. Wait a few minutes and try again.")
    context = getattr(original_response, "context_data", None)
    if not isinstance(original_response, TemplateResponse) or not context or "form" not in context:
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    else:
        form = context["form"]
        form._errors = ErrorDict({NON_FIELD_ERRORS: form.error_class([message])})
        context = {**context, "throttled": True, "throttle_message": message}
        response = TemplateResponse(request, original_response.template_name, context, status=429).render()
    response["Retry-After"] = str(wait)
    return response


class ProjectForm(forms.Form):
    slug = forms.SlugField(
        max_length=64, label=gettext_lazy("Slug"), help_text=gettext_lazy("Letters, digits, - and _; in URLs.")
    )
    name = forms.CharField(max_length=200, label=gettext_lazy("Name"))
    description = forms.CharField(
        max_length=MAX_DESCRIPTION_CHARS, required=False, label=gettext_lazy("Description"), widget=forms.Textarea
    )


@login_required
def home(request):
    """The user's projects with links to what they do there; a form to create one for those allowed to."""
    allowed = can_create_projects(request.user)
    form = ProjectForm(request.POST or None) if allowed else None
    if request.method == "POST" and form is not None and form.is_valid():
        try:
            project = create_project_as(user=request.user, **form.cleaned_data)
        except ProjectError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, _("Project %(slug)s created.") % {"slug": project.slug})
            return redirect("console-overview", slug=project.slug)  # where its admin starts
    projects = projects_for_user(user=request.user)
    roles = user_roles(user=request.user)
    rows = []
    for p in projects:
        role = "admin" if request.user.is_staff else roles.get(p.slug)
        label = Role(roles[p.slug]).label if p.slug in roles else _("Site admin")
        rows.append({"project": p, "role": role, "role_label": label, "member": p.slug in roles})
    context = {
        "rows": rows,
        "form": form,
        "refusal": "" if allowed else creation_refusal(),
        "invitations": pending_invitations(user=request.user),
    }
    return render(request, "projects/home.html", context, status=400 if form and form.errors else 200)


@login_required
@require_POST
def respond_to_invitation(request, invitation_id: int, action: str):
    """The invitee accepts or declines one of their invitations (anyone else's, or an expired one: 404)."""
    try:
        if action == "accept":
            membership = accept_invitation(user=request.user, invitation_id=invitation_id)
            messages.success(request, _("You joined %(project)s.") % {"project": membership.project.name})
        elif action == "decline":
            decline_invitation(user=request.user, invitation_id=invitation_id)
            messages.success(request, _("Invitation declined."))
        else:
            raise Http404("No such action.")
    except ProjectError:
        raise Http404("No such invitation.") from None
    return redirect("home")


@login_required
def join_by_link(request, link: str):
    """The link an admin was shown once: for the invitee signed in, a page to accept (POST); anyone else: 404."""
    invitation = invitation_for(user=request.user, link=link)
    if invitation is None:
        raise Http404("No such invitation.")
    if request.method == "POST":
        accept_invitation(user=request.user, link=link)
        messages.success(request, _("You joined %(project)s.") % {"project": invitation.project.name})
        return redirect("home")
    return render(request, "projects/join.html", {"invitation": invitation})


@login_required
@require_POST
def leave(request, slug: str):
    """The signed-in member leaves the project, whatever their role (the last admin too: site admins run it then)."""
    project = get_project_for_user(user=request.user, slug=slug)
    if not leave_project(project=project, user=request.user):
        raise Http404("Not a member.")  # a site admin who is no member: nothing to leave
    messages.success(request, _("You left %(project)s.") % {"project": project.name})
    return redirect("home")
