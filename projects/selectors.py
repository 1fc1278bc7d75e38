"""Reads scoped to what a user may see. Site admins (staff) see every project; others see their memberships."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import Http404

from projects.models import Membership, Project, Role, UserPreference


def projects_for_user(*, user: AbstractBaseUser, roles: tuple[str, ...] | None = None) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_staff:
        return Project.objects.all()
    memberships = Membership.objects.filter(user=user)
    if roles is not None:
        memberships = memberships.filter(role__in=roles)
    return Project.objects.filter(id__in=memberships.values("project_id"))


def get_project_for_user(*, user: AbstractBaseUser, slug: str, roles: tuple[str, ...] | None = None) -> Project:
    """The project, or Http404 — an outsider cannot tell a project they may not see from one that does not exist."""
    project = projects_for_user(user=user, roles=roles).filter(slug=slug).first()
    if project is None:
        raise Http404("No such project.")
    return project


def role_in_project(*, user: AbstractBaseUser, project: Project) -> str | None:
    if user.is_staff:
        return Role.ADMIN
    membership = Membership.objects.filter(user=user, project=project).first()
    return membership.role if membership else None


def user_roles(*, user: AbstractBaseUser) -> dict[str, str]:
    """{project slug: role} for the user's memberships."""
    return dict(Membership.objects.filter(user=user).values_list("project__slug", "role"))


def get_project_by_slug(*, slug: str) -> Project | None:
    """Unscoped lookup for admin-side tools (management commands); never use it to answer a user request."""
    return Project.objects.filter(slug=slug).first()


def signed_in_or_none(user):
    """The user to record as `created_by`: a signed-in user, else None (anonymous, or no user at all)."""
    return user if getattr(user, "is_authenticated", False) else None


def memberships_of(*, project: Project) -> QuerySet:
    """The project's members with their accounts and whether each holds an API token, by role then name."""
    from django.db.models import Exists, OuterRef

    from projects.models import ApiToken

    has_token = Exists(ApiToken.objects.filter(user_id=OuterRef("user_id")))
    return (
        Membership.objects.filter(project=project)
        .select_related("user")
        .annotate(has_token=has_token)
        .order_by("role", "user__username")
    )


def has_token(*, user) -> bool:
    from projects.models import ApiToken

    return ApiToken.objects.filter(user=user).exists()


def language_preference(*, user) -> str:
    """The language the user chose (a code of settings.LANGUAGES), or "" when they never chose one."""
    if not getattr(user, "is_authenticated", False):
        return ""
    return UserPreference.objects.filter(user=user).values_list("language", flat=True).first() or ""
