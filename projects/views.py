"""Server-rendered pages: the signed-in user's home (their projects) and the throttled sign-in."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.forms.utils import ErrorDict
from django.http import HttpResponse
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from projects import signin
from projects.selectors import projects_for_user, user_roles


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


@login_required
def home(request):
    projects = projects_for_user(user=request.user)
    roles = user_roles(user=request.user)
    rows = [{"project": p, "role": "admin" if request.user.is_staff else roles.get(p.slug)} for p in projects]
    return render(request, "projects/home.html", {"rows": rows})
