"""manage.py sample_completions --project SLUG --endpoint NAME [--endpoint NAME …] --per-prompt K [--limit N] [--wait]

Each prompt gets K completions (slot i from endpoint i mod n) and becomes a ranking task."""

import json

from django.core.management.base import BaseCommand, CommandError

from annotation.models import MAX_K, MIN_K, SamplingRun
from annotation.sampling import start_sampling_run
from annotation.services import AnnotationError
from core import safejson
from core.cli import wait_for_run
from core.lifecycle import RunStatus
from llm.selectors import get_endpoint
from projects.selectors import get_project_by_slug


def _endpoint_arg(value: str):
    """NAME or NAME:{"temperature": 0.7} — per-endpoint sampling parameters as JSON after the first colon."""
    name, _, raw = value.partition(":")
    endpoint = get_endpoint(name=name)
    if endpoint is None:
        raise CommandError(f"--endpoint: no endpoint named {name!r}")
    try:
        params = safejson.loads(raw) if raw else {}
    except json.JSONDecodeError as exc:
        raise CommandError(f"--endpoint {name}: parameters are not valid JSON: {exc.msg}") from None
    except safejson.UnsafeJSON as exc:
        raise CommandError(f"--endpoint {name}: parameters: {exc}") from None
    if not isinstance(params, dict):
        raise CommandError(f"--endpoint {name}: parameters must be a JSON object")
    return endpoint, params


class Command(BaseCommand):
    help = "Sample K completions per prompt from one or more endpoints; each prompt becomes a ranking task."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument(
            "--endpoint", action="append", required=True, help='NAME or NAME:{"temperature":0.7}; repeat for more'
        )
        parser.add_argument("--per-prompt", type=int, help=f"K ({MIN_K}-{MAX_K}); default: the project's setting")
        parser.add_argument(
            "--source",
            action="append",
            choices=["generated", "seed", "imported"],
            help="where prompts come from (repeatable; default generated)",
        )
        parser.add_argument("--limit", type=int, help="at most this many prompts")
        parser.add_argument("--wait", action="store_true", help="show progress; exit non-zero unless it succeeds")
        parser.add_argument("--timeout", type=float, help="seconds to wait with --wait")

    def handle(self, *args, **o):
        project = get_project_by_slug(slug=o["project"])
        if project is None:
            raise CommandError(f"--project: no project with slug {o['project']!r}")
        plan = [_endpoint_arg(value) for value in o["endpoint"]]
        try:
            run = start_sampling_run(
                project=project,
                endpoints=plan,
                per_prompt=o["per_prompt"],
                sources=tuple(o["source"] or ["generated"]),
                limit=o["limit"],
            )
        except AnnotationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"sampling run {run.pk}: {run.prompts_total} prompt(s) x {run.per_prompt} completions")
        if o["wait"]:
            wait_for_sampling(self, run.pk, timeout=o["timeout"])


def wait_for_sampling(command: BaseCommand, run_id: int, *, timeout: float | None = None) -> None:
    run = wait_for_run(command, SamplingRun.objects.get(pk=run_id), timeout=timeout, unit="prompt")
    command.stdout.write(
        f"run {run_id} {run.status}: {run.prompts_done} prompt(s) done, {run.prompts_failed} failed, "
        f"{run.completions_created} completion(s); {run.prompts_single_answer} prompt(s) with a single distinct "
        "answer (no task)"
    )
    if run.status != RunStatus.SUCCEEDED:
        raise CommandError(f"run {run_id} {run.status}: {run.error}")
