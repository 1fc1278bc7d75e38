"""manage.py judge_rankings --project SLUG --endpoint NAME [--limit N] [--only-ranked] [--wait | --inline]

An LLM judge ranks the project's ranking tasks as an extra, non-human labeler: every pair of a task's completions
is scored 1–10 in both orders and the scores averaged. Judge–human agreement and the position-bias rate appear on
the ranking dashboard and in /api/v1/projects/SLUG/annotation/stats."""

from django.core.management.base import BaseCommand, CommandError

from annotation.judging import run_judge, start_judge_run
from annotation.services import AnnotationError
from core.cli import wait_for_run
from core.lifecycle import RunStatus
from llm.selectors import get_endpoint
from projects.selectors import get_project_by_slug


class Command(BaseCommand):
    help = "Let an LLM judge rank a project's tasks (every pair in both orders)."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("--endpoint", required=True, help="the judge's LLM endpoint name")
        parser.add_argument("--limit", type=int, help="at most this many tasks")
        parser.add_argument("--only-ranked", action="store_true", help="only tasks humans have ranked")
        parser.add_argument("--wait", action="store_true", help="wait for the run; exit non-zero unless it succeeds")
        parser.add_argument("--timeout", type=float, help="seconds to wait with --wait")
        parser.add_argument("--inline", action="store_true", help="judge here, not on a worker")

    def handle(self, *args, **o):
        project = get_project_by_slug(slug=o["project"])
        if project is None:
            raise CommandError(f"--project: no project with slug {o['project']!r}")
        endpoint = get_endpoint(name=o["endpoint"])
        if endpoint is None:
            raise CommandError(f"--endpoint: no endpoint named {o['endpoint']!r}")
        try:
            run = start_judge_run(
                project=project,
                endpoint=endpoint,
                limit=o["limit"],
                only_ranked=o["only_ranked"],
                enqueue=not o["inline"],
            )
        except AnnotationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"judge run {run.pk}: {len(run.task_ids)} task(s), judge {endpoint.name}")
        if o["inline"]:
            run_judge(run_id=run.pk)
        elif not o["wait"]:
            return
        run = wait_for_run(self, run, timeout=o["timeout"], unit="task")
        rate = "–" if run.position_bias_rate is None else f"{run.position_bias_rate:.3f}"
        self.stdout.write(
            f"run {run.pk} {run.status}: {run.tasks_done} task(s) judged, {run.tasks_failed} failed, "
            f"{run.pairs_judged} pair(s), position-bias rate {rate}"
        )
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"run {run.pk} {run.status}: {run.error}")
