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
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import lifecycle
from core.errors import ServiceError
from core.fields import require_whole_number
from core.lifecycle import FINISHED, RunStatus
from exports.services import DatasetError, materialize
from llm.params import validate_params
from llm.selectors import require_usable_endpoint
from projects.selectors import signed_in_or_none
from training import hyperparameters as hp_rules
from training.models import (
    DATASET_KIND_FOR_JOB,
    EvaluationItem,
    EvaluationRun,
    JobKind,
    JobMethod,
    ScoringRun,
    TrainingJob,
    TrainingMetric,
    TrainingTrigger,
)
from training.paths import (
    BaseModelNotAllowed,
    demo_base_model_path,
    job_dir,
    model_dir,
    resolve_base_model,
)

logger = logging.getLogger(__name__)
DATA_SHAPE = {JobKind.SFT: "trl-sft", JobKind.REWARD: "trl-preference"}


class TrainingJobError(ServiceError):
    pass


def ensure_demo_base_model(*, texts: list[str]) -> tuple[Path, bool]:
    """(path, created): build the demo base model once, with a tokenizer trained on `texts`."""
    folder = demo_base_model_path()
    if (folder / "config.json").is_file():
        return folder, False
    from training.tiny import build_tiny_base_model

    build_tiny_base_model(folder, texts, vocab_size=2000, hidden_size=128, layers=2)
    return folder, True


def check_base_model(name: str) -> str:
    """The absolute folder of the base model `name` under an allowed model root (training.paths), or
    TrainingJobError; the same refusal whatever the reason, so it tells nothing about the server's disk."""
    try:
        return str(resolve_base_model(name))
    except BaseModelNotAllowed as exc:
        raise TrainingJobError(str(exc)) from None


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
        if base_job.status != RunStatus.SUCCEEDED:
            raise TrainingJobError(f"base_job: job {base_job.pk} is {base_job.status}, not succeeded")
        base_model = str(model_dir(base_job))  # a job folder: allowed only this way, for the project's own jobs
    else:
        base_model = check_base_model(base_model)
    try:
        resolved = hp_rules.resolve(kind, method, hyperparameters)
    except ValueError as exc:
        raise TrainingJobError(str(exc)) from None
    require_whole_number(seed, field="seed", error=TrainingJobError)
    with transaction.atomic():
        job = TrainingJob.objects.create(
            project=project, dataset_version=dataset_version, kind=kind, method=method, base_model=base_model,
            base_job=base_job, hyperparameters=resolved, seed=seed, trigger=trigger, enqueued_at=timezone.now(),
            created_by=signed_in_or_none(created_by),
        )  # fmt: skip
        transaction.on_commit(lambda pk=job.pk: send_training_job(pk))
    return job


def send_training_job(job_id: int) -> None:
    from training.tasks import run_training_job_task

    run_training_job_task.apply_async((job_id,), queue=settings.TRAINING_QUEUE)


def cancel_training_job(*, job: TrainingJob) -> str:
    """A queued job is cancelled at once; a running one is asked to stop at its next step (saving what it has)."""
    now = timezone.now()
    if TrainingJob.objects.filter(pk=job.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.CANCELLED, cancel_requested=True, finished_at=now, error="cancelled before it started"
    ):
        return RunStatus.CANCELLED
    if TrainingJob.objects.filter(pk=job.pk, status=RunStatus.RUNNING).update(cancel_requested=True):
        return "cancelling"
    status = TrainingJob.objects.values_list("status", flat=True).get(pk=job.pk)
    raise TrainingJobError(f"status: job {job.pk} is already {status}", code="conflict")


# --- running ---------------------------------------------------------------------------------------------------


def run_training_job(*, job_id: int) -> None:
    """Claim the job (queued → running, exactly once), run the trainer subprocess to the end, record the outcome.
    A redelivered or duplicate message finds the job no longer queued and does nothing."""
    kind = lifecycle.kind("training")
    token = lifecycle.claim(kind, job_id, hostname=socket.gethostname())
    if token is None:
        logger.info("training job %s is not queued (a redelivered or duplicate message); nothing to do", job_id)
        return
    mine = kind.rows(job_id, token=token, among=(RunStatus.RUNNING,))
    with lifecycle.failing(kind, job_id, token=token, what=f"training job {job_id}"):
        _run_claimed_job(job_id, mine)


def _run_claimed_job(job_id: int, mine) -> None:
    job = TrainingJob.objects.select_related("dataset_version").get(pk=job_id)
    folder = job_dir(job)
    try:
        spec = _prepare(job, folder)
    except (DatasetError, OSError) as exc:
        _finish(mine, RunStatus.FAILED, f"dataset: {exc}")
        return
    mine.update(output_dir=str(folder))
    with (folder / "train.log").open("ab") as log:
        proc = subprocess.Popen(
            _command(spec), cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT, env=_runner_env(),
            preexec_fn=_die_with_parent,
        )  # fmt: skip
    mine.update(pid=proc.pid)
    try:
        _supervise(job, proc, folder, mine)
    except BaseException:
        _stop(proc)  # the job is about to be recorded failed: no trainer may go on without a supervisor
        raise


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
    _finish(mine, RunStatus.FAILED, error + (f"; last log lines:\n{tail}" if tail else ""))


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


def _trained_model_dir(job: TrainingJob, kind: str, only: str) -> Path:
    """The model folder of a succeeded job of `kind`, or TrainingJobError saying why it cannot be used."""
    if job.kind != kind:
        raise TrainingJobError(f"job {job.pk} trained a {job.kind} model; {only}")
    if job.status != RunStatus.SUCCEEDED:
        raise TrainingJobError(f"job {job.pk} is {job.status}, not succeeded", code="not_ready")
    folder = model_dir(job)
    if not (folder / "config.json").is_file():
        raise TrainingJobError(f"job {job.pk}: no model at {folder} (artifacts removed?)", code="missing")
    return folder


def servable_model_dir(job: TrainingJob) -> Path:
    """The merged model folder of a succeeded SFT job, or TrainingJobError saying why it cannot be served."""
    return _trained_model_dir(job, JobKind.SFT, "only SFT models generate text")


def served_model_name(*, job: TrainingJob, name: str = "") -> str:
    """The endpoint (and served model) name: the one asked for, else job-<id>."""
    return name or f"job-{job.pk}"


def register_served_model(*, job: TrainingJob, base_url: str, name: str):
    """An LLMEndpoint for the served model (created or updated), owned by the job's project: only that project's
    sampling runs, batches, judge runs and evaluations may use it. An existing endpoint of that name that is not
    the project's (a global one, another project's) is never taken over."""
    from llm.models import ApiStyle
    from llm.selectors import get_endpoint
    from llm.services import create_endpoint

    existing = get_endpoint(name=name)
    if existing is not None and existing.project_id != job.project_id:
        raise TrainingJobError(f"name: an endpoint named {name!r} exists already; choose another name", code="conflict")
    return create_endpoint(name=name, base_url=base_url, model=name, api_style=ApiStyle.COMPLETIONS,
                           max_concurrency=8, request_timeout_s=600, max_retries=2, project=job.project)  # fmt: skip


# --- scoring completions with a trained reward model -----------------------------------------------------------

SCORING_CHUNK = 256


def reward_model_dir(job: TrainingJob) -> Path:
    """The model folder of a succeeded reward job, or TrainingJobError saying why it cannot score."""
    return _trained_model_dir(job, JobKind.REWARD, "only reward models score completions")


def start_reward_scoring(*, job: TrainingJob, created_by=None) -> ScoringRun:
    """Queue a run that scores every completion of the project's ranking tasks the RM has not scored yet."""
    from annotation.selectors import count_completions_to_score

    reward_model_dir(job)
    if ScoringRun.objects.filter(job=job, status__in=(RunStatus.QUEUED, RunStatus.RUNNING)).exists():
        raise TrainingJobError(f"job {job.pk} already has a scoring run queued or running", code="conflict")
    missing = count_completions_to_score(project=job.project, job_id=job.pk)
    with transaction.atomic():
        run = ScoringRun.objects.create(
            job=job, completions_total=missing, heartbeat_at=timezone.now(),
            created_by=signed_in_or_none(created_by),
        )  # fmt: skip
        transaction.on_commit(lambda pk=run.pk: send_scoring_run(pk))
    return run


def send_scoring_run(run_id: int) -> None:
    from training.tasks import score_completions_task

    score_completions_task.apply_async((run_id,), queue=settings.TRAINING_QUEUE)


def run_reward_scoring(*, run_id: int, scorer_factory=None) -> None:
    """Claim the run (queued → running, once), then score the unscored completions chunk by chunk; each chunk's
    scores are stored (and its tasks' RM order/margin refreshed) before the next. A rerun after a crash scores
    only what is still missing."""
    kind = lifecycle.kind("scoring")
    token = lifecycle.claim(kind, run_id)
    if token is None:
        return  # a duplicate or redelivered message
    run = ScoringRun.objects.select_related("job__project").get(pk=run_id)
    started = time.monotonic()
    with lifecycle.failing(kind, run_id, token=token), lifecycle.beating(kind, run_id, token=token):
        _score_all(run, started, scorer_factory, token)


def _score_all(run: ScoringRun, started: float, scorer_factory, token) -> None:
    from annotation.selectors import completions_to_score
    from annotation.services import store_reward_scores

    run_id = run.pk
    kind = lifecycle.kind("scoring")
    try:
        from training.scoring import RewardScorer

        scorer = (scorer_factory or RewardScorer)(reward_model_dir(run.job))
        batch_size = int(run.job.hyperparameters.get("batch_size") or 16)
        while True:
            rows = completions_to_score(project=run.job.project, job_id=run.job_id, limit=SCORING_CHUNK)
            if not rows:
                break
            values = scorer.score([(r["prompt"], r["text"]) for r in rows], batch_size=max(batch_size, 8))
            updated = store_reward_scores(
                job_id=run.job_id, scores={r["id"]: v for r, v in zip(rows, values, strict=True)}
            )
            counts = {"completions_scored": F("completions_scored") + len(rows),
                      "tasks_updated": F("tasks_updated") + updated}  # fmt: skip
            if not lifecycle.heartbeat(kind, run_id, token=token, **counts):
                return  # cancelled, or restarted elsewhere: the scores kept stay
    except (TrainingJobError, OSError, RuntimeError, ValueError) as exc:
        lifecycle.finish(kind, run_id, RunStatus.FAILED, token=token, error=f"{type(exc).__name__}: {exc}",
                         seconds=round(time.monotonic() - started, 3))  # fmt: skip
        return
    lifecycle.finish(kind, run_id, RunStatus.SUCCEEDED, token=token, seconds=round(time.monotonic() - started, 3))


def cancel_reward_scoring(*, run: ScoringRun) -> None:
    """A queued run is cancelled at once, a running one at its next chunk (the scores kept stay)."""
    if not lifecycle.cancel(lifecycle.kind("scoring"), run.pk):
        raise TrainingJobError(f"status: scoring run {run.pk} is already {run.status}", code="conflict")


# --- evaluating a model against reference answers with an LLM judge --------------------------------------------

DEFAULT_EVAL_GENERATION = {"temperature": 0.0, "max_tokens": 512}


def start_evaluation(
    *, project, model_endpoint, judge_endpoint, items: list[dict], prompt_set: str, job: TrainingJob | None = None,
    generation: dict | None = None, created_by=None, enqueue: bool = True,
) -> EvaluationRun:  # fmt: skip
    """Queue an evaluation: the model answers each item's question, the judge scores answer vs reference in both
    orders. `items`: [{"question", "reference", "category"}] (training.evalsets reads files into this).
    enqueue=False: the caller runs it in its own process (`--inline`), so no worker does the work a second time."""
    if not items:
        raise TrainingJobError("prompts: the prompt set is empty")
    empty = [n for n, item in enumerate(items) if not item.get("question") or not item.get("reference")]
    if empty:
        raise TrainingJobError(f"prompts.{empty[0]}: a prompt needs a question and a reference answer")
    if job is not None and job.project_id != project.pk:
        raise TrainingJobError(f"job: job {job.pk} belongs to another project", code="not_found")
    for field, endpoint in (("model_endpoint", model_endpoint), ("judge_endpoint", judge_endpoint)):
        require_usable_endpoint(endpoint, project=project, field=field, error=TrainingJobError)
    generation = validate_params(generation, field="generation", error=TrainingJobError)
    with transaction.atomic():
        run = EvaluationRun.objects.create(
            project=project, job=job, model_endpoint=model_endpoint, judge_endpoint=judge_endpoint,
            prompt_set=prompt_set[:300], generation={**DEFAULT_EVAL_GENERATION, **(generation or {})},
            items_total=len(items),
            created_by=signed_in_or_none(created_by), heartbeat_at=timezone.now(),
        )  # fmt: skip
        EvaluationItem.objects.bulk_create(
            EvaluationItem(
                run=run,
                number=n,
                category=i.get("category", "")[:100],
                question=i["question"],
                reference=i["reference"],
            )  # fmt: skip
            for n, i in enumerate(items)
        )
        if enqueue:
            transaction.on_commit(lambda pk=run.pk: send_evaluation(pk))
    return run


def send_evaluation(run_id: int) -> None:
    """LLM calls only: the default queue, never the one-at-a-time GPU queue that `training.tasks.*` routes to."""
    from training.tasks import evaluation_task

    evaluation_task.apply_async((run_id,), queue=settings.CELERY_TASK_DEFAULT_QUEUE)


def resume_evaluation(*, run: EvaluationRun, enqueue: bool = True) -> int:
    """Back to queued and sent again (after a worker loss, or to retry what failed): items judged are kept, items
    that failed (no score) are tried again, answers already given are reused. Returns how many items will be
    (re)done. A worker still holding the old run token can no longer finish it."""
    with transaction.atomic():
        retry = EvaluationItem.objects.filter(run=run, model_score__isnull=True)
        count = retry.update(done=False, error="")
        lifecycle.move(lifecycle.kind("evaluation"), run.pk, RunStatus.QUEUED, error="", heartbeat_at=timezone.now())
        if enqueue:
            transaction.on_commit(lambda: send_evaluation(run.pk))
    return count


def run_evaluation(*, run_id: int) -> None:
    """Answer and judge every item not done yet (safe to run twice), then write the per-category table. Anything
    unexpected it raises ends the run failed with the error."""
    kind = lifecycle.kind("evaluation")
    token = lifecycle.claim(kind, run_id)
    if token is None:
        return  # a duplicate or redelivered message: the run is claimed or finished
    with lifecycle.failing(kind, run_id, token=token), lifecycle.beating(kind, run_id, token=token):
        _run_evaluation(run_id, token)


def _run_evaluation(run_id: int, token) -> None:
    from llm.client import LLMError, call_llm
    from llm.judge import JudgeError, judge_pair

    kind = lifecycle.kind("evaluation")
    run = EvaluationRun.objects.select_related("model_endpoint", "judge_endpoint").get(pk=run_id)
    for item in run.items.filter(done=False).order_by("number"):
        fields = {}
        try:
            answer = item.answer
            if not answer:
                reply = call_llm(run.model_endpoint, purpose="evaluation", project_id=run.project_id,
                                 messages=[{"role": "user", "content": item.question}], **run.generation)  # fmt: skip
                answer = reply.text.strip()
                EvaluationItem.objects.filter(pk=item.pk).update(answer=answer)
            verdict = judge_pair(run.judge_endpoint, question=item.question, a=answer, b=item.reference,
                                 project_id=run.project_id)  # fmt: skip
            fields = {"model_score": verdict.score_a, "reference_score": verdict.score_b, "flipped": verdict.flipped,
                      "verdicts": verdict.as_dict(), "error": ""}  # fmt: skip
        except (LLMError, JudgeError) as exc:
            fields = {"error": str(exc)[:2000]}
        EvaluationItem.objects.filter(pk=item.pk).update(done=True, **fields)
        if not lifecycle.heartbeat(kind, run_id, token=token):
            return  # restarted elsewhere
    items = list(run.items.all())
    failed = sum(1 for i in items if i.model_score is None)
    lifecycle.finish(kind, run.pk, RunStatus.SUCCEEDED if failed < len(items) else RunStatus.FAILED, token=token,
                     items_done=len(items) - failed, items_failed=failed, results=evaluation_table(items),
                     error=next((i.error for i in items if i.error), ""))  # fmt: skip


def evaluation_table(items) -> dict:
    """Per category and overall: items judged, the model's and the reference's mean judge score (1–10), the
    relative score (model / reference), wins/ties/losses against the reference, and the position-bias rate."""

    def summary(rows) -> dict:
        judged = [r for r in rows if r.model_score is not None]
        if not judged:
            return {"items": len(rows), "judged": 0}
        model = sum(r.model_score for r in judged) / len(judged)
        reference = sum(r.reference_score for r in judged) / len(judged)
        return {
            "items": len(rows), "judged": len(judged), "model_score": round(model, 3),
            "reference_score": round(reference, 3),
            "relative_score": round(model / reference, 3) if reference else None,
            "wins": sum(r.model_score > r.reference_score for r in judged),
            "ties": sum(r.model_score == r.reference_score for r in judged),
            "losses": sum(r.model_score < r.reference_score for r in judged),
            "position_bias_rate": round(sum(r.flipped for r in judged) / len(judged), 3),
        }  # fmt: skip

    categories: dict[str, list] = {}
    for item in items:
        categories.setdefault(item.category or "(none)", []).append(item)
    return {
        "categories": [{"category": name, **summary(rows)} for name, rows in sorted(categories.items())],
        "overall": summary(list(items)),
    }
