"""manage.py create_user NAME --role admin|project-admin|labeler|reviewer|consumer [--project SLUG] [--token]"""

import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from projects.selectors import get_project_by_slug
from projects.services import SITE_ROLES, create_user


class Command(BaseCommand):
    help = "Create a user with a role; a random password is printed unless PASSWORD_ENV names a variable holding one."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=SITE_ROLES)
        parser.add_argument("--project", help="slug of a project to add the user to, with the same role")
        parser.add_argument("--token", action="store_true", help="issue an API token and print it")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-env", help="name of an environment variable holding the password (never pass it as an arg)"
        )

    def handle(self, *args, username, role, project, token, email, password_env, **options):
        project_obj = None
        if project:
            project_obj = get_project_by_slug(slug=project)
            if project_obj is None:
                raise CommandError(f"--project: no project with slug {project!r}")
        password = None
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise CommandError(f"--password-env: environment variable {password_env} is not set")
        try:
            user, generated, key = create_user(
                username=username, role=role, password=password, email=email, project=project_obj, with_token=token
            )
        except (ValueError, ValidationError) as exc:
            messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            raise CommandError("; ".join(messages)) from None
        self.stdout.write(f"created {role} {user.username}" + (f" in project {project}" if project else ""))
        if generated:
            self.stdout.write(f"password: {generated}")
        if key:
            self.stdout.write(f"token: {key}")
