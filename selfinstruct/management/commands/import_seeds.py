"""manage.py import_seeds PATH --project SLUG — import a Self-Instruct/BELLE JSONL seed file, all or nothing."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from projects.selectors import get_project_by_slug
from selfinstruct.seeds import SEED_FORMATS, SeedFileError
from selfinstruct.services import import_seed_file


class Command(BaseCommand):
    help = (
        "Import seed tasks (Self-Instruct/BELLE JSONL, Alpaca JSON, CSV; conversations as OpenAI messages or ShareGPT "
        "rows) into a project; bad input imports nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--project", required=True)
        parser.add_argument("--format", default="auto", choices=["auto", *SEED_FORMATS])

    def handle(self, *args, paths, project, format, **options):
        project_obj = get_project_by_slug(slug=project)
        if project_obj is None:
            raise CommandError(f"--project: no project with slug {project!r}")
        for path in paths:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
            try:
                result = import_seed_file(project=project_obj, path=path, fmt=format)
            except SeedFileError as exc:
                raise CommandError("\n".join(exc.problems) if len(exc.problems) > 1 else str(exc)) from None
            langs = ", ".join(f"{k}={v}" for k, v in sorted(result.by_language.items())) or "none"
            skipped = "1 duplicate" if result.duplicates == 1 else f"{result.duplicates} duplicates"
            self.stdout.write(f"{path}: {result.created} imported ({langs}), {skipped} skipped")
            if result.duplicate_ids:
                self.stdout.write(self.style.WARNING(f"{path}: warning: {result.duplicate_ids_warning}"))
