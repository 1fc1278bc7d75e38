"""manage.py evaluate_model --project SLUG --model NAME --judge NAME --prompts FILE [--per-category N] [--limit N]
                            [--job JOB_ID] [--inline | --wait]

The model endpoint (e.g. job-<id>, registered by serve_model) answers each prompt of the set; the judge endpoint
scores its answer and the set's reference answer 1–10 in both orders (averaged). Prints the per-category table:
mean scores, relative score (model / reference), wins/ties/losses and the position-bias rate. The BELLE eval set
(question, std_answer, class) is read as is."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.cli import wait_for_run
from core.lifecycle import RunStatus
from llm.selectors import get_endpoint
from projects.selectors import get_project_by_slug
from training.evalsets import EvalSetError, read_eval_set, sample_per_category, with_reference
from training.evaluations import run_evaluation, start_evaluation
from training.selectors import EVALUATION_COLUMNS as COLUMNS
from training.selectors import evaluation_rows, get_job_by_id
from training.services import TrainingJobError


def format_table(results: dict) -> str:
    rows = evaluation_rows(results)
    cells = [[str(row.get(c, "")) if row.get(c) is not None else "–" for c in COLUMNS] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(COLUMNS)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True))  # noqa: E731
    return "\n".join([line(COLUMNS), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def finish(command, run, o) -> None:
    """--inline runs the evaluation here; --wait waits for its worker; both print the table (non-zero unless it
    succeeded)."""
    if o["inline"]:
        run_evaluation(run_id=run.pk)
    elif not o["wait"]:
        return
    run = wait_for_run(command, run, timeout=o["timeout"], unit="prompt")
    command.stdout.write(format_table(run.results))
    if run.status != RunStatus.SUCCEEDED:
        raise CommandError(f"evaluation {run.pk} {run.status}: {run.error}")


class Command(BaseCommand):
    help = "Evaluate a model endpoint against reference answers with an LLM judge (position-swapped), per category."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("--model", required=True, help="endpoint of the model to evaluate (e.g. job-12)")
        parser.add_argument("--judge", required=True, help="endpoint of the judge")
        parser.add_argument("--prompts", required=True, type=Path, help="JSONL/JSON prompt set with references")
        parser.add_argument("--per-category", type=int, help="the first N prompts of each category")
        parser.add_argument("--limit", type=int, help="at most N prompts")
        parser.add_argument("--job", type=int, help="the training job the model came from (for lineage)")
        parser.add_argument("--max-tokens", type=int, default=512)
        parser.add_argument("--wait", action="store_true", help="wait for the run and print the table")
        parser.add_argument("--timeout", type=float)
        parser.add_argument("--inline", action="store_true", help="run here, not on a worker")

    def handle(self, *args, **o):
        project = get_project_by_slug(slug=o["project"])
        if project is None:
            raise CommandError(f"--project: no project with slug {o['project']!r}")
        endpoints = {}
        for flag in ("model", "judge"):
            endpoints[flag] = get_endpoint(name=o[flag])
            if endpoints[flag] is None:
                raise CommandError(f"--{flag}: no endpoint named {o[flag]!r}")
        job = None
        if o["job"] is not None:
            job = get_job_by_id(job_id=o["job"])
            if job is None:
                raise CommandError(f"--job: no training job {o['job']}")
        try:
            items = read_eval_set(o["prompts"])
        except (EvalSetError, OSError) as exc:
            raise CommandError(f"--prompts: {exc}") from None
        items, skipped = with_reference(items)
        if skipped:
            self.stderr.write(f"{skipped} prompt(s) of {o['prompts'].name} have an empty reference answer: left out")
        if not items:
            raise CommandError(f"--prompts: no prompt of {o['prompts'].name} has a reference answer")
        if o["per_category"]:
            items = sample_per_category(items, o["per_category"])
        if o["limit"]:
            items = items[: o["limit"]]
        try:
            run = start_evaluation(
                project=project,
                model_endpoint=endpoints["model"],
                judge_endpoint=endpoints["judge"],
                items=items,
                prompt_set=o["prompts"].name,
                job=job,
                generation={"max_tokens": o["max_tokens"]},
                enqueue=not o["inline"],
            )
        except TrainingJobError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"evaluation {run.pk}: {run.items_total} prompt(s), model {o['model']}, judge {o['judge']}")
        finish(self, run, o)
