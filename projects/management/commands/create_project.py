"""manage.py create_project SLUG --name NAME [--description TEXT] [--guidelines-file FILE] [--admin USERNAME]
[--as USERNAME]"""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from projects.services import MAX_DESCRIPTION_CHARS, ProjectError, create_project_as


class Command(BaseCommand):
    help = (
        "Create a project. From the server's shell the command acts as a site admin; --as USERNAME creates it as "
        "that user instead (under PROJECT_CREATION, as the home page and the API do), who becomes its admin. "
        "--admin makes an existing user its admin too."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--description", default="")
        parser.add_argument("--guidelines-file", type=Path, help="Markdown shown to labelers on every ranking page")
        parser.add_argument("--admin", help="username of an existing user to make the project's admin")
        parser.add_argument(
            "--as", dest="acting", help="create the project as this user (PROJECT_CREATION decides if they may)"
        )

    def handle(self, *args, slug, name, description, guidelines_file, admin, acting, **options):
        guidelines = ""
        if guidelines_file:
            try:
                guidelines = guidelines_file.read_text(encoding="utf-8")[: MAX_DESCRIPTION_CHARS + 1]
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"--guidelines-file: {exc}") from None
        admin_user = _user("--admin", admin) if admin else None
        # The shell of the server is a site admin's: without --as the command acts as one.
        user = _user("--as", acting) if acting else get_user_model()(username="manage.py", is_staff=True)
        try:
            project = create_project_as(
                user=user, slug=slug, name=name, description=description, guidelines=guidelines, admin=admin_user
            )
        except ProjectError as exc:
            raise CommandError(f"--as {acting}: {exc}" if exc.code == "forbidden" else str(exc)) from None
        admins = sorted(m.user.username for m in project.memberships.select_related("user"))
        self.stdout.write(
            f"created project {project.slug} ({project.name})"
            + (f", admin {', '.join(admins)}" if admins else "; no project admin yet: site admins run it")
        )


def _user(option: str, username: str):
    found = get_user_model().objects.filter(username=username).first()
    if found is None:
        raise CommandError(f"{option}: no user named {username!r} (create_user makes one)")
    return found
