"""Reads for difficulty scores: the instructions a scorer has still to score, which models scored, which metrics
each has, the values of a metric, the instructions inside a difficulty band, and a metric's histogram; and what a
metric or a scorer is called on pages."""

from __future__ import annotations

from django.db.models import Count, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from selfinstruct.models import GeneratedInstance, GeneratedInstruction, InstructionStatus
from selfinstruct.text import prompt_text

METRIC_LABELS = {  # selfinstruct.difficulty.METRICS in words
    "ifd": _("IFD (instruction-following difficulty)"),
    "ppl_instruction": _("Perplexity of the instruction"),
    "ppl_response_given": _("Perplexity of the response given the instruction"),
    "ppl_response": _("Perplexity of the response alone"),
    "complexity": _("Complexity (judge's rating, 1–6)"),
    "quality": _("Quality (judge's rating, 1–6)"),
}
JUDGE_PREFIX = "judge:"  # a rating run's scorer: "judge:<endpoint>" (selfinstruct.rating)


def difficulty_metric_label(metric: str) -> str:
    """A difficulty metric's translated name ("ifd" → "IFD (instruction-following difficulty)"); unknown as it is."""
    label = METRIC_LABELS.get(metric)
    return str(label) if label is not None else metric


def scorer_label(scorer: str) -> str:
    """Who scored, in words: "judge:demo-teacher" → "Judge: demo-teacher"; a model scorer (job-3, a base model's
    name) as it is."""
    if isinstance(scorer, str) and scorer.startswith(JUDGE_PREFIX):
        return gettext("Judge: %(endpoint)s") % {"endpoint": scorer[len(JUDGE_PREFIX) :]}
    return scorer


def _unscored_for_difficulty(project, scorer: str, task_types: list[str] | None = None):
    """Accepted instructions `scorer` has not scored; with `task_types` (the project's taxonomy keys), also those
    tagged with a type no longer in it (a rating run tags them again)."""
    from selfinstruct.models import DifficultyScore

    scored = DifficultyScore.objects.filter(scorer=scorer, instruction__project=project).values("instruction_id")
    wanted = ~Q(pk__in=scored)
    if task_types is not None:
        wanted |= ~Q(task_type="") & ~Q(task_type__in=task_types)
    return GeneratedInstruction.objects.filter(wanted, project=project, status=InstructionStatus.ACCEPTED)


def count_instructions_to_score(*, project, scorer: str, task_types: list[str] | None = None) -> int:
    return _unscored_for_difficulty(project, scorer, task_types).count()


def instructions_to_score(
    *, project, scorer: str, limit: int | None = None, after_id: int = 0, task_types: list[str] | None = None
) -> list[dict]:
    """Accepted instructions `scorer` has not scored yet (and, given `task_types`, those tagged with a type outside
    it), in id order (after `after_id`): [{"id", "prompt",
    "response"}] — the prompt as SFT rows write it, the response the instruction's own output, else its first
    accepted instance's (whose input then joins the prompt), else "" (only the instruction's perplexity is then
    computed, or its complexity rated)."""
    unscored = _unscored_for_difficulty(project, scorer, task_types).filter(pk__gt=after_id).order_by("id")
    rows = list(unscored[:limit].values("id", "instruction", "input", "output"))
    missing = [r["id"] for r in rows if not r["output"]]
    first: dict[int, tuple[str, str]] = {}
    accepted = GeneratedInstance.objects.filter(instruction_id__in=missing, status=InstructionStatus.ACCEPTED)
    for iid, inp, out in accepted.order_by("-id").values_list("instruction_id", "input", "output"):
        first[iid] = (inp, out)  # the lowest id wins (read last)
    out = []
    for r in rows:
        inp, response = (r["input"], r["output"]) if r["output"] else first.get(r["id"], (r["input"], ""))
        out.append({"id": r["id"], "prompt": prompt_text(r["instruction"], inp), "response": response})
    return out


def difficulty_scorers(*, project) -> list[dict]:
    """The models that scored this project's instructions: [{"scorer", "n"}], most recent first."""
    from django.db.models import Max

    from selfinstruct.models import DifficultyScore

    rows = (
        DifficultyScore.objects.filter(instruction__project=project)
        .values("scorer")
        .annotate(n=Count("id"), last=Max("id"))
        .order_by("-last")
    )
    return [{"scorer": r["scorer"], "n": r["n"]} for r in rows]


def difficulty_metric_counts(*, project, scorer: str) -> dict[str, int]:
    """{metric: accepted instructions that have it} by `scorer`, every metric named (0 when none has it): a model
    scorer has the perplexities and IFD, an LLM judge complexity and quality."""
    from selfinstruct.difficulty import METRICS
    from selfinstruct.models import DifficultyScore

    rows = DifficultyScore.objects.filter(
        scorer=scorer, instruction__project=project, instruction__status=InstructionStatus.ACCEPTED
    )
    counts = rows.aggregate(**{metric: Count(metric) for metric in METRICS})  # Count skips NULLs
    return {metric: counts[metric] or 0 for metric in METRICS}


def difficulty_values(*, project, scorer: str, metric: str, batch_ids: list[int] | None = None) -> dict[int, float]:
    """{instruction id: value} of `metric` by `scorer` for the project's accepted instructions (those without it —
    no response, for the response metrics — are absent)."""
    from selfinstruct.models import DifficultyScore

    rows = DifficultyScore.objects.filter(
        scorer=scorer, instruction__project=project, instruction__status=InstructionStatus.ACCEPTED
    ).exclude(**{f"{metric}__isnull": True})
    if batch_ids:
        rows = rows.filter(instruction__batch_id__in=batch_ids)
    return dict(rows.values_list("instruction_id", metric))


def difficulty_band_ids(*, project, scorer: str, metric: str, drop_easiest: float, drop_hardest: float) -> set[int]:
    """The accepted instructions kept when the easiest `drop_easiest` percent and the hardest `drop_hardest` percent
    by `metric` (higher is harder for every metric) are dropped; unscored instructions are not in the set."""
    from selfinstruct.difficulty import band_bounds

    values = difficulty_values(project=project, scorer=scorer, metric=metric)
    bounds = band_bounds(list(values.values()), drop_lowest=drop_easiest, drop_highest=drop_hardest)
    if bounds is None:
        return set()
    low, high = bounds
    return {iid for iid, v in values.items() if low <= v <= high}


def difficulty_histogram(*, project, scorer: str, metric: str, batch_ids=None, bins: int = 24) -> dict:
    """The distribution of `metric` for a chart: counts in `bins` bins equal in log10 (perplexities span orders of
    magnitude), their labels, and the 5th/10th/50th/90th/95th percentiles."""
    import math

    from selfinstruct.difficulty import RATINGS, band_bounds

    values = sorted(difficulty_values(project=project, scorer=scorer, metric=metric, batch_ids=batch_ids).values())
    if not values:
        return {"n": 0, "labels": [], "counts": [], "percentiles": {}}
    percentiles = {}
    for p in (5, 10, 50, 90, 95):
        bounds = band_bounds(values, drop_lowest=p, drop_highest=0)
        percentiles[str(p)] = round(bounds[0], 4) if bounds else None
    if metric in RATINGS:  # a judge's whole numbers: one bar per rating
        counts = [sum(1 for v in values if round(v) == r) for r in range(1, 7)]
        return {"n": len(values), "labels": [str(r) for r in range(1, 7)], "counts": counts, "percentiles": percentiles}
    logs = [math.log10(max(v, 1e-9)) for v in values]
    low, high = logs[0], logs[-1]
    width = (high - low) / bins or 1.0
    counts = [0] * bins
    for x in logs:
        counts[min(bins - 1, int((x - low) / width))] += 1
    labels = [f"{10 ** (low + (i + 0.5) * width):.3g}" for i in range(bins)]
    return {"n": len(values), "labels": labels, "counts": counts, "percentiles": percentiles}
