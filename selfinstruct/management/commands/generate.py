"""manage.py generate --project SLUG --endpoint NAME --target N --template NAME [--wait]

NAME: self-instruct, alpaca, belle, evol-instruct (evolves pool instructions) or a custom template."""

from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from core.cli import wait_for_run
from core.lifecycle import RunStatus
from llm.selectors import get_endpoint
from projects.selectors import get_project_by_slug
from selfinstruct.batches import quota_pairs, start_batch
from selfinstruct.models import GenerationBatch, InstancesStatus, Stage
from selfinstruct.selectors import batch_progress, format_progress
from selfinstruct.services import BatchError


def batch_stage(progress: dict) -> tuple[str, int, int]:
    """(stage, done, total) for the progress bar: accepted instructions against the target, then, once a batch that
    writes instances (Self-Instruct, Evol-Instruct) reaches it, its accepted instructions given instances (or
    given up on) against all of them. Without it the bar sat at 100% while the instance stage ran."""
    counts = progress["instances"]
    if progress["stage"] == Stage.INSTANCES and counts:
        done = counts.get(InstancesStatus.DONE, 0) + counts.get(InstancesStatus.FAILED, 0)
        return "instances", done, done + counts.get(InstancesStatus.PENDING, 0) + counts.get(InstancesStatus.WORKING, 0)
    return "instructions", min(progress["accepted"], progress["target"]), progress["target"]


def stage_text(progress: dict) -> str:
    """The stage as `batch status` and the bar name it: "instructions 150/150", "instances 12/150"."""
    name, done, total = batch_stage(progress)
    return f"{name} {done}/{total}"


def wait_for_batch(command: BaseCommand, batch_id: int, *, timeout: float | None = None) -> None:
    """Progress bar, stage by stage, until the batch ends; raise CommandError unless it completed."""
    batch = wait_for_run(
        command,
        GenerationBatch.objects.get(pk=batch_id),
        timeout=timeout,
        unit="instr",
        stage=lambda run: batch_stage(batch_progress(batch=run)),
    )
    progress = batch_progress(batch=batch)
    command.stdout.write(f"batch {batch_id} {format_progress(progress)}")
    if batch.status != RunStatus.SUCCEEDED:
        raise CommandError(f"batch {batch_id} {batch.status}: {batch.stop_reason}")


class Command(BaseCommand):
    help = "Start a generation batch (Self-Instruct / Alpaca / BELLE) and optionally wait for it."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("--endpoint", required=True)
        parser.add_argument("--target", type=int, required=True, help="accepted instructions to reach")
        parser.add_argument(
            "--template", required=True, help="self-instruct, alpaca, belle, evol-instruct or a custom template"
        )
        parser.add_argument("--language", choices=["en", "zh"], help="default: zh for belle, else en")
        parser.add_argument("--topic", default="")
        parser.add_argument(
            "--quota",
            action="append",
            default=[],
            metavar="TYPE=N",
            help="at most N accepted instructions of a task type of the project (manage.py taxonomy); repeat for more",
        )
        parser.add_argument("--temperature", type=float)
        parser.add_argument("--max-tokens", type=int)
        parser.add_argument("--token-budget", type=int)
        parser.add_argument("--cost-budget", type=Decimal)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--wait", action="store_true", help="show progress; exit non-zero unless it completes")
        parser.add_argument("--timeout", type=float, help="seconds to wait with --wait")

    def handle(self, *args, **o):
        project = get_project_by_slug(slug=o["project"])
        if project is None:
            raise CommandError(f"--project: no project with slug {o['project']!r}")
        endpoint = get_endpoint(name=o["endpoint"])
        if endpoint is None:
            raise CommandError(f"--endpoint: no endpoint named {o['endpoint']!r}")
        params = {k: v for k, v in {"temperature": o["temperature"], "max_tokens": o["max_tokens"]}.items() if v}
        try:
            batch = start_batch(
                project=project,
                endpoint=endpoint,
                template_name=o["template"],
                target=o["target"],
                language=o["language"],
                topic=o["topic"],
                type_quotas=_quotas(o["quota"]),
                params=params,
                token_budget=o["token_budget"],
                cost_budget=o["cost_budget"],
                seed=o["seed"],
            )
        except BatchError as exc:
            raise CommandError(f"--{exc}") from None
        self.stdout.write(
            f"batch {batch.pk} started: {batch.template_snapshot['name']} v{batch.template.version}, "
            f"{batch.language}, target {batch.target}, {batch.lanes} lane(s)"
        )
        if o["wait"]:
            wait_for_batch(self, batch.pk, timeout=o["timeout"])


def _quotas(values: list[str]) -> dict[str, int]:
    try:
        return quota_pairs(values)
    except ValueError as exc:
        raise CommandError(f"--quota: write TYPE=N, got {str(exc)[:60]!r}") from None
