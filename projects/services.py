"""Writes for projects, members and accounts."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from core.errors import ServiceError
from projects.models import Membership, Project, Role

User = get_user_model()

# admin: a site admin (staff, Django admin, every project). project-admin: runs one project's loop through the API,
# CLI and pages, but is not staff. labeler, consumer: members of a project with that role.
SITE_ROLES = ("admin", "project-admin", "labeler", "consumer")


def create_project(*, slug: str, name: str, description: str = "", guidelines: str = "") -> Project:
    project = Project(slug=slug, name=name, description=description, guidelines=guidelines)
    project.full_clean()
    project.save()
    return project


class ProjectError(ServiceError):
    pass


MAX_DESCRIPTION_CHARS = 20_000


def can_create_projects(user) -> bool:
    """Site admins, and users a site admin gave the `projects.add_project` permission (project admins are not,
    by default: they run their own projects)."""
    return bool(user and user.is_authenticated and (user.is_staff or user.has_perm("projects.add_project")))


def create_project_as(
    *, user, slug: str, name: str, description: str = "", guidelines: str = "", admin=None
) -> Project:
    """Create a project for `user` (refused unless can_create_projects); a non-staff creator becomes its admin, and
    `admin` (a user) too when given. Bad or taken slugs and names are refused naming the field."""
    if not can_create_projects(user):
        raise ProjectError(
            "only site admins, or users a site admin allowed to (permission projects.add_project), create projects",
            code="forbidden",
        )
    for field, value, limit in (
        ("slug", slug, 64),
        ("name", name, 200),
        ("description", description, MAX_DESCRIPTION_CHARS),
        ("guidelines", guidelines, MAX_DESCRIPTION_CHARS),
    ):
        if not isinstance(value, str) or len(value) > limit:
            raise ProjectError(f"{field}: text of at most {limit} characters")
    taken = ProjectError(f"slug: a project {slug!r} exists already; choose another slug", code="conflict")
    if Project.objects.filter(slug=slug).exists():
        raise taken
    with transaction.atomic():
        try:
            project = create_project(slug=slug, name=name, description=description, guidelines=guidelines)
        except ValidationError as exc:
            field, errors = next(iter(exc.message_dict.items()))
            raise ProjectError(f"{field}: {' '.join(errors)}") from None
        except IntegrityError:
            raise taken from None
        for member in {u for u in (admin, None if user.is_staff else user) if u is not None}:
            add_member(project=project, user=member, role=Role.ADMIN)
    return project


def get_or_create_project(*, slug: str, name: str, description: str = "", guidelines: str = "") -> Project:
    existing = Project.objects.filter(slug=slug).first()
    if existing:
        return existing
    return create_project(slug=slug, name=name, description=description, guidelines=guidelines)


def membership_role(site_role: str) -> str:
    """The project role a site role gives (a project-admin is the project's admin; other roles keep their name)."""
    return Role.ADMIN if site_role == "project-admin" else site_role


def add_member(*, project: Project, user, role: str) -> Membership:
    if role not in Role.values:
        raise ValueError(f"role must be one of {Role.values}, got {role!r}")
    membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    return membership


@transaction.atomic
def create_user(
    *,
    username: str,
    role: str,
    password: str | None = None,
    email: str = "",
    project: Project | None = None,
    with_token: bool = False,
) -> tuple[object, str | None, str | None]:
    """Create a user with a site role; returns (user, password if generated, API token if asked).

    admin: staff + superuser (Django admin); project-admin: admin of `project` only, not staff; labeler: labeling
    UI of their projects; consumer: token API.
    """
    if role not in SITE_ROLES:
        raise ValueError(f"role must be one of {list(SITE_ROLES)}, got {role!r}")
    if role == "project-admin" and project is None:
        raise ValueError("a project-admin needs a project")
    if User.objects.filter(username=username).exists():
        raise ValueError(f"user {username!r} already exists")
    generated = None
    if password is None:
        generated = password = secrets.token_urlsafe(12)
    user = User(username=username, email=email, is_staff=role == "admin", is_superuser=role == "admin")
    validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    if project is not None:
        add_member(project=project, user=user, role=membership_role(role))
    token = issue_token(user=user) if with_token else None
    return user, generated, token


def issue_token(*, user) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def revoke_token(*, user) -> bool:
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted > 0


def rotate_token(*, user) -> str:
    """Replace the user's API token with a new one (the old one stops working at once)."""
    with transaction.atomic():
        revoke_token(user=user)
        return issue_token(user=user)
