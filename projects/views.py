"""Server-rendered pages: the signed-in user's home (their projects, and creating one) and the throttled sign-in."""

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.forms.utils import ErrorDict
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core.forms import add_service_error
from projects import signin
from projects.selectors import projects_for_user, user_roles
from projects.services import MAX_DESCRIPTION_CHARS, ProjectError, can_create_projects, create_project_as


class ThrottledLoginView(auth_views.LoginView):
    """Django's login view with django-axes lock-outs (projects.signin), attempts for one username from one address
    taken one at a time so that concurrent guesses are counted before the next is checked. Used for the site's and
    the admin's sign-in pages; a locked-out attempt answers 429 (`locked_out`) without checking the password."""

    def post(self, request, *args, **kwargs):
        with signin.serialized(username=request.POST.get("username", "")[:150], request=request):
            return super().post(request, *args, **kwargs)


def locked_out(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the sign-in page again, with the reason, as HTTP 429."""
    message = _("Too many failed sign-in attempts. Wait a few minutes and try again.")
    context = getattr(original_response, "context_data", None)
    if not isinstance(original_response, TemplateResponse) or not context or "form" not in context:
        return HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    form = context["form"]
    form._errors = ErrorDict({NON_FIELD_ERRORS: form.error_class([message])})
    response = TemplateResponse(request, original_response.template_name, {**context, "throttled": True}, status=429)
    return response.render()


class ProjectForm(forms.Form):
    slug = forms.SlugField(max_length=64, label=_lazy("Slug"), help_text=_lazy("Letters, digits, - and _; in URLs."))
    name = forms.CharField(max_length=200, label=_lazy("Name"))
    description = forms.CharField(
        max_length=MAX_DESCRIPTION_CHARS, required=False, label=_lazy("Description"), widget=forms.Textarea
    )


@login_required
def home(request):
    """The user's projects with links to what they do there; a form to create one for those allowed to."""
    form = ProjectForm(request.POST or None) if can_create_projects(request.user) else None
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
    rows = [{"project": p, "role": "admin" if request.user.is_staff else roles.get(p.slug)} for p in projects]
    return render(
        request, "projects/home.html", {"rows": rows, "form": form}, status=400 if form and form.errors else 200
    )
