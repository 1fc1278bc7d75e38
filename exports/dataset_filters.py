"""Checks for a dataset version's filters: which keys each kind takes and what each value may be (dates, ids,
agreement, difficulty band, evolution depth, stratification by task type)."""

from __future__ import annotations

from datetime import datetime

from core.errors import ServiceError
from selfinstruct.difficulty import METRICS as DIFFICULTY_METRICS
from selfinstruct.evolution import MAX_DEPTH as MAX_EVOLUTION_DEPTH
from selfinstruct.taxonomy import taxonomy_for

FILTER_KEYS = {
    "sft": {
        "batches",
        "date_from",
        "date_to",
        "accepted_only",
        "languages",
        "include_seeds",
        "difficulty",
        "evolution",
        "stratify",
    },
    "preference": {
        "date_from",
        "date_to",
        "labelers",
        "min_agreement",
        "consensus",
        "languages",
        "categories",
        "margin",
        "disagreement_below",
    },
}


class DatasetError(ServiceError):
    pass


def check_filters(kind: str, filters: dict, *, project) -> dict:
    if kind not in FILTER_KEYS:
        raise DatasetError(f"kind: must be one of {sorted(FILTER_KEYS)}")
    unknown = sorted(set(filters) - FILTER_KEYS[kind])
    if unknown:
        raise DatasetError(f"filters: unknown filter(s) for {kind}: {unknown}; known: {sorted(FILTER_KEYS[kind])}")
    clean = dict(filters)
    for key in ("date_from", "date_to"):
        if clean.get(key):
            try:
                datetime.fromisoformat(str(clean[key]))
            except ValueError:
                raise DatasetError(f"filters.{key}: not an ISO date or datetime: {clean[key]!r}") from None
    if "batches" in clean and not (
        isinstance(clean["batches"], list) and all(isinstance(i, int) for i in clean["batches"])
    ):
        raise DatasetError("filters.batches: a list of ids")
    for key in ("languages", "labelers", "categories"):
        if key in clean and not (isinstance(clean[key], list) and all(isinstance(i, str) for i in clean[key])):
            raise DatasetError(f"filters.{key}: a list of strings")
    for key in ("min_agreement", "disagreement_below"):  # disagreement_below: the disagreements shape's threshold
        value = clean.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1):
            raise DatasetError(f"filters.{key}: a number from 0 to 1")
    for key in ("accepted_only", "include_seeds", "consensus", "margin"):
        if key in clean and not isinstance(clean[key], bool):
            raise DatasetError(f"filters.{key}: true or false")
    if clean.get("difficulty") is not None:
        clean["difficulty"] = _check_difficulty(clean["difficulty"])
    if clean.get("evolution") is not None:
        clean["evolution"] = _check_evolution(clean["evolution"])
    if clean.get("stratify") is not None:
        clean["stratify"] = _check_stratify(clean["stratify"], keys=taxonomy_for(project).keys())
    return clean


MAX_PER_TYPE = 10_000_000


def _check_stratify(value, *, keys: list[str]) -> dict:
    """{per_type, types}: at most per_type generated instructions of each task type (seeded by the split seed);
    `types` (optional) keeps only those types (a key of the project's taxonomy, `keys`, or "untagged")."""
    if not isinstance(value, dict) or not set(value) <= {"per_type", "types"} or "per_type" not in value:
        raise DatasetError("filters.stratify: {per_type, types}")
    per_type = value["per_type"]
    if isinstance(per_type, bool) or not isinstance(per_type, int) or not 1 <= per_type <= MAX_PER_TYPE:
        raise DatasetError(f"filters.stratify.per_type: a whole number from 1 to {MAX_PER_TYPE}")
    types = value.get("types")
    allowed = [*keys, "untagged"]
    if types is not None and (
        not isinstance(types, list) or not types or len(types) > len(allowed) or any(t not in allowed for t in types)
    ):
        raise DatasetError(f"filters.stratify.types: a list of task types from {allowed}")
    return {"per_type": per_type, **({"types": sorted(set(types))} if types else {})}


def _check_evolution(value) -> dict:
    """{min_depth, max_depth}: generated instructions that many Evol-Instruct evolutions from a seed (0: not
    evolved), both optional, from 0 to MAX_DEPTH."""
    if not isinstance(value, dict) or not set(value) <= {"min_depth", "max_depth"}:
        raise DatasetError("filters.evolution: {min_depth, max_depth}")
    clean = {"min_depth": value.get("min_depth", 0), "max_depth": value.get("max_depth", MAX_EVOLUTION_DEPTH)}
    for key, depth in clean.items():
        if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= MAX_EVOLUTION_DEPTH:
            raise DatasetError(f"filters.evolution.{key}: a whole number from 0 to {MAX_EVOLUTION_DEPTH}")
    if clean["min_depth"] > clean["max_depth"]:
        raise DatasetError("filters.evolution: min_depth must not exceed max_depth")
    return clean


def _check_difficulty(band) -> dict:
    """{"scorer", "metric", "drop_easiest", "drop_hardest"}: keep the generated rows whose instruction lies between
    the two percentiles of `metric` by `scorer` (higher is harder for every metric)."""
    if not isinstance(band, dict) or set(band) - {"scorer", "metric", "drop_easiest", "drop_hardest"}:
        raise DatasetError("filters.difficulty: {scorer, metric, drop_easiest, drop_hardest}")
    scorer, metric = band.get("scorer"), band.get("metric", "ifd")
    if not isinstance(scorer, str) or not 0 < len(scorer) <= 200:
        raise DatasetError("filters.difficulty.scorer: the scorer's name (job-<id> or a base model), as a run gave it")
    if metric not in DIFFICULTY_METRICS:
        raise DatasetError(f"filters.difficulty.metric: one of {list(DIFFICULTY_METRICS)}")
    clean = {"scorer": scorer, "metric": metric}
    for key in ("drop_easiest", "drop_hardest"):
        value = band.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 100:
            raise DatasetError(f"filters.difficulty.{key}: a percentage from 0 to below 100")
        clean[key] = value
    if clean["drop_easiest"] + clean["drop_hardest"] >= 100:
        raise DatasetError("filters.difficulty: drop_easiest + drop_hardest must stay below 100")
    return clean
