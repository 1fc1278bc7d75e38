"""Writes for dataset versions: create (numbered, queued), build (streamed to a canonical rows file, split by
prompt group, hashed, with stats and lineage), and materialize a download representation once per format.

Its task is reached only through `send_build`'s function-local import (the tasks ↔ services rule:
exports/tasks.py)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from core import lifecycle, storage
from core.fields import require_whole_number
from core.lifecycle import RunStatus
from exports import files
from exports.dataset_filters import (
    FILTER_KEYS,  # noqa: F401 - re-exported
    DatasetError,
    check_filters,
)
from exports.dataset_rows import preference_rows, sft_rows
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
from exports.task_shapes import TASK_SHAPES, TASKS
from projects.selectors import signed_in_or_none

logger = logging.getLogger(__name__)
_BEAT_EVERY_ROWS = 1000  # look at the clock this often while writing rows


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
    filters = check_filters(kind, filters or {}, project=project)
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
    digest, task_digest = hashlib.sha256(), hashlib.sha256()
    build_kind = lifecycle.kind("dataset-build")
    mine = build_kind.rows(version.pk, token=token, among=(RunStatus.RUNNING,))
    try:
        mine.update(heartbeat_at=timezone.now(), rows_written=0)
        beat = time.monotonic()
        with (staging / files.ROWS).open("wb") as out, (staging / TASKS).open("wb") as task_out:

            def write_task(record: dict) -> None:  # a preference task's record: the aspects and disagreements shapes
                record["split"] = split_of(
                    record["group_id"], seed=version.split_seed, test_fraction=version.test_fraction
                )
                line = canonical(record)
                task_digest.update(line)
                task_out.write(line)

            if version.kind == DatasetKind.SFT:
                source = sft_rows(version, stats, lineage)
            else:
                source = preference_rows(version, stats, lineage, write_task=write_task)
            for n, row in enumerate(source, start=1):
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
        if version.kind == DatasetKind.SFT:
            (staging / TASKS).unlink()
        else:
            (staging / f"{TASKS}.sha256").write_text(task_digest.hexdigest())
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
    if shape in TASK_SHAPES and not files.has_tasks(version):
        raise DatasetError(f"format: version {version.pk} was built before the {shape} shape; build a new version")
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
