"""Server-rendered pages: the signed-in user's home (their projects) and the throttled sign-in."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.forms.utils import ErrorDict
from django.shortcuts import render
from django.utils.translation import gettext as _

from projects.selectors import projects_for_user, user_roles
from projects.services import clear_login_failures, login_refused, record_login_failure


class ThrottledLoginView(auth_views.LoginView):
    """Django's login view, refusing attempts (HTTP 429) once a username or an address has failed too often.

    Used for the site's and the admin's sign-in pages."""

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username", "")
        if login_refused(username=username, client_ip=_client_ip(request)):
            form = self.get_form_class()(request=request)  # unbound: the password is never checked
            message = _("Too many failed sign-in attempts. Wait a few minutes and try again.")
            form._errors = ErrorDict({NON_FIELD_ERRORS: form.error_class([message])})
            return self.render_to_response(self.get_context_data(form=form, throttled=True), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        record_login_failure(username=self.request.POST.get("username", ""), client_ip=_client_ip(self.request))
        return super().form_invalid(form)

    def form_valid(self, form):
        clear_login_failures(username=form.get_user().get_username())
        return super().form_valid(form)


def _client_ip(request) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client says unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR", "")


@login_required
def home(request):
    projects = projects_for_user(user=request.user)
    roles = user_roles(user=request.user)
    rows = [{"project": p, "role": "admin" if request.user.is_staff else roles.get(p.slug)} for p in projects]
    return render(request, "projects/home.html", {"rows": rows})
