"""manage.py create_project SLUG --name NAME [--description TEXT] [--guidelines-file FILE] [--admin USERNAME]"""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from projects.services import MAX_DESCRIPTION_CHARS, ProjectError, create_project_as


class Command(BaseCommand):
    help = "Create a project (as a site admin, from the server's shell); --admin makes an existing user its admin."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--description", default="")
        parser.add_argument("--guidelines-file", type=Path, help="Markdown shown to labelers on every ranking page")
        parser.add_argument("--admin", help="username of an existing user to make the project's admin")

    def handle(self, *args, slug, name, description, guidelines_file, admin, **options):
        guidelines = ""
        if guidelines_file:
            try:
                guidelines = guidelines_file.read_text(encoding="utf-8")[: MAX_DESCRIPTION_CHARS + 1]
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"--guidelines-file: {exc}") from None
        admin_user = None
        if admin:
            admin_user = get_user_model().objects.filter(username=admin).first()
            if admin_user is None:
                raise CommandError(f"--admin: no user named {admin!r} (create_user makes one)")
        # The shell of the server is a site admin's: the command acts as one.
        acting = get_user_model()(username="manage.py", is_staff=True)
        try:
            project = create_project_as(
                user=acting, slug=slug, name=name, description=description, guidelines=guidelines, admin=admin_user
            )
        except ProjectError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"created project {project.slug} ({project.name})" + (f", admin {admin}" if admin else ""))
