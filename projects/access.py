"""The one check for API actions a project's readers may not take: a consumer reads; acting on the project's shared
work (spending its LLM budget or GPU time, stopping others' runs) is for its admins."""

from __future__ import annotations

from rest_framework.exceptions import PermissionDenied

from projects.models import Role
from projects.selectors import role_in_project


def require_project_admin(user, project, what: str) -> None:
    """403 "only project admins may <what>" unless `user` administers `project` (site admins do). Callers have
    already found the project among the user's own (else 404)."""
    if role_in_project(user=user, project=project) != Role.ADMIN:
        raise PermissionDenied(f"only project admins may {what}")
