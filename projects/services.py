"""Writes for projects, members and accounts."""

from __future__ import annotations

import re
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import ASCIIUsernameValidator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.errors import ServiceError
from projects.models import Membership, Project, Role, UserPreference
from projects.tokens import issue_token, revoke_token, rotate_token  # noqa: F401 - the token services, re-exported

User = get_user_model()

# admin: a site admin (staff, Django admin, every project). project-admin: runs one project's loop through the API,
# CLI and pages, but is not staff. labeler, reviewer, consumer: members of a project with that role.
SITE_ROLES = ("admin", "project-admin", "labeler", "reviewer", "consumer")


# `p` and digits is how API key variables name a project by id (LLM_KEY_P<id>_, llm.keyscope): a project slugged
# p12 would share the key scope of project 12, so such slugs are not given out.
RESERVED_SLUG = re.compile(r"^p\d+(?:[-_]|$)", re.IGNORECASE)


def create_project(*, slug: str, name: str, description: str = "", guidelines: str = "") -> Project:
    if isinstance(slug, str) and RESERVED_SLUG.match(slug):
        raise ValidationError({"slug": ["'p' followed by digits is reserved (API key variables name projects so)"]})
    project = Project(slug=slug, name=name, description=description, guidelines=guidelines)
    project.full_clean()
    project.save()
    return project


class ProjectError(ServiceError):
    pass


MAX_DESCRIPTION_CHARS = 20_000


def can_create_projects(user) -> bool:
    """Whether `user` may create a project, by the site's PROJECT_CREATION: "staff" (site admins only),
    "permission" (site admins and users a site admin gave `projects.add_project`), "anyone" (every signed-in user).
    Site admins always may."""
    if not (user and user.is_authenticated):
        return False
    if user.is_staff or settings.PROJECT_CREATION == "anyone":
        return True
    return settings.PROJECT_CREATION == "permission" and user.has_perm("projects.add_project")


def creation_refusal() -> str:
    """Why a user may not create a project here, and whom to ask (in the active language)."""
    if settings.PROJECT_CREATION == "staff":
        return _(
            "Only site admins create projects on this server. Ask a site admin to create one for you; "
            "they can make you its admin."
        )
    return _(
        "Creating projects needs a site admin's permission (projects.add_project). Ask a site admin to create one "
        "for you, or to give you that permission."
    )


def create_project_as(
    *, user, slug: str, name: str, description: str = "", guidelines: str = "", admin=None
) -> Project:
    """Create a project for `user` (refused unless can_create_projects): the creator becomes its admin — a site
    admin too, so that no project starts without one — and `admin` (a user) as well when given. Bad or taken slugs
    and names are refused naming the field."""
    if not can_create_projects(user):
        raise ProjectError(creation_refusal(), code="forbidden")
    for field, value, limit in (
        ("slug", slug, 64),
        ("name", name, 200),
        ("description", description, MAX_DESCRIPTION_CHARS),
        ("guidelines", guidelines, MAX_DESCRIPTION_CHARS),
    ):
        if not isinstance(value, str) or len(value) > limit:
            raise ProjectError(f"{field}: " + _("text of at most %(n)d characters") % {"n": limit})
    taken = ProjectError(
        "slug: " + _("a project %(slug)r exists already; choose another slug") % {"slug": slug}, code="conflict"
    )
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
        for member in {u for u in (admin, user) if u is not None and u.pk is not None}:
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
    UI of their projects; reviewer: the review page and API of their projects; consumer: token API.
    """
    if role not in SITE_ROLES:
        raise ValueError(f"role must be one of {list(SITE_ROLES)}, got {role!r}")
    if role == "project-admin" and project is None:
        raise ValueError("a project-admin needs a project")
    validate_new_username(username)
    generated = None
    if password is None:
        generated = password = secrets.token_urlsafe(12)
    user = User(username=username, email=email, is_staff=role == "admin", is_superuser=role == "admin")
    validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # a concurrent look-alike: the unique index on LOWER(username) (migration 0004)
        raise ValidationError({"username": f"a user {username!r} already exists"}) from None
    if project is not None:
        add_member(project=project, user=user, role=membership_role(role))
    token = issue_token(user=user) if with_token else None
    return user, generated, token


_ascii_usernames = ASCIIUsernameValidator()


def validate_new_username(username: str) -> None:
    """A new account's name: ASCII letters, digits and @.+-_ only (no Cyrillic `а` posing as `a`), and unlike every
    existing name ignoring case (no `Admin` beside `admin`). Raises ValidationError naming the username."""
    if not isinstance(username, str) or not 0 < len(username) <= 150:
        raise ValidationError({"username": "between 1 and 150 characters"})
    try:
        _ascii_usernames(username)
    except ValidationError as exc:
        raise ValidationError({"username": exc.messages}) from None
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"a user {username!r} already exists (names are compared ignoring case)"})


# --- Members, as site admins add them directly (console, CLI); project admins invite (projects.invitations) ------

# The site role a new account gets when a project admin creates it for a project role (never a site admin).
SITE_ROLE_FOR = {
    Role.ADMIN: "project-admin",
    Role.LABELER: "labeler",
    Role.REVIEWER: "reviewer",
    Role.CONSUMER: "consumer",
}


@transaction.atomic
def add_project_member(*, project: Project, username: str, role: str, create: bool = False):
    """Give `username` a role in `project` at once — for site admins only (project admins invite: the invitee
    consents, see projects.invitations); with `create`, make the account first (its generated password, and an
    API token for a consumer, are returned once: (membership, password, token)). Errors name the field."""
    if role not in Role.values:
        raise ProjectError("role: " + _("one of %(roles)s") % {"roles": Role.values})
    if not isinstance(username, str) or not 0 < len(username) <= 150:
        raise ProjectError("username: " + _("between 1 and 150 characters"))
    user = User.objects.filter(username=username).first()
    password = token = None
    if user is None:
        if not create:
            raise ProjectError(
                "username: "
                + _("no account named %(name)r; tick 'create the account' to make one") % {"name": username}
            )
        try:
            user, password, token = create_user(
                username=username, role=SITE_ROLE_FOR[role], project=project, with_token=role == Role.CONSUMER
            )
        except ValidationError as exc:
            raise ProjectError(f"username: {' '.join(exc.messages)}") from None
        except ValueError as exc:
            raise ProjectError(f"username: {exc}") from None
    elif create:
        raise ProjectError(
            "username: " + _("an account named %(name)r exists already; untick 'create' to add it") % {"name": username}
        )
    keep_an_admin(project, user, role)
    return add_member(project=project, user=user, role=role), password, token


def keep_an_admin(project: Project, user, new_role: str | None) -> None:
    """Refuse a demotion that would leave the project with no admin. Leaving or being removed is never refused
    (nobody is trapped in a project): a project without admins is run by the site admins."""
    current = Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    if current != Role.ADMIN or new_role == Role.ADMIN:
        return
    admins = Membership.objects.select_for_update().filter(project=project, role=Role.ADMIN)
    if len(admins) <= 1:
        raise ProjectError("role: " + _("the project needs at least one admin; make someone else admin first"))


@transaction.atomic
def change_member_role(*, project: Project, user_id: int, role: str) -> Membership:
    if role not in Role.values:
        raise ProjectError("role: " + _("one of %(roles)s") % {"roles": Role.values})
    membership = Membership.objects.select_related("user").filter(project=project, user_id=user_id).first()
    if membership is None:
        raise ProjectError("member: " + _("not a member of this project"), code="not_found")
    keep_an_admin(project, membership.user, role)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(*, project: Project, user_id: int) -> None:
    membership = Membership.objects.select_related("user").filter(project=project, user_id=user_id).first()
    if membership is None:
        raise ProjectError("member: " + _("not a member of this project"), code="not_found")
    membership.delete()


def update_project(*, project: Project, name: str, description: str = "", guidelines: str = "") -> Project:
    """A project's name, description and labeler guidelines (Markdown), as its admin edits them; the slug stays."""
    for field, value, limit in (
        ("name", name, 200),
        ("description", description, MAX_DESCRIPTION_CHARS),
        ("guidelines", guidelines, MAX_DESCRIPTION_CHARS),
    ):
        if not isinstance(value, str) or len(value) > limit:
            raise ProjectError(f"{field}: " + _("text of at most %(n)d characters") % {"n": limit})
    if not name.strip():
        raise ProjectError("name: " + _("must not be empty"))
    project.name, project.description, project.guidelines = name.strip(), description, guidelines
    project.save(update_fields=["name", "description", "guidelines"])
    return project


def set_language_preference(*, user, language: str) -> None:
    """Keep `language` (a code of settings.LANGUAGES) as the user's; anything else is ignored."""
    if getattr(user, "is_authenticated", False) and language in dict(settings.LANGUAGES):
        UserPreference.objects.update_or_create(user=user, defaults={"language": language})
