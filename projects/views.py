"""Server-rendered pages: the signed-in user's home (their projects)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from projects.selectors import projects_for_user, user_roles


@login_required
def home(request):
    projects = projects_for_user(user=request.user)
    roles = user_roles(user=request.user)
    rows = [{"project": p, "role": "admin" if request.user.is_staff else roles.get(p.slug)} for p in projects]
    return render(request, "projects/home.html", {"rows": rows})
