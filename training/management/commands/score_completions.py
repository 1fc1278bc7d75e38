"""manage.py score_completions JOB_ID [--wait [--timeout S]] [--inline]

A succeeded reward-model job scores every completion of its project's ranking tasks it has not scored yet (a run on
the gpu queue). Each task then holds the RM's order (the labelers' optional hint) and its smallest reward margin
(the uncertainty-first task order). --inline scores in this process instead of on a worker."""

from django.core.management.base import BaseCommand, CommandError

from core.cli import wait_for_run
from core.lifecycle import RunStatus
from training.reward_scoring import run_reward_scoring, start_reward_scoring
from training.selectors import get_job_by_id
from training.services import TrainingJobError


class Command(BaseCommand):
    help = "Score the project's completions with a trained reward model (for hints and uncertainty-first order)."

    def add_arguments(self, parser):
        parser.add_argument("job_id", type=int)
        parser.add_argument("--wait", action="store_true", help="wait for the run; exit non-zero unless it succeeds")
        parser.add_argument("--timeout", type=float, help="seconds to wait with --wait")
        parser.add_argument("--inline", action="store_true", help="score here, not on a gpu worker")

    def handle(self, *args, **o):
        job = get_job_by_id(job_id=o["job_id"])
        if job is None:
            raise CommandError(f"job_id: no training job {o['job_id']}")
        try:
            run = start_reward_scoring(job=job, enqueue=not o["inline"])
        except TrainingJobError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"scoring run {run.pk}: {run.completions_total} completion(s) to score with job {job.pk}")
        if o["inline"]:
            run_reward_scoring(run_id=run.pk)
        elif not o["wait"]:
            return
        run = wait_for_run(self, run, timeout=o["timeout"], unit="completion", hint="is a gpu worker up?")
        self.stdout.write(
            f"run {run.pk} {run.status}: {run.completions_scored} scored, {run.tasks_updated} task(s) got the RM's "
            f"order, {run.seconds or 0:.1f} s"
        )
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"run {run.pk} failed: {run.error}")
