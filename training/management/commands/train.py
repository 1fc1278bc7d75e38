"""manage.py train --dataset ID --kind sft|reward|dpo|kto|rloo --base-model NAME [--reward-job ID] [--lora] [--wait]

Queues a training job on the gpu queue (a worker started with `-Q gpu` runs it). With --wait, shows a progress bar
and exits with the outcome: 0 succeeded, 1 failed, 3 cancelled, 4 still running at --timeout. `--cancel JOB` asks a
job to stop; `--status JOB` prints one; `--compare JOB JOB … [--metric loss]` prints each job's final and lowest
value and last step of a metric (jobs of one project, at most 10)."""

import json

from django.core.management.base import BaseCommand, CommandError

from core.cli import key_value_arg, wait_for_run
from core.errors import ServiceError
from core.lifecycle import RunStatus
from core.templatetags.numbers import format_number
from exports.selectors import get_version_by_id
from training.metric_selectors import compare_jobs
from training.models import JobKind, TrainingJob
from training.selectors import get_job_by_id
from training.services import TrainingJobError, cancel_training_job, create_training_job
from training.trainer import configs

EXIT = {RunStatus.SUCCEEDED: 0, RunStatus.FAILED: 1, RunStatus.CANCELLED: 3}


def _hp_arg(value: str) -> tuple[str, object]:
    return key_value_arg(value, option="--hp", example="--hp epochs=2 --hp learning_rate=1e-4")


class Command(BaseCommand):
    help = "Queue (and optionally wait for) an SFT, reward-model, DPO or KTO training job on a dataset version."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", type=int, help="dataset version id")
        parser.add_argument(
            "--kind", choices=JobKind.values, help="sft, reward; dpo, kto or rloo on a preference version"
        )
        parser.add_argument(
            "--base-model", default="", help="a checkpoint folder under TRAINING_MODEL_ROOTS, e.g. demo-tiny-llama"
        )
        parser.add_argument("--base-job", type=int, help="start from the model a succeeded job trained")
        parser.add_argument("--reward-job", type=int, help="rloo: the project's succeeded reward job")
        parser.add_argument("--lora", action="store_true", help="train LoRA adapters (peft) instead of all weights")
        parser.add_argument("--hp", action="append", default=[], help=configs.cli_help())
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--wait", action="store_true", help="wait for the outcome with a progress bar")
        parser.add_argument("--timeout", type=float, default=24 * 3600, help="seconds to wait with --wait")
        parser.add_argument("--cancel", type=int, metavar="JOB", help="ask this job to stop")
        parser.add_argument("--status", type=int, metavar="JOB", help="print this job's status and results")
        parser.add_argument(
            "--compare", type=int, nargs="+", metavar="JOB", help="compare jobs of one project (at most 10)"
        )
        parser.add_argument(
            "--metric", action="append", default=[], help="with --compare: the metric (default loss), repeatable"
        )

    def handle(self, *args, **o):
        if o["compare"]:
            self._compare(o["compare"], o["metric"])
            return
        if o["cancel"] or o["status"]:
            job = get_job_by_id(job_id=o["cancel"] or o["status"])
            if job is None:
                raise CommandError(f"no training job {o['cancel'] or o['status']}")
            if o["cancel"]:
                try:
                    self.stdout.write(f"job {job.pk}: {cancel_training_job(job=job)}")
                except TrainingJobError as exc:
                    raise CommandError(str(exc)) from None
            else:
                self._report(job)
            return
        if not o["dataset"] or not o["kind"]:
            raise CommandError("--dataset and --kind are required to start a job")
        version = get_version_by_id(version_id=o["dataset"])
        if version is None:
            raise CommandError(f"--dataset: no dataset version {o['dataset']}")
        base_job = None
        if o["base_job"]:
            base_job = get_job_by_id(job_id=o["base_job"])
            if base_job is None:
                raise CommandError(f"--base-job: no training job {o['base_job']}")
        reward_job = None
        if o["reward_job"]:
            reward_job = get_job_by_id(job_id=o["reward_job"])
            if reward_job is None:
                raise CommandError(f"--reward-job: no training job {o['reward_job']}")
        try:
            job = create_training_job(
                project=version.project,
                dataset_version=version,
                kind=o["kind"],
                base_model=o["base_model"],
                base_job=base_job,
                reward_job=reward_job,
                method="lora" if o["lora"] else "full",
                hyperparameters=dict(_hp_arg(h) for h in o["hp"]),
                seed=o["seed"],
            )
        except TrainingJobError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"job {job.pk} queued: {job.kind} ({job.method}) on dataset version {version.pk}")
        if not o["wait"]:
            return
        job = wait_for_run(self, job, timeout=o["timeout"], unit="step", timeout_code=4)
        self._report(job)
        if job.status not in EXIT:
            raise CommandError(f"job {job.pk} is still {job.status} after {o['timeout']:.0f}s", returncode=4)
        if EXIT[job.status]:
            raise CommandError(f"job {job.pk} {job.status}: {job.error}", returncode=EXIT[job.status])

    def _report(self, job: TrainingJob) -> None:
        self.stdout.write(f"job {job.pk}: {job.status} (step {job.step}/{job.total_steps})")
        if job.error:
            self.stdout.write(f"error: {job.error}")
        if job.results:
            self.stdout.write("results: " + json.dumps(job.results, ensure_ascii=False)[:4000])
        if job.output_dir and job.status == RunStatus.SUCCEEDED:
            self.stdout.write(f"model: {job.output_dir}/model")

    def _compare(self, job_ids: list[int], metrics: list[str]) -> None:
        """A table per metric: each job's final and lowest value and the last step it logged it."""
        first = get_job_by_id(job_id=job_ids[0])
        if first is None:
            raise CommandError(f"--compare: no training job {job_ids[0]}")
        try:
            comparison = compare_jobs(project=first.project, job_ids=job_ids, metrics=metrics)
        except ServiceError as exc:
            field, _sep, text = str(exc).partition(": ")
            option = {"jobs": "--compare", "metric": "--metric"}.get(field, field)
            raise CommandError(f"{option}: {text} ({first.project.slug})" if text else str(exc)) from None
        for metric in comparison["metrics"]:
            self.stdout.write(f"{metric['key']} ({metric['label']}), project {first.project.slug}")
            rows = [("run", "final", "min", "steps")]
            rows += [
                (run["label"], format_number(run["final"]), format_number(run["min"]), format_number(run["last_step"]))
                for run in metric["runs"]
            ]
            widths = [max(len(row[i]) for row in rows) for i in range(4)]
            for row in rows:
                self.stdout.write("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        shared = ", ".join(m["key"] for m in comparison["shared_metrics"])
        self.stdout.write(f"metrics every job logged: {shared or '-'}")
