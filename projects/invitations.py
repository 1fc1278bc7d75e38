"""Membership by consent: a project admin invites a username, the invitee accepts (home page, or the link shown
once to the admin) or declines; and every member may leave a project.

An invitation answers the same whether or not the username exists (nothing tells an admin which accounts exist):
for an unknown name nothing is stored and the link leads nowhere. Only the link's SHA-256 digest is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from projects.models import Invitation, Membership, Project, Role
from projects.services import ProjectError, add_member, keep_an_admin

INVITATION_LIFETIME = timedelta(days=7)
MAX_LINK_CHARS = 128


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invite_member(*, project: Project, username: str, role: str, invited_by) -> str:
    """Invite `username` to `project` as `role`; returns the invitation link's token, to show once. Inviting again
    replaces the earlier invitation (and its link). Errors name the field; none depends on the account existing."""
    if role not in Role.values:
        raise ProjectError("role: " + _("one of %(roles)s") % {"roles": Role.values})
    if not isinstance(username, str) or not 0 < len(username) <= 150:
        raise ProjectError("username: " + _("between 1 and 150 characters"))
    token = secrets.token_urlsafe(32)
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        return token  # the same answer as for an existing account; nothing stored, the link leads nowhere
    if Membership.objects.filter(project=project, user=user).exists():
        # The admin sees the member table already: this tells nothing new.
        raise ProjectError("username: " + _("already a member; change their role in the table"))
    Invitation.objects.update_or_create(
        project=project,
        user=user,
        defaults={
            "role": role,
            "invited_by": invited_by if getattr(invited_by, "pk", None) else None,
            "digest": _digest(token),
            "expires_at": timezone.now() + INVITATION_LIFETIME,
        },
    )
    return token


def pending_invitations(*, user) -> QuerySet[Invitation]:
    """The user's invitations that have not expired, newest first, with their projects."""
    if not getattr(user, "is_authenticated", False):
        return Invitation.objects.none()
    return Invitation.objects.filter(user=user, expires_at__gt=timezone.now()).select_related("project", "invited_by")


def invitation_for(*, user, invitation_id: int | None = None, link: str | None = None) -> Invitation | None:
    """The user's own pending invitation by id or by link token; None for anyone else's, an expired or unknown one."""
    invitations = pending_invitations(user=user)
    if link is not None:
        if not isinstance(link, str) or not 0 < len(link) <= MAX_LINK_CHARS:
            return None
        return invitations.filter(digest=_digest(link)).first()
    return invitations.filter(pk=invitation_id).first()


@transaction.atomic
def accept_invitation(*, user, invitation_id: int | None = None, link: str | None = None) -> Membership:
    invitation = invitation_for(user=user, invitation_id=invitation_id, link=link)
    if invitation is None:
        raise ProjectError("invitation: " + _("no such invitation (it may have expired)"), code="not_found")
    keep_an_admin(invitation.project, user, invitation.role)  # already the sole admin there: not demoted by it
    membership = add_member(project=invitation.project, user=user, role=invitation.role)
    invitation.delete()
    return membership


def decline_invitation(*, user, invitation_id: int) -> None:
    invitation = invitation_for(user=user, invitation_id=invitation_id)
    if invitation is None:
        raise ProjectError("invitation: " + _("no such invitation (it may have expired)"), code="not_found")
    invitation.delete()


def leave_project(*, project: Project, user) -> bool:
    """The user leaves the project, whatever their role — the last admin too (site admins then run it)."""
    deleted, _ = Membership.objects.filter(project=project, user=user).delete()
    return deleted > 0
