"""manage.py score_difficulty --project SLUG (--job ID | --base-model NAME) [--max-length N] [--wait [--timeout S]]
[--inline] [--metric M]

A causal LM scores the difficulty of the project's accepted instructions it has not scored yet (a run on the gpu
queue): perplexity of the instruction, of its response alone and after the instruction, and IFD. After the run the
distribution of --metric (ifd by default) is printed with its percentiles. --inline scores in this process."""

from django.core.management.base import BaseCommand, CommandError

from core.cli import wait_for_run
from core.lifecycle import RunStatus
from projects.selectors import get_project_by_slug
from selfinstruct.difficulty import METRICS
from selfinstruct.selectors import difficulty_histogram
from training.difficulty import run_difficulty_scoring, start_difficulty_run
from training.selectors import get_job_by_id
from training.services import TrainingJobError


class Command(BaseCommand):
    help = "Score how hard the project's instructions are (perplexity and IFD) with a causal LM."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("--job", type=int, help="the project's SFT/DPO/KTO/RL job whose model scores")
        parser.add_argument("--base-model", default="", help="or a base model's name under TRAINING_MODEL_ROOTS")
        parser.add_argument("--max-length", type=int, default=1024, help="tokens per text (32-8192)")
        parser.add_argument("--metric", choices=METRICS, default="ifd", help="the distribution printed at the end")
        parser.add_argument("--wait", action="store_true", help="wait for the run; exit non-zero unless it succeeds")
        parser.add_argument("--timeout", type=float, help="seconds to wait with --wait")
        parser.add_argument("--inline", action="store_true", help="score here, not on a gpu worker")

    def handle(self, *args, **o):
        project = get_project_by_slug(slug=o["project"])
        if project is None:
            raise CommandError(f"project: no project {o['project']!r}")
        job = None
        if o["job"] is not None:
            job = get_job_by_id(job_id=o["job"])
            if job is None:
                raise CommandError(f"job: no training job {o['job']}")
        try:
            run = start_difficulty_run(
                project=project,
                job=job,
                base_model=o["base_model"],
                max_length=o["max_length"],
                enqueue=not o["inline"],
            )
        except TrainingJobError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"difficulty run {run.pk}: {run.items_total} instruction(s) to score by {run.scorer}")
        if o["inline"]:
            run_difficulty_scoring(run_id=run.pk)
        elif not o["wait"]:
            return
        run = wait_for_run(self, run, timeout=o["timeout"], unit="instruction", hint="is a gpu worker up?")
        self.stdout.write(f"run {run.pk} {run.status}: {run.items_scored} scored, {run.seconds or 0:.1f} s")
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"run {run.pk} failed: {run.error}")
        chart = difficulty_histogram(project=project, scorer=run.scorer, metric=o["metric"])
        cuts = ", ".join(f"p{p} {v:.3g}" for p, v in chart["percentiles"].items() if v is not None)
        self.stdout.write(f"{o['metric']} over {chart['n']} instruction(s): {cuts or 'none scored'}")
