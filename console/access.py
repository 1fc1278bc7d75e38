"""Who may open a console page: the project's admins (and site admins); anyone else gets a 404."""

from projects.models import Role
from projects.selectors import get_project_for_user


def admin_project(request, slug: str):
    return get_project_for_user(user=request.user, slug=slug, roles=(Role.ADMIN,))
