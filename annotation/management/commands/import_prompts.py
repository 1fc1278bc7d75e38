"""manage.py import_prompts --project SLUG PATH — a prompt list to sample completions for (all or nothing)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.files import AnnotationFileError
from annotation.services import import_prompt_list
from projects.selectors import get_project_by_slug


class Command(BaseCommand):
    help = 'Import prompts (JSONL or a JSON list of {"instruction", "input"} / {"prompt"} / strings).'

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("path", type=Path)

    def handle(self, *args, **o):
        project = get_project_by_slug(slug=o["project"])
        if project is None:
            raise CommandError(f"--project: no project with slug {o['project']!r}")
        try:
            summary = import_prompt_list(project=project, path=o["path"])
        except AnnotationFileError as exc:
            raise CommandError(f"{exc} (nothing was imported)") from None
        self.stdout.write(f"prompts created: {summary.prompts_created}")
