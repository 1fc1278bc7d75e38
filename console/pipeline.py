"""A project's loop as a pipeline for its overview page: each stage with its numbers and the next thing to do,
read through each app's selectors, and the runs going on now (every registered run kind, from the lifecycle)."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from annotation.selectors import stage_counts as ranking_counts
from core import lifecycle
from exports.selectors import stage_counts as dataset_counts
from selfinstruct.selectors import stage_counts as generation_counts
from training.selectors import stage_counts as training_counts


@dataclass(frozen=True)
class Stage:
    key: str
    title: str
    numbers: list[tuple[str, int]]
    done: bool
    next_action: str  # what to do next here ("" when the stage needs nothing now)
    how: str  # the same from the CLI and the API
    url: str = ""  # the page where it is done (the next action links there)


def stages(*, project) -> list[Stage]:
    g, r, d, t = (
        generation_counts(project=project),
        ranking_counts(project=project),
        dataset_counts(project=project),
        training_counts(project=project),
    )
    slug = project.slug
    open_tasks = r["tasks"] - r["tasks_complete"]
    return [
        Stage(
            "seeds",
            _("Seeds"),
            [(_("seed tasks"), g["seeds"])] + [(language, n) for language, n in g["seeds_by_language"].items()],
            g["seeds"] > 0,
            "" if g["seeds"] else _("Import seed tasks (JSONL, Alpaca JSON or CSV)."),
            f"manage.py import_seeds FILE --project {slug} · POST /api/v1/projects/{slug}/seeds",
            url=reverse("console-seeds", args=[slug]),
        ),
        Stage(
            "generation",
            _("Generation"),
            [(_("batches"), g["batches"])],
            g["batches"] > 0,
            _("Start a generation batch with a teacher endpoint.") if g["seeds"] and not g["batches"] else "",
            f"manage.py generate --project {slug} --endpoint NAME --target N · "
            f"POST /api/v1/projects/{slug}/generation-batches",
            url=reverse("console-new-batch", args=[slug]),
        ),
        Stage(
            "instructions",
            _("Instructions"),
            [(_("accepted"), g["accepted"]), (_("rejected"), g["rejected"])],
            g["accepted"] > 0,
            "",
            f"GET /api/v1/projects/{slug}/generation-batches/{{id}}",
            url=reverse("console-review", args=[slug]),
        ),
        Stage(
            "completions",
            _("Prompts and completions"),
            [(_("prompts"), r["prompts"]), (_("completions"), r["completions"])],
            r["completions"] > 0,
            _("Sample K completions per prompt.") if g["accepted"] and not r["completions"] else "",
            f"manage.py sample_completions --project {slug} --endpoint NAME · "
            f"POST /api/v1/projects/{slug}/sampling-runs",
            url=reverse("console-sampling", args=[slug]),
        ),
        Stage(
            "ranking",
            _("Ranking"),
            [(_("tasks"), r["tasks"]), (_("complete"), r["tasks_complete"]), (_("rankings"), r["rankings"])],
            r["tasks"] > 0 and open_tasks == 0,
            _("%(n)d tasks wait for labelers.") % {"n": open_tasks} if open_tasks else "",
            f"/label/{slug}/",
            url=reverse("label-dashboard", args=[slug]),
        ),
        Stage(
            "datasets",
            _("Datasets"),
            [(_("versions"), d["datasets"]), (_("ready"), d["datasets_ready"])],
            d["datasets_ready"] > 0,
            _("Build a dataset version.") if (g["accepted"] or r["rankings"]) and not d["datasets"] else "",
            f"manage.py export_dataset --project {slug} --kind sft|preference · POST /api/v1/projects/{slug}/datasets",
            url=reverse("console-datasets", args=[slug]),
        ),
        Stage(
            "models",
            _("Models"),
            [(_("training jobs"), t["jobs"]), (_("trained"), t["models"])],
            t["models"] > 0,
            _("Train an SFT or reward model on a ready version.") if d["datasets_ready"] and not t["jobs"] else "",
            f"manage.py train --dataset ID --kind sft|reward · POST /api/v1/projects/{slug}/training-jobs",
            url=reverse("console-training", args=[slug]),
        ),
    ]


def running(*, project) -> list[dict]:
    runs = lifecycle.active_runs(project=project)
    for run in runs:
        run["kind_label"] = RUN_KIND_LABELS.get(run["kind"], run["kind"])
    return runs


# What the overview's "Running now" panel calls each run kind (core.lifecycle's registered names).
RUN_KIND_LABELS = {
    "generation": gettext_lazy("Generation batch"),
    "sampling": gettext_lazy("Sampling run"),
    "judge": gettext_lazy("Judge run"),
    "evaluation": gettext_lazy("Evaluation"),
    "scoring": gettext_lazy("Reward scoring"),
    "training": gettext_lazy("Training job"),
    "dataset-build": gettext_lazy("Dataset build"),
    "difficulty": gettext_lazy("Difficulty run"),
    "rating": gettext_lazy("Difficulty rating"),
    "endpoint-check": gettext_lazy("Endpoint check"),
    "serving": gettext_lazy("Model server"),
}
