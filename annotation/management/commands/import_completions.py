"""manage.py import_completions --project SLUG PATH [PATH …] — one file per model, all or nothing."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.files import AnnotationFileError
from annotation.services import import_completions
from projects.selectors import get_project_by_slug


class Command(BaseCommand):
    help = (
        "Import model completions keyed by prompt (JSONL: {instruction, input, response} or {prompt, completion}; "
        "the model name comes from the file name or a 'model' field). Each prompt with 2-9 distinct completions "
        "becomes a ranking task (answers identical up to whitespace are one item)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--no-tasks", action="store_true", help="import completions without making tasks")

    def handle(self, *args, **o):
        project = get_project_by_slug(slug=o["project"])
        if project is None:
            raise CommandError(f"--project: no project with slug {o['project']!r}")
        try:
            summary = import_completions(project=project, paths=o["paths"], make_tasks=not o["no_tasks"])
        except AnnotationFileError as exc:
            raise CommandError(f"{exc} (nothing was imported)") from None
        self.stdout.write(
            f"models: {', '.join(summary.models)}; prompts created: {summary.prompts_created}; completions "
            f"created: {summary.completions_created}, already there: {summary.completions_skipped}; ranking tasks "
            f"created: {summary.tasks_created}; identical answers merged: {summary.completions_merged}; prompts with "
            f"a single distinct answer (no task): {summary.prompts_single_answer}"
        )
