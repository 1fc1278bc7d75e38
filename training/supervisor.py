"""Running a training job on a GPU worker: claim it with a run token (exactly once), materialize its data,
start the trainer process (training/trainer/launcher.py) and supervise it (events → metric rows, progress, heartbeat,
cancel), and record the outcome; a stalled job's local trainer is killed when the reconciler fails it."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from core import lifecycle
from core.lifecycle import FINISHED, RunStatus
from exports.services import DatasetError, materialize
from training import artifacts
from training.jobs import data_shape
from training.models import (
    TrainingJob,
    TrainingMetric,
)
from training.paths import (
    job_dir,
)
from training.trainer import launcher, zygote

logger = logging.getLogger(__name__)


# --- running ---------------------------------------------------------------------------------------------------


class _InputMissing(OSError):
    """Something the job trains from is not there (its base job's model)."""


def run_training_job(*, job_id: int) -> None:
    """Claim the job (queued → running, exactly once), run the trainer subprocess to the end, record the outcome.
    A redelivered or duplicate message finds the job no longer queued and does nothing."""
    kind = lifecycle.kind("training")
    token = lifecycle.claim(kind, job_id, hostname=socket.gethostname())
    if token is None:
        logger.info("training job %s is not queued (a redelivered or duplicate message); nothing to do", job_id)
        return
    with lifecycle.failing(kind, job_id, token=token, what=f"training job {job_id}"):
        _run_claimed_job(job_id, token)


def _run_claimed_job(job_id: int, token) -> None:
    mine = lifecycle.kind("training").rows(job_id, token=token, among=(RunStatus.RUNNING,))
    job = TrainingJob.objects.select_related("dataset_version").get(pk=job_id)
    folder = job_dir(job)
    try:
        spec = _prepare(job, folder)
    except (DatasetError, OSError) as exc:
        if lifecycle.is_infrastructure_error(exc):
            raise  # storage unreachable: the reconciler fails the job; its data is not to blame
        _finish(job_id, token, RunStatus.FAILED, str(exc) if isinstance(exc, _InputMissing) else f"dataset: {exc}")
        return
    mine.update(output_dir=str(folder))
    proc = launcher.start_trainer(
        _command(spec),
        folder=str(folder),
        log=str(folder / "train.log"),
        env=_runner_env(),
        cwd=str(settings.BASE_DIR),
        preexec_fn=_die_with_parent,
        preload=settings.TRAINING_PRELOAD,
    )
    if proc.pid is not None:
        mine.update(pid=proc.pid)
    try:
        _supervise(job, proc, folder, mine, token)
    except BaseException:
        _stop(proc)  # the job is about to be recorded failed: no trainer may go on without a supervisor
        raise


def _prepare(job: TrainingJob, folder: Path) -> dict:
    """Write job.json: the data files (materialized representations of the version's splits) and settings."""
    version = job.dataset_version
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("CANCEL", "events.jsonl", "result.json"):  # a fresh run of this job id
        (folder / name).unlink(missing_ok=True)
    shape = data_shape(job.kind, job.hyperparameters)
    train_file, _ = materialize(version=version, shape=shape, split="train", file_type="jsonl", compress=False)
    test_file = None
    if version.test_rows:
        test_file, _ = materialize(version=version, shape=shape, split="test", file_type="jsonl", compress=False)
    base_model = job.base_model
    if job.base_job_id:  # an earlier job's model: from storage into this machine's cache when it is not here
        try:
            base_model = str(artifacts.local_model(job.base_job))
        except OSError as exc:
            if lifecycle.is_infrastructure_error(exc):
                raise
            raise _InputMissing(f"base_job: {exc}") from None
    reward_model = None
    if job.reward_job_id:  # RL: the reward model that scores the samples, fetched like a base job's model
        try:
            reward_model = str(artifacts.local_model(job.reward_job))
        except OSError as exc:
            if lifecycle.is_infrastructure_error(exc):
                raise
            raise _InputMissing(f"reward_job: {exc}") from None
    spec = {
        "job": job.pk,
        "kind": job.kind,
        "method": job.method,
        "base_model": base_model,
        "reward_model": reward_model,
        "dataset_version": version.pk,
        "dataset_hash": version.content_hash,
        "train_file": str(train_file),
        "test_file": str(test_file) if test_file else None,
        "hyperparameters": job.hyperparameters,
        "seed": job.seed,
    }
    (folder / "job.json").write_text(json.dumps(spec, indent=2), encoding="utf-8")
    return {**spec, "folder": str(folder)}


def _command(spec: dict) -> list[str]:
    processes = spec["hyperparameters"].get("num_processes", 1)
    if processes > 1:  # the same entry point, one process per GPU (DDP, or DeepSpeed ZeRO when asked)
        config = spec["hyperparameters"].get("deepspeed", "")
        launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes)]
        if config:
            launch += ["--config_file", str(Path(__file__).parent / "accelerate_configs" / f"{config}.yaml")]
        return [*launch, "-m", "training.trainer.runner", spec["folder"]]
    return [sys.executable, "-m", "training.trainer.runner", spec["folder"]]


def _runner_env() -> dict:
    env = os.environ.copy()
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        PYTHONUNBUFFERED="1",
        TOKENIZERS_PARALLELISM="false",
    )
    env.setdefault("HF_HOME", str(Path(settings.DATA_DIR) / "hf-home"))
    return env


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """If the worker dies (SIGKILL included), the kernel kills the trainer too: no orphan holds the GPU."""
    zygote.arm_parent_death_signal()
    os.setsid()


def _supervise(job: TrainingJob, proc, folder: Path, mine, token) -> None:
    progress, uploaded = {}, {}
    # Each checkpoint goes to storage as soon as it is whole, from a side thread: the heartbeat never waits on it.
    uploader = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"job-{job.pk}-upload")
    try:
        _watch(job, proc, folder, mine, uploader, uploaded, progress)
    finally:
        uploader.shutdown(wait=True)
    for done in uploaded.values():
        done.result()  # a checkpoint upload that failed fails the job here (or, storage lost, leaves it to the reaper)
    if mine.exists():
        with lifecycle.beating(lifecycle.kind("training"), job.pk, token=token):
            _finish_from_result(proc.returncode, folder, job, token, progress)


def _watch(job, proc, folder: Path, mine, uploader, uploaded: dict, progress: dict) -> None:
    """Until the trainer exits: metrics and progress in, heartbeat out, cancel passed on, checkpoints uploaded."""
    events, offset, cancel_sent = folder / "events.jsonl", 0, False
    while True:
        code = proc.poll()
        offset = _ingest(job, events, offset, progress)
        for name in artifacts.complete_checkpoints(folder):
            if name not in uploaded:
                uploaded[name] = uploader.submit(_upload_checkpoint, job, folder, name)
        fields = {"heartbeat_at": timezone.now()}
        if proc.pid is not None:  # a trainer waiting for the zygote's imports has none yet
            fields["pid"] = proc.pid
        if progress:
            fields.update(step=progress["step"], total_steps=max(progress["total"], 0), eta_seconds=progress["eta"])
        if not mine.update(**fields):  # reaped, or another run owns the job now: stop training
            logger.warning("training job %s: no longer ours; stopping the trainer", job.pk)
            _stop(proc)
            return
        if not cancel_sent and TrainingJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
            (folder / "CANCEL").touch()
            cancel_sent = True
        if code is not None:
            return
        time.sleep(settings.TRAINING_POLL_SECONDS)


def _upload_checkpoint(job: TrainingJob, folder: Path, name: str) -> None:
    try:
        artifacts.upload_checkpoint(job, folder, name)
    finally:
        connection.close()  # this thread's own database connection


def _ingest(job: TrainingJob, path: Path, offset: int, progress: dict) -> int:
    """Read complete new lines of events.jsonl: logs become metric rows, the last progress event wins."""
    if not path.exists():
        return offset
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read()
    end = data.rfind(b"\n") + 1
    metrics = []
    for line in data[:end].splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event.get("event") == "log":
            metrics.append(
                TrainingMetric(job=job, step=event["step"], epoch=event.get("epoch"), values=event["values"])
            )
        elif event.get("event") == "progress":
            step, total, elapsed = event["step"], event["total"], event.get("elapsed") or 0.0
            eta = (elapsed / step) * (total - step) if step and total > step else (0.0 if step else None)
            progress.update(step=step, total=total, eta=eta)
    if metrics:
        TrainingMetric.objects.bulk_create(metrics)
    return offset + end


def _stop(proc) -> None:
    if proc.poll() is None:
        if proc.pid is None:
            proc.cancel_pending()  # still waiting for the zygote: it never starts
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)


def _finish(job_id: int, token, status: str, error: str = "", results: dict | None = None) -> bool:
    return lifecycle.finish(
        lifecycle.kind("training"),
        job_id,
        status,
        token=token,
        error=error,
        results=results or {},
        eta_seconds=None,
        pid=None,
    )


def _finish_from_result(code: int, folder: Path, job: TrainingJob, token, progress: dict) -> None:
    """Upload what the job wrote (its status marked in the manifest), then record the outcome."""
    job_id = job.pk
    result_file = folder / "result.json"
    result = json.loads(result_file.read_text(encoding="utf-8")) if result_file.exists() else None
    if result and result.get("status") in FINISHED:
        artifacts.upload_outputs(job, folder, status=result["status"])
        _finish(job_id, token, result["status"], result.get("error", ""), result.get("results"))
        return
    artifacts.upload_outputs(job, folder, status=RunStatus.FAILED)
    where = f" at step {progress.get('step', 0)}/{progress.get('total', '?')}" if progress else ""
    if code < 0:
        error = f"the training process was killed by {signal.Signals(-code).name}{where}"
    else:
        error = f"the training process exited with code {code}{where} without a result"
    tail = _log_tail(folder / "train.log")
    _finish(job_id, token, RunStatus.FAILED, error + (f"; last log lines:\n{tail}" if tail else ""))


def _log_tail(path: Path, lines: int = 8) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 4000))
        return "\n".join(handle.read().decode(errors="replace").splitlines()[-lines:])


# --- housekeeping (run by every worker's maintenance thread) ---------------------------------------------------


def kill_local_trainer(job: TrainingJob) -> None:
    """After the reconciler failed a stalled job: its trainer, if it runs on this machine, must not go on."""
    if job.pid and job.hostname == socket.gethostname():
        try:
            os.killpg(job.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
