"""Where a dataset version's files live: in shared storage (`core.storage`) under the prefix its build published
(`datasets/<id>/<build token>/`), with the canonical rows (`rows.jsonl`), for a preference version its task records
(`tasks.jsonl`, with a `.sha256` beside it: exports/task_shapes.py), the default download, and every other
representation materialized once on first request (`<shape>.<split>.<type>[.gz]` with a `.sha256` beside it).

A build writes into a working folder, uploads each file under its own token's prefix and only then, under the row
lock, records that prefix on the version: a build killed mid-upload, or superseded, leaves objects nobody reads
(removed by the next build of the version). On the local default the working folder is the prefix's own folder,
so nothing is copied. Machines that need a file on disk (a training worker) fetch it into a local cache checked
by its sha256.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path

from django.conf import settings

from core import storage
from exports.formats import read_rows, shaped_rows, write_jsonl, write_parquet
from exports.models import DatasetVersion
from exports.task_shapes import TASK_SHAPES, TASKS, for_parquet, parquet_schema, task_rows

logger = logging.getLogger(__name__)

ROWS = "rows.jsonl"


def build_prefix(version: DatasetVersion, token: str) -> str:
    return f"datasets/{version.pk}/{token}"


def files_prefix(version: DatasetVersion) -> str:
    """The published prefix of a ready version (versions built before storage: their old folder)."""
    return version.storage_prefix or f"datasets/{version.pk}"


def working_folder(prefix: str) -> Path:
    """Where a build writes before publishing: the prefix's own folder on local storage, else a scratch folder on
    this machine's disk."""
    local = storage.local_path(prefix)
    folder = local if local is not None else Path(settings.DATA_DIR) / "scratch" / prefix
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def upload_build(folder: Path, prefix: str) -> None:
    """Upload what a build wrote; on local storage the files are already in place."""
    if storage.local_path(prefix) is None:
        storage.put_tree(folder, prefix)
        shutil.rmtree(folder, ignore_errors=True)


def discard_build(folder: Path, prefix: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    storage.delete_prefix(prefix)


def remove_other_builds(version: DatasetVersion, keep: str) -> None:
    """Everything under the version's folder but the published prefix: superseded or killed builds' leftovers."""
    for key in storage.keys(f"datasets/{version.pk}"):
        if not key.startswith(keep.rstrip("/") + "/"):
            storage.store().delete(key)
    local = storage.local_path(f"datasets/{version.pk}")
    if local is not None and local.is_dir():
        for path in local.iterdir():
            if path.is_dir() and path.resolve() != storage.local_path(keep).resolve():
                shutil.rmtree(path, ignore_errors=True)


def representation_name(shape: str, split: str, file_type: str, compress: bool) -> str:
    return f"{shape}.{split}.{file_type}" + (".gz" if compress else "")


def write_representation(
    source: Path,
    target: Path,
    *,
    shape: str,
    split: str,
    file_type: str,
    compress: bool,
    conversational: bool = False,
    aspect_keys: tuple[str, ...] = (),
):
    """Write one representation of the canonical rows file (of the task records file for TASK_SHAPES) to `target`;
    returns its sha256. `conversational`: the version has multi-turn rows (lineage `multi_turn_rows`);
    `aspect_keys`: the version's aspects (lineage `aspects`), the columns of the aspects shape."""
    if shape in TASK_SHAPES:
        rows = task_rows(read_rows(source, split), shape, aspect_keys=aspect_keys)
        if file_type == "parquet":
            return write_parquet(
                for_parquet(rows, shape), target, schema=parquet_schema(shape, aspect_keys=aspect_keys)
            )
        return write_jsonl(rows, target, compress=compress)
    rows = shaped_rows(read_rows(source, split), shape, conversational=conversational)
    if file_type == "parquet" and shape == "raw":  # lineage dicts differ by source type: one JSON column
        rows = ({**row, "source": json.dumps(row["source"], ensure_ascii=False, sort_keys=True)} for row in rows)
    return write_parquet(rows, target) if file_type == "parquet" else write_jsonl(rows, target, compress=compress)


def stored_representation(version: DatasetVersion, name: str) -> tuple[str, str] | None:
    """(key, sha256) of a representation already in storage, else None. The hash is written after the file."""
    prefix = files_prefix(version)
    hash_key = f"{prefix}/{name}.sha256"
    if not storage.exists(hash_key):
        return None
    return f"{prefix}/{name}", storage.read_text(hash_key, limit=200).strip()


def materialize_key(version: DatasetVersion, *, shape: str, split: str, file_type: str, compress: bool):
    """(storage key, sha256) of the representation, written and stored once (two machines writing it at the same
    time write the same bytes)."""
    name = representation_name(shape, split, file_type, compress)
    found = stored_representation(version, name)
    if found is not None:
        return found
    prefix = files_prefix(version)
    source = local_tasks(version) if shape in TASK_SHAPES else local_rows(version)
    with tempfile.TemporaryDirectory(dir=_scratch()) as folder:
        target = Path(folder) / name
        digest = write_representation(
            source,
            target,
            shape=shape,
            split=split,
            file_type=file_type,
            compress=compress,
            conversational=bool(version.lineage.get("multi_turn_rows")),
            aspect_keys=tuple(version.lineage.get("aspects", {})),
        )
        storage.put_file(target, f"{prefix}/{name}")
    storage.write_text(f"{prefix}/{name}.sha256", digest)
    return f"{prefix}/{name}", digest


def local_copy(version: DatasetVersion, key: str, digest: str) -> Path:
    """The stored file on this machine's disk: itself on local storage, else a cached copy checked by sha256."""
    local = storage.local_path(key)
    if local is not None:
        return local
    cached = Path(settings.DATA_DIR) / "cache" / "datasets" / str(version.pk) / Path(key).name
    marker = cached.with_name(cached.name + ".sha256")
    if cached.exists() and marker.exists() and marker.read_text().strip() == digest:
        return cached
    storage.fetch_file(key, cached)
    got = storage.sha256_of(cached)
    if got != digest:
        cached.unlink(missing_ok=True)
        raise OSError(f"{key}: downloaded sha256 {got} does not match the recorded {digest}")
    marker.write_text(digest)
    return cached


def local_rows(version: DatasetVersion) -> Path:
    """The canonical rows file on this machine's disk (checked against the version's content hash)."""
    return local_copy(version, f"{files_prefix(version)}/{ROWS}", version.content_hash)


def has_tasks(version: DatasetVersion) -> bool:
    """Whether the version has task records (preference versions built before them have none)."""
    return storage.exists(f"{files_prefix(version)}/{TASKS}.sha256")


def local_tasks(version: DatasetVersion) -> Path:
    """The task records file on this machine's disk (checked against the sha256 its build wrote beside it)."""
    prefix = files_prefix(version)
    digest = storage.read_text(f"{prefix}/{TASKS}.sha256", limit=200).strip()
    return local_copy(version, f"{prefix}/{TASKS}", digest)


def _scratch() -> Path:
    folder = Path(settings.DATA_DIR) / "scratch"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
