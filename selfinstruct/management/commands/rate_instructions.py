"""manage.py rate_instructions --project SLUG --endpoint NAME [--wait [--timeout S]] [--inline]

An LLM judge endpoint rates the complexity of the project's accepted instructions it has not rated yet and the
quality of their responses, 1–6 (a run on the default queue; llm/rating.py has the scale). After the run the two
distributions are printed. --inline rates in this process."""

from django.core.management.base import BaseCommand, CommandError

from core.cli import wait_for_run
from core.lifecycle import RunStatus
from llm.selectors import get_endpoint
from projects.selectors import get_project_by_slug
from selfinstruct.rating import RatingRunError, run_rating, start_rating_run
from selfinstruct.selectors import difficulty_histogram


class Command(BaseCommand):
    help = "Rate the complexity and quality (1-6) of the project's instructions with an LLM judge."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("--endpoint", required=True, help="the judge endpoint")
        parser.add_argument("--wait", action="store_true", help="wait for the run; exit non-zero unless it succeeds")
        parser.add_argument("--timeout", type=float, help="seconds to wait with --wait")
        parser.add_argument("--inline", action="store_true", help="rate here, not on a worker")

    def handle(self, *args, **o):
        project = get_project_by_slug(slug=o["project"])
        if project is None:
            raise CommandError(f"project: no project {o['project']!r}")
        endpoint = get_endpoint(name=o["endpoint"])
        if endpoint is None:
            raise CommandError(f"endpoint: no endpoint named {o['endpoint']!r}")
        try:
            run = start_rating_run(project=project, endpoint=endpoint, enqueue=not o["inline"])
        except RatingRunError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"rating run {run.pk}: {run.items_total} instruction(s) to rate by {run.scorer}")
        if o["inline"]:
            run_rating(run_id=run.pk)
        elif not o["wait"]:
            return
        run = wait_for_run(self, run, timeout=o["timeout"], unit="instruction", hint="is a worker up?")
        self.stdout.write(
            f"run {run.pk} {run.status}: {run.items_scored} rated, {run.items_failed} failed, {run.seconds or 0:.1f} s"
        )
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"run {run.pk} failed: {run.error}")
        for metric in ("complexity", "quality"):
            chart = difficulty_histogram(project=project, scorer=run.scorer, metric=metric)
            spread = ", ".join(f"{label}: {n}" for label, n in zip(chart["labels"], chart["counts"], strict=True))
            self.stdout.write(f"{metric} of {chart['n']} instruction(s): {spread or 'none rated'}")
