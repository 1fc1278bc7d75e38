"""Writes for dataset versions: create (numbered, queued), build (streamed to a canonical rows file, split by
prompt group, hashed, with stats and lineage), and materialize a download representation once per format."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import statistics
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from annotation.rankings import ordered_pairs
from annotation.selectors import iter_ranked_tasks
from core import lifecycle, storage
from core.errors import ServiceError
from core.fields import require_whole_number
from core.lifecycle import RunStatus
from exports import files
from exports.formats import (
    DEFAULT_SHAPE,
    FILE_TYPES,
    SHAPES,
    SPLITS,
    canonical,
)
from exports.models import DatasetKind, DatasetVersion, VersionStatus
from exports.signals import version_ready
from exports.stats import Stats
from projects.selectors import signed_in_or_none
from selfinstruct.difficulty import METRICS as DIFFICULTY_METRICS
from selfinstruct.evolution import MAX_DEPTH as MAX_EVOLUTION_DEPTH
from selfinstruct.selectors import difficulty_band_ids, iter_sft_examples, sft_instructions, stratified_ids
from selfinstruct.taxonomy import taxonomy_for
from selfinstruct.text import conversation_text, prompt_text

logger = logging.getLogger(__name__)
_BEAT_EVERY_ROWS = 1000  # look at the clock this often while writing rows

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
    },
}


class DatasetError(ServiceError):
    pass


def _check_filters(kind: str, filters: dict, *, project) -> dict:
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
    if "min_agreement" in clean and clean["min_agreement"] is not None:
        value = clean["min_agreement"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise DatasetError("filters.min_agreement: a number from 0 to 1")
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


def create_dataset_version(
    *,
    project,
    kind: str,
    filters: dict | None = None,
    test_fraction: float = 0.1,
    split_seed: int = 0,
    name: str = "",
    created_by=None,
) -> DatasetVersion:
    """Number and queue a new version; a Celery task builds it (progress in rows_written)."""
    filters = _check_filters(kind, filters or {}, project=project)
    if not 0 <= test_fraction < 1:
        raise DatasetError("test_fraction: must be at least 0 and below 1")
    require_whole_number(split_seed, field="split_seed", error=DatasetError)
    for _ in range(5):
        try:
            with transaction.atomic():
                number = (
                    DatasetVersion.objects.filter(project=project, kind=kind).aggregate(n=Max("number"))["n"] or 0
                ) + 1
                version = DatasetVersion.objects.create(
                    project=project,
                    kind=kind,
                    number=number,
                    name=name[:200],
                    filters=filters,
                    test_fraction=test_fraction,
                    split_seed=split_seed,
                    build_token=uuid.uuid4(),
                    heartbeat_at=timezone.now(),
                    created_by=signed_in_or_none(created_by),
                )
                # A new id has no files; leftovers come from a database restored (or a test database reset) without
                # its files. With the store unreachable they stay until this version publishes (remove_other_builds).
                with contextlib.suppress(*storage.UNAVAILABLE):
                    storage.delete_prefix(f"datasets/{version.pk}")
                transaction.on_commit(lambda pk=version.pk, t=str(version.build_token): send_build(pk, t))
                return version
        except IntegrityError:
            continue  # two versions numbered at once; take the next number
    raise DatasetError("could not number the version, try again", code="conflict")


def send_build(version_id: int, token: str) -> None:
    from exports.tasks import build_dataset_version_task

    build_dataset_version_task.apply_async((version_id, token), queue=settings.CELERY_TASK_DEFAULT_QUEUE)


def split_of(group: str, *, seed: int, test_fraction: float) -> str:
    """Deterministic by prompt group: one group's rows never straddle splits."""
    value = int.from_bytes(hashlib.sha256(f"{seed}:{group}".encode()).digest()[:8], "big") / 2**64
    return "test" if value < test_fraction else "train"


def _sft_rows(version: DatasetVersion, stats: Stats, lineage: dict):
    f = version.filters
    batches, endpoints, templates, seeds, instructions = set(), set(), set(), set(), set()
    conversations = 0
    depths: dict[str, int] = {}
    band = f.get("difficulty")
    keep = None
    if band:  # generated rows outside the band (or never scored by its scorer) are left out; seeds stay
        keep = difficulty_band_ids(
            project=version.project,
            scorer=band["scorer"],
            metric=band["metric"],
            drop_easiest=band["drop_easiest"],
            drop_hardest=band["drop_hardest"],
        )
        outside = 0
    selection = {
        "project": version.project,
        "batch_ids": f.get("batches"),
        "date_from": f.get("date_from"),
        "date_to": f.get("date_to"),
        "accepted_only": f.get("accepted_only", True),
        "languages": f.get("languages"),
        "evolution": f.get("evolution"),
    }
    stratify, strata = f.get("stratify"), None
    if stratify:  # generated rows of types over their share (or of other types) are left out; seeds stay
        strata, per_type = stratified_ids(
            instructions=sft_instructions(**selection),
            per_type=stratify["per_type"],
            types=stratify.get("types"),
            seed=version.split_seed,
        )
        beyond = 0
    include_seeds = f.get("include_seeds", True) and not f.get("evolution", {}).get("min_depth")
    for example in iter_sft_examples(**selection, include_seeds=include_seeds):
        source = example["source"]
        if keep is not None and source["type"] == "generated" and source["instruction_id"] not in keep:
            outside += 1
            continue
        if strata is not None and source["type"] == "generated" and source["instruction_id"] not in strata:
            beyond += 1
            continue
        if source["type"] == "generated":
            batches.add(source["batch_id"])
            endpoints.add(source["endpoint"])
            templates.add(source["template"])
            instructions.add(source["instruction_id"])
            if "evolution" in source and source["example"] == 0:
                depth = str(source["evolution"]["depth"])
                depths[depth] = depths.get(depth, 0) + 1
        else:
            seeds.add(source["seed_id"])
        system, history = example.get("system", ""), example.get("history", [])
        context = conversation_text(system, history, "", "") if system or history else ""
        stats.length("prompt", context + example["instruction"] + example["input"])
        stats.length("output", example["output"])
        row = {
            "group_id": example["group"],
            "instruction": example["instruction"],
            "input": example["input"],
            "output": example["output"],
            "language": example["language"],
            "category": example["category"],
            "source": source,
        }
        if system or history:  # a turn of a conversation (single-turn rows keep their bytes and hashes)
            row.update(system=system, history=history)
            conversations += 1
        yield row
    lineage.update(
        batches=sorted(batches),
        endpoints=sorted(e for e in endpoints if e),
        templates=sorted(t for t in templates if t),
        generated_instructions=len(instructions),
        seeds=len(seeds),
        seed_ids=sorted(seeds)[:10_000],
        **({"multi_turn_rows": conversations} if conversations else {}),
        **({"evolved_instructions_by_depth": dict(sorted(depths.items()))} if depths else {}),
    )
    if keep is not None:
        lineage["difficulty"] = {**band, "instructions_in_band": len(keep), "rows_left_out": outside}
    if strata is not None:
        lineage["stratify"] = {**stratify, "instructions_per_type": per_type, "rows_left_out": beyond}


def _preference_rows(version: DatasetVersion, stats: Stats, lineage: dict):
    f = version.filters
    use_consensus = f.get("consensus", False)
    with_margin = f.get("margin", True)
    labelers, models, endpoints, runs, rankings, agreements, tasks = set(), set(), set(), set(), 0, [], 0
    for task in iter_ranked_tasks(
        project=version.project,
        labelers=f.get("labelers"),
        date_from=f.get("date_from"),
        date_to=f.get("date_to"),
        languages=f.get("languages"),
        categories=f.get("categories"),
        use_consensus=use_consensus,
        min_agreement=f.get("min_agreement"),
    ):
        tasks += 1
        labelers.update(task["labelers"])
        rankings += len(task["ranking_ids"])
        if task["agreement"] is not None:
            agreements.append(task["agreement"])
        completions = task["completions"]
        for c in completions.values():
            models.add(c["model"])
            if c["endpoint__name"]:
                endpoints.add(c["endpoint__name"])
            if c["sampling_run_id"]:
                runs.add(c["sampling_run_id"])
        prompt = prompt_text(task["instruction"], task["input"])
        for ordering in task["orderings"]:
            for chosen, rejected, distance in ordered_pairs(ordering["ranking"]):
                if chosen not in completions or rejected not in completions:
                    continue
                stats.length("prompt", prompt)
                stats.length("chosen", completions[chosen]["text"])
                stats.length("rejected", completions[rejected]["text"])
                stats.margins[distance] += 1
                yield {
                    "group_id": f"prompt-{task['prompt_id']}",
                    "prompt": prompt,
                    "chosen": completions[chosen]["text"],
                    "rejected": completions[rejected]["text"],
                    "margin": float(distance) if with_margin else 0.0,
                    "language": task["language"],
                    "category": task["category"],
                    "source": {
                        "task_id": task["task_id"],
                        "ranking_id": ordering["ranking_id"],
                        "labeler": ordering["labeler"],
                        "consensus": use_consensus,
                        "chosen_id": chosen,
                        "rejected_id": rejected,
                        "chosen_model": completions[chosen]["model"],
                        "rejected_model": completions[rejected]["model"],
                    },
                }
    lineage.update(
        tasks=tasks,
        rankings=rankings,
        labelers=sorted(labelers),
        models=sorted(models),
        endpoints=sorted(endpoints),
        sampling_runs=sorted(runs),
        from_consensus=use_consensus,
    )
    if agreements:
        lineage["mean_agreement"] = round(statistics.fmean(agreements), 4)


def build_dataset_version(*, version_id: int, token: str | None = None) -> None:
    """Stream the rows into a canonical rows file (canonical JSON, one row per line), hash them, write the default
    download, upload both under the build's own prefix in shared storage, and mark the version ready with it.

    Safe to run twice and to resume: each build holds the version's build token (a restarted build gets a new one),
    writes under its own prefix, and only the current token's build may publish (record its prefix) and mark the
    version ready. A ready or failed version is left alone; a superseded build stops at its next heartbeat."""
    version = DatasetVersion.objects.select_related("project").get(pk=version_id)
    token = str(token or version.build_token or "")
    if version.status != VersionStatus.BUILDING or str(version.build_token) != token:
        return
    prefix = files.build_prefix(version, token)
    staging = files.working_folder(prefix)
    stats, lineage = Stats(), {}
    source = _sft_rows if version.kind == DatasetKind.SFT else _preference_rows
    digest = hashlib.sha256()
    build_kind = lifecycle.kind("dataset-build")
    mine = build_kind.rows(version.pk, token=token, among=(RunStatus.RUNNING,))
    try:
        mine.update(heartbeat_at=timezone.now(), rows_written=0)
        beat = time.monotonic()
        with (staging / files.ROWS).open("wb") as out:
            for n, row in enumerate(source(version, stats, lineage), start=1):
                row["split"] = split_of(row["group_id"], seed=version.split_seed, test_fraction=version.test_fraction)
                row["id"] = n
                stats.splits[row["split"]] += 1
                stats.languages[row["language"]] += 1
                stats.categories[row["category"] or "uncategorized"] += 1
                stats.groups[row["group_id"]] += 1
                line = canonical(row)
                digest.update(line)
                out.write(line)
                if n % _BEAT_EVERY_ROWS == 0 and time.monotonic() - beat > settings.DATASET_BUILD_HEARTBEAT_SECONDS:
                    beat = time.monotonic()
                    if not mine.update(rows_written=n, heartbeat_at=timezone.now()):
                        logger.warning("dataset version %s: build %s superseded; stopping", version.pk, token)
                        files.discard_build(staging, prefix)
                        return
        mine.update(heartbeat_at=timezone.now())
        shape = DEFAULT_SHAPE[version.kind]
        name = files.representation_name(shape, "all", "jsonl", False)
        default_hash = files.write_representation(
            staging / files.ROWS,
            staging / name,
            shape=shape,
            split="all",
            file_type="jsonl",
            compress=False,
            conversational=bool(lineage.get("multi_turn_rows")),
        )
        (staging / f"{name}.sha256").write_text(default_hash)
        files.upload_build(staging, prefix)
        mine.update(heartbeat_at=timezone.now())
    except Exception as exc:
        if lifecycle.is_infrastructure_error(exc):
            if storage.local_path(prefix) is None:
                shutil.rmtree(staging, ignore_errors=True)
            raise  # storage or database unreachable: the reconciler restarts the build
        logger.exception("building dataset version %s failed", version.pk)
        lifecycle.finish(build_kind, version.pk, RunStatus.FAILED, token=token, error=f"{type(exc).__name__}: {exc}")
        files.discard_build(staging, prefix)
        return
    total = sum(stats.splits.values())
    with transaction.atomic():
        current = DatasetVersion.objects.select_for_update().filter(pk=version.pk).values("status", "build_token")
        row = current.first()
        if not row or row["status"] != VersionStatus.BUILDING or str(row["build_token"]) != token:
            files.discard_build(staging, prefix)
            return
        # Under the row lock, before anyone can see the version ready: what killed or superseded builds left.
        files.remove_other_builds(version, keep=prefix)
        lifecycle.finish(
            build_kind,
            version.pk,
            RunStatus.SUCCEEDED,  # stored as `ready`
            token=token,
            rows_written=total,
            row_count=total,
            train_rows=stats.splits["train"],
            test_rows=stats.splits["test"],
            content_hash=digest.hexdigest(),
            storage_prefix=prefix,
            stats=stats.summary(),
            lineage=lineage,
        )
    version.refresh_from_db()
    version_ready.send(sender=DatasetVersion, version=version)  # e.g. training triggers start their jobs


def restart_stalled_builds(*, stale_seconds: float | None = None) -> int:
    """Give building versions whose heartbeat stopped (a killed worker, a lost message) a new token and queue them."""
    stale = settings.DATASET_BUILD_STALE_SECONDS if stale_seconds is None else stale_seconds
    cutoff = timezone.now() - timedelta(seconds=stale)
    restarted = 0
    for pk, old in DatasetVersion.objects.filter(status=VersionStatus.BUILDING, heartbeat_at__lt=cutoff).values_list(
        "pk", "build_token"
    ):
        new = uuid.uuid4()
        if DatasetVersion.objects.filter(pk=pk, build_token=old, status=VersionStatus.BUILDING).update(
            build_token=new, heartbeat_at=timezone.now()
        ):
            logger.warning("dataset version %s: build stalled; restarting it", pk)
            send_build(pk, str(new))
            restarted += 1
    return restarted


def _check_representation(version: DatasetVersion, *, shape: str, split: str, file_type: str, compress: bool):
    if version.status != VersionStatus.READY:
        raise DatasetError(f"version {version.pk} is {version.status}, not ready", code="not_ready")
    if shape not in SHAPES[version.kind]:
        raise DatasetError(f"format: {shape!r} is not a {version.kind} format; use one of {list(SHAPES[version.kind])}")
    if split not in SPLITS:
        raise DatasetError(f"split: must be one of {list(SPLITS)}")
    if file_type not in FILE_TYPES:
        raise DatasetError(f"file type: must be one of {list(FILE_TYPES)}")
    if file_type == "parquet" and compress:
        raise DatasetError("gzip: Parquet files are compressed already; ask for gzip with JSONL only")
    if not storage.exists(f"{files.files_prefix(version)}/{files.ROWS}"):
        raise DatasetError(f"version {version.pk}: its rows file is missing from storage", code="missing")


def materialize_key(*, version: DatasetVersion, shape: str, split: str, file_type: str, compress: bool):
    """(storage key, sha256) of the download for this representation, written once from the canonical rows and
    stored (so a download can be resumed with Range and gives the same bytes every time, from any machine)."""
    _check_representation(version, shape=shape, split=split, file_type=file_type, compress=compress)
    return files.materialize_key(version, shape=shape, split=split, file_type=file_type, compress=compress)


def materialize(*, version: DatasetVersion, shape: str, split: str, file_type: str, compress: bool):
    """(path on this machine's disk, sha256) of the representation: the stored file fetched into a local cache
    checked by its hash when storage is shared (training workers, the CLI)."""
    key, digest = materialize_key(version=version, shape=shape, split=split, file_type=file_type, compress=compress)
    return files.local_copy(version, key, digest), digest


def send_current_build(version_id: int) -> None:
    """Send the build of a building version again under its current token (a duplicate finds it superseded)."""
    token = DatasetVersion.objects.filter(pk=version_id, status=VersionStatus.BUILDING).values_list(
        "build_token", flat=True
    )
    for value in token:
        send_build(version_id, str(value))
