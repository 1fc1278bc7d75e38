"""A training job's files in shared storage (`core.storage`, prefix `training/<id>/`), and the local caches of
the models other machines need.

The GPU worker trains in a working folder on its own disk (`DATA_DIR/training/<id>`; on the local default that
folder is the storage folder itself, so nothing is copied). Each complete checkpoint (`checkpoints/checkpoint-N`,
complete once the trainer wrote its `trainer_state.json`) is uploaded while training goes on; at the end the model,
adapter, configs, metrics, curve and log are uploaded, whatever the outcome. The job row's `artifacts` manifest
lists what was uploaded and whether the job finished (`final`) and how (`status`): the web server lists and serves
artifacts from it, never from a folder of its own.

A machine that needs a trained model (a later job's `base_job`, `serve_model`, reward scoring) fetches
`training/<id>/model/` into `DATA_DIR/cache/models/job-<id>/`, marked complete only after every file arrived.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from core import storage
from training.models import TrainingJob
from training.paths import job_dir, job_prefix

logger = logging.getLogger(__name__)

TOP_FILES = ("result.json", "config.json", "job.json", "training_args.json", "metrics.json", "loss.png", "train.log")
FOLDERS = ("model", "adapter", "tensorboard")
_COMPLETE = ".complete"


def _files_to_upload(folder: Path) -> list[str]:
    names = [name for name in TOP_FILES if (folder / name).is_file()]
    for sub in FOLDERS:
        if (folder / sub).is_dir():
            names += sorted(p.relative_to(folder).as_posix() for p in (folder / sub).rglob("*") if p.is_file())
    return names


def complete_checkpoints(folder: Path) -> list[str]:
    """Checkpoint folders the trainer finished writing (its trainer_state.json, saved last, reads whole)."""
    root = folder / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _whole_json(p / "trainer_state.json"))


def _whole_json(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
        return True
    except (OSError, ValueError):
        return False


def upload_checkpoint(job: TrainingJob, folder: Path, name: str) -> int:
    """Upload one complete checkpoint folder; returns the number of files."""
    count = storage.put_tree(folder / "checkpoints" / name, f"{job_prefix(job)}/checkpoints/{name}")
    _record(job, {f"checkpoints/{name}": count}, final=False, status=job.status)
    return count


def upload_outputs(job: TrainingJob, folder: Path, *, status: str) -> dict:
    """Upload the job's outputs (what there is: a failed or cancelled job uploads what it has) and record the
    manifest with the job's final status. Returns the manifest."""
    files = {}
    for name in _files_to_upload(folder):
        storage.put_file(folder / name, f"{job_prefix(job)}/{name}")
        files[name] = (folder / name).stat().st_size
    return _record(job, files, final=True, status=status)


def _record(job: TrainingJob, files: dict, *, final: bool, status: str) -> dict:
    manifest = dict(TrainingJob.objects.filter(pk=job.pk).values_list("artifacts", flat=True).first() or {})
    if any(name.startswith("checkpoints/") for name in files):
        manifest["checkpoints"] = {**manifest.get("checkpoints", {}), **files}
    else:
        manifest["files"] = files
    manifest.update(final=final, status=status, uploaded_at=timezone.now().isoformat())
    TrainingJob.objects.filter(pk=job.pk).update(artifacts=manifest)
    job.artifacts = manifest
    return manifest


def has_model(job: TrainingJob) -> bool:
    """Whether the job's model was uploaded (jobs from before storage: whether this disk has it)."""
    if "files" in (job.artifacts or {}):
        return "model/config.json" in job.artifacts["files"]
    return (job_dir(job) / "model" / "config.json").is_file()


def local_model(job: TrainingJob) -> Path:
    """The job's trained model folder on this machine: the working folder when this machine trained it (or
    storage is local), else a local cache fetched from storage. OSError when storage has no model for it."""
    in_place = job_dir(job) / "model"
    if (in_place / "config.json").is_file():
        return in_place
    cache = Path(settings.DATA_DIR) / "cache" / "models" / f"job-{job.pk}"
    if (cache / _COMPLETE).is_file():
        return cache
    shutil.rmtree(cache, ignore_errors=True)
    count = storage.fetch_tree(f"{job_prefix(job)}/model", cache)
    if not count or not (cache / "config.json").is_file():
        shutil.rmtree(cache, ignore_errors=True)
        raise OSError(f"job {job.pk}: no model in storage")
    (cache / _COMPLETE).touch()
    logger.info("job %s: fetched its model (%d files) from storage into %s", job.pk, count, cache)
    return cache
