"""Writes for training jobs: create (validated, queued on the gpu queue), run (claim → materialize the data →
supervise the training subprocess: events → metrics rows, progress, heartbeat, cancel), cancel, reap stalled jobs,
and start jobs from project triggers when a dataset version becomes ready."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.errors import ServiceError
from exports.services import DatasetError, materialize
from training import hyperparameters as hp_rules
from training.models import (
    DATASET_KIND_FOR_JOB,
    FINISHED,
    JobKind,
    JobMethod,
    JobStatus,
    TrainingJob,
    TrainingMetric,
    TrainingTrigger,
)

logger = logging.getLogger(__name__)
DATA_SHAPE = {JobKind.SFT: "trl-sft", JobKind.REWARD: "trl-preference"}


class TrainingJobError(ServiceError):
    pass


def job_dir(job: TrainingJob) -> Path:
    return Path(settings.DATA_DIR) / "training" / str(job.pk)


def model_dir(job: TrainingJob) -> Path:
    return job_dir(job) / "model"


def demo_base_model_path() -> Path:
    """Where `load_demo` puts a tiny random Llama, so training can be tried without downloading a model."""
    return Path(settings.DATA_DIR) / "models" / "demo-tiny-llama"


def ensure_demo_base_model(*, texts: list[str]) -> tuple[Path, bool]:
    """(path, created): build the demo base model once, with a tokenizer trained on `texts`."""
    folder = demo_base_model_path()
    if (folder / "config.json").is_file():
        return folder, False
    from training.tiny import build_tiny_base_model

    build_tiny_base_model(folder, texts, vocab_size=2000, hidden_size=128, layers=2)
    return folder, True


def check_base_model(path: str) -> str:
    """The absolute path of a local transformers checkpoint folder, or TrainingJobError naming the problem."""
    if not path or not str(path).strip():
        raise TrainingJobError("base_model: required (a local checkpoint folder), or give base_job")
    folder = Path(str(path).strip()).expanduser()
    if not folder.is_dir():
        raise TrainingJobError(f"base_model: {folder} is not a folder on the training machine")
    if not (folder / "config.json").is_file():
        raise TrainingJobError(f"base_model: {folder} has no config.json (not a transformers checkpoint)")
    return str(folder.resolve())


def create_training_job(
    *, project, dataset_version, kind: str, base_model: str = "", base_job: TrainingJob | None = None,
    method: str = JobMethod.FULL, hyperparameters: dict | None = None, seed: int = 0, created_by=None,
    trigger: TrainingTrigger | None = None,
) -> TrainingJob:  # fmt: skip
    if kind not in JobKind.values:
        raise TrainingJobError(f"kind: must be one of {JobKind.values}")
    if method not in JobMethod.values:
        raise TrainingJobError(f"method: must be one of {JobMethod.values}")
    if dataset_version.project_id != project.pk:
        raise TrainingJobError(f"dataset: version {dataset_version.pk} belongs to another project", code="not_found")
    wanted = DATASET_KIND_FOR_JOB[kind]
    if dataset_version.kind != wanted:
        raise TrainingJobError(
            f"dataset: a {kind} job trains on a {wanted} version; "
            f"version {dataset_version.pk} is {dataset_version.kind}"
        )
    if dataset_version.status != "ready":
        raise TrainingJobError(f"dataset: version {dataset_version.pk} is {dataset_version.status}, not ready")
    if dataset_version.train_rows == 0:
        raise TrainingJobError(f"dataset: version {dataset_version.pk} has no rows in its train split")
    if base_job is not None:
        if base_job.project_id != project.pk:
            raise TrainingJobError(f"base_job: job {base_job.pk} belongs to another project", code="not_found")
        if base_job.status != JobStatus.SUCCEEDED:
            raise TrainingJobError(f"base_job: job {base_job.pk} is {base_job.status}, not succeeded")
        base_model = str(model_dir(base_job))
    base_model = check_base_model(base_model)
    try:
        resolved = hp_rules.resolve(kind, method, hyperparameters)
    except ValueError as exc:
        raise TrainingJobError(str(exc)) from None
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise TrainingJobError("seed: a whole number ≥ 0")
    with transaction.atomic():
        job = TrainingJob.objects.create(
            project=project, dataset_version=dataset_version, kind=kind, method=method, base_model=base_model,
            base_job=base_job, hyperparameters=resolved, seed=seed, trigger=trigger, enqueued_at=timezone.now(),
            created_by=created_by if getattr(created_by, "is_authenticated", False) else None,
        )  # fmt: skip
        transaction.on_commit(lambda pk=job.pk: _enqueue(pk))
    return job


def _enqueue(job_id: int) -> None:
    from training.tasks import run_training_job_task

    run_training_job_task.apply_async((job_id,), queue=settings.TRAINING_QUEUE)


def cancel_training_job(*, job: TrainingJob) -> str:
    """A queued job is cancelled at once; a running one is asked to stop at its next step (saving what it has)."""
    now = timezone.now()
    if TrainingJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, cancel_requested=True, finished_at=now, error="cancelled before it started"
    ):
        return JobStatus.CANCELLED
    if TrainingJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(cancel_requested=True):
        return "cancelling"
    status = TrainingJob.objects.values_list("status", flat=True).get(pk=job.pk)
    raise TrainingJobError(f"status: job {job.pk} is already {status}", code="conflict")


# --- running ---------------------------------------------------------------------------------------------------


def run_training_job(*, job_id: int) -> None:
    """Claim the job (queued → running, exactly once), run the trainer subprocess to the end, record the outcome.
    A redelivered or duplicate message finds the job no longer queued and does nothing."""
    token = uuid.uuid4()
    now = timezone.now()
    claimed = TrainingJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, run_token=token, started_at=now, heartbeat_at=now, hostname=socket.gethostname()
    )
    if not claimed:
        logger.info("training job %s is not queued (a redelivered or duplicate message); nothing to do", job_id)
        return
    job = TrainingJob.objects.select_related("dataset_version").get(pk=job_id)
    mine = TrainingJob.objects.filter(pk=job_id, status=JobStatus.RUNNING, run_token=token)
    folder = job_dir(job)
    try:
        spec = _prepare(job, folder)
    except (DatasetError, OSError) as exc:
        _finish(mine, JobStatus.FAILED, f"dataset: {exc}")
        return
    mine.update(output_dir=str(folder))
    with (folder / "train.log").open("ab") as log:
        proc = subprocess.Popen(
            _command(spec), cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT, env=_runner_env(),
            preexec_fn=_die_with_parent,
        )  # fmt: skip
    mine.update(pid=proc.pid)
    _supervise(job, proc, folder, mine)


def _prepare(job: TrainingJob, folder: Path) -> dict:
    """Write job.json: the data files (materialized representations of the version's splits) and settings."""
    version = job.dataset_version
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("CANCEL", "events.jsonl", "result.json"):  # a fresh run of this job id
        (folder / name).unlink(missing_ok=True)
    shape = DATA_SHAPE[job.kind]
    train_file, _ = materialize(version=version, shape=shape, split="train", file_type="jsonl", compress=False)
    test_file = None
    if version.test_rows:
        test_file, _ = materialize(version=version, shape=shape, split="test", file_type="jsonl", compress=False)
    spec = {
        "job": job.pk, "kind": job.kind, "method": job.method, "base_model": job.base_model,
        "dataset_version": version.pk, "dataset_hash": version.content_hash, "train_file": str(train_file),
        "test_file": str(test_file) if test_file else None, "hyperparameters": job.hyperparameters, "seed": job.seed,
    }  # fmt: skip
    (folder / "job.json").write_text(json.dumps(spec, indent=2), encoding="utf-8")
    return {**spec, "folder": str(folder)}


def _command(spec: dict) -> list[str]:
    processes = spec["hyperparameters"].get("num_processes", 1)
    if processes > 1:  # the same entry point, one process per GPU
        return [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes), "-m",
                "training.runner", spec["folder"]]  # fmt: skip
    return [sys.executable, "-m", "training.runner", spec["folder"]]


def _runner_env() -> dict:
    env = os.environ.copy()
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONUNBUFFERED="1",
               TOKENIZERS_PARALLELISM="false")  # fmt: skip
    env.setdefault("HF_HOME", str(Path(settings.DATA_DIR) / "hf-home"))
    return env


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """If the worker dies (SIGKILL included), the kernel kills the trainer too: no orphan holds the GPU."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    os.setsid()


def _supervise(job: TrainingJob, proc: subprocess.Popen, folder: Path, mine) -> None:
    events = folder / "events.jsonl"
    offset, cancel_sent, progress = 0, False, {}
    while True:
        code = proc.poll()
        offset = _ingest(job, events, offset, progress)
        fields = {"heartbeat_at": timezone.now()}
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
            break
        time.sleep(settings.TRAINING_POLL_SECONDS)
    _finish_from_result(proc.returncode, folder, mine, progress)


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


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)


def _finish(mine, status: str, error: str = "", results: dict | None = None) -> bool:
    return bool(
        mine.update(
            status=status,
            error=error[:5000],
            results=results or {},
            finished_at=timezone.now(),
            eta_seconds=None,
            pid=None,
        )  # fmt: skip
    )


def _finish_from_result(code: int, folder: Path, mine, progress: dict) -> None:
    result_file = folder / "result.json"
    result = json.loads(result_file.read_text(encoding="utf-8")) if result_file.exists() else None
    if result and result.get("status") in FINISHED:
        _finish(mine, result["status"], result.get("error", ""), result.get("results"))
        return
    where = f" at step {progress.get('step', 0)}/{progress.get('total', '?')}" if progress else ""
    if code < 0:
        error = f"the training process was killed by {signal.Signals(-code).name}{where}"
    else:
        error = f"the training process exited with code {code}{where} without a result"
    tail = _log_tail(folder / "train.log")
    _finish(mine, JobStatus.FAILED, error + (f"; last log lines:\n{tail}" if tail else ""))


def _log_tail(path: Path, lines: int = 8) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 4000))
        return "\n".join(handle.read().decode(errors="replace").splitlines()[-lines:])


# --- housekeeping (run by every worker's maintenance thread) ---------------------------------------------------


def reap_stalled_jobs(*, stale_seconds: float | None = None) -> int:
    """Fail running jobs whose supervisor stopped beating (its worker was killed or lost its machine)."""
    stale = settings.TRAINING_STALE_SECONDS if stale_seconds is None else stale_seconds
    cutoff = timezone.now() - timedelta(seconds=stale)
    reaped = 0
    for job in TrainingJob.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff):
        seen = timezone.localtime(job.heartbeat_at).strftime("%Y-%m-%d %H:%M:%S")
        mine = TrainingJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, run_token=job.run_token)
        error = (
            f"the worker running this job stopped reporting (last heartbeat {seen}, step {job.step}/{job.total_steps})"
        )
        if _finish(mine, JobStatus.FAILED, error):
            reaped += 1
            logger.warning("training job %s: %s", job.pk, error)
            if job.pid and job.hostname == socket.gethostname():
                try:
                    os.killpg(job.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
    return reaped


def requeue_lost_jobs(*, older_than_seconds: float | None = None) -> int:
    """Send queued jobs' messages again when they have waited long (Redis may have lost them). Safe: a duplicate
    message finds the job already running or finished and does nothing."""
    age = settings.TRAINING_REQUEUE_SECONDS if older_than_seconds is None else older_than_seconds
    cutoff = timezone.now() - timedelta(seconds=age)
    sent = 0
    for pk, enqueued in TrainingJob.objects.filter(status=JobStatus.QUEUED, enqueued_at__lt=cutoff).values_list(
        "pk", "enqueued_at"
    ):
        if TrainingJob.objects.filter(pk=pk, status=JobStatus.QUEUED, enqueued_at=enqueued).update(
            enqueued_at=timezone.now()
        ):
            _enqueue(pk)
            sent += 1
    return sent


# --- triggers --------------------------------------------------------------------------------------------------


def start_triggered_jobs(*, version) -> list[TrainingJob]:
    """Called when a dataset version becomes ready: one job per enabled trigger of the project for its kind."""
    kinds = [kind for kind, dataset_kind in DATASET_KIND_FOR_JOB.items() if dataset_kind == version.kind]
    jobs = []
    for trigger in TrainingTrigger.objects.filter(project_id=version.project_id, enabled=True, kind__in=kinds):
        try:
            jobs.append(
                create_training_job(
                    project=version.project,
                    dataset_version=version,
                    kind=trigger.kind,
                    base_model=trigger.base_model,
                    method=trigger.method,
                    hyperparameters=trigger.hyperparameters,
                    trigger=trigger,
                )  # fmt: skip
            )
        except TrainingJobError as exc:
            logger.warning("trigger %s could not start a job for version %s: %s", trigger.pk, version.pk, exc)
    return jobs


# --- serving a trained model ----------------------------------------------------------------------------------


def servable_model_dir(job: TrainingJob) -> Path:
    """The merged model folder of a succeeded SFT job, or TrainingJobError saying why it cannot be served."""
    if job.kind != JobKind.SFT:
        raise TrainingJobError(f"job {job.pk} trained a {job.kind} model; only SFT models generate text")
    if job.status != JobStatus.SUCCEEDED:
        raise TrainingJobError(f"job {job.pk} is {job.status}, not succeeded", code="not_ready")
    folder = model_dir(job)
    if not (folder / "config.json").is_file():
        raise TrainingJobError(f"job {job.pk}: no model at {folder} (artifacts removed?)", code="missing")
    return folder


def served_model_name(*, job: TrainingJob, name: str = "") -> str:
    """The endpoint (and served model) name: the one asked for, else job-<id>."""
    return name or f"job-{job.pk}"


def register_served_model(*, job: TrainingJob, base_url: str, name: str):
    """An LLMEndpoint for the served model (created or updated), usable by sampling runs and generation batches."""
    from llm.models import ApiStyle
    from llm.services import create_endpoint

    return create_endpoint(name=name, base_url=base_url, model=name, api_style=ApiStyle.COMPLETIONS,
                           max_concurrency=8, request_timeout_s=600, max_retries=2)  # fmt: skip
