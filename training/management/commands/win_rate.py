"""manage.py win_rate --job ID --judge NAME [--opponent NAME] [--limit N] [--inline | --wait]
A round's win-rate: the job's served model (endpoint job-<id>) against the model it started from (job-<base job>,
or --opponent) on the held-out prompts of the job's dataset version, judged by --judge in both orders. Prints the
table: wins, ties, losses and the win rate with its 95% interval."""

from django.core.management.base import BaseCommand, CommandError

from llm.selectors import get_endpoint
from training.evaluations import MAX_ROUND_PROMPTS, start_round_evaluation
from training.management.commands.evaluate_model import finish
from training.selectors import get_job_by_id
from training.services import TrainingJobError


class Command(BaseCommand):
    help = "A round's win-rate: a trained model against the model it started from, on held-out prompts."

    def add_arguments(self, parser):
        parser.add_argument("--job", type=int, required=True, help="the round's training job (served as job-<id>)")
        parser.add_argument("--judge", required=True, help="endpoint of the judge")
        parser.add_argument("--opponent", default="", help="endpoint to beat (default: job-<its base job>)")
        parser.add_argument("--limit", type=int, default=200, help=f"at most N prompts (up to {MAX_ROUND_PROMPTS})")
        parser.add_argument("--wait", action="store_true", help="wait for the run and print the table")
        parser.add_argument("--timeout", type=float)
        parser.add_argument("--inline", action="store_true", help="run here, not on a worker")

    def handle(self, *args, **o):
        job = get_job_by_id(job_id=o["job"])
        if job is None:
            raise CommandError(f"--job: no training job {o['job']}")
        endpoints = {}
        for flag in ("judge", "opponent"):
            if o[flag]:
                endpoints[flag] = get_endpoint(name=o[flag])
                if endpoints[flag] is None:
                    raise CommandError(f"--{flag}: no endpoint named {o[flag]!r}")
        try:
            run = start_round_evaluation(
                job=job,
                judge_endpoint=endpoints["judge"],
                opponent_endpoint=endpoints.get("opponent"),
                limit=o["limit"],
                enqueue=not o["inline"],
            )
        except TrainingJobError as exc:
            raise CommandError(str(exc)) from None
        opponent = run.opponent_endpoint.name
        self.stdout.write(
            f"evaluation {run.pk}: job-{job.pk} against {opponent} on {run.items_total} held-out prompt(s)"
        )
        finish(self, run, o)
