"""Writes for training jobs: create (validated, queued on the GPU queue), cancel, start jobs from project
triggers when a dataset version becomes ready, and register a trained model as a served endpoint. Running a job is
`supervisor`; scoring with a reward model is `reward_scoring`; evaluating a model with a judge is `evaluations`."""

from __future__ import annotations

import logging
import re
import secrets
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core import lifecycle
from core.fields import require_whole_number
from core.lifecycle import RunStatus
from projects.selectors import signed_in_or_none
from training.jobs import TrainingJobError, check_base_model, check_trained_model, served_model_name
from training.models import (
    DATASET_KIND_FOR_JOB,
    GENERATIVE_KINDS,
    JobKind,
    JobMethod,
    TrainingJob,
    TrainingTrigger,
)
from training.paths import demo_base_model_path, model_dir
from training.runs import TRAINING
from training.trainer import hyperparameters as hp_rules

logger = logging.getLogger(__name__)
SERVED_KEY = re.compile(r"[A-Za-z0-9._~+/=-]{16,128}")  # fits served_key and a Bearer header


def ensure_demo_base_model(*, texts: list[str]) -> tuple[Path, bool]:
    """(path, created): build the demo base model once, with a tokenizer trained on `texts`."""
    folder = demo_base_model_path()
    if (folder / "config.json").is_file():
        return folder, False
    from training.trainer.tiny import build_tiny_base_model

    build_tiny_base_model(folder, texts, vocab_size=2000, hidden_size=128, layers=2)
    return folder, True


def create_training_job(
    *,
    project,
    dataset_version,
    kind: str,
    base_model: str = "",
    base_job: TrainingJob | None = None,
    method: str = JobMethod.FULL,
    hyperparameters: dict | None = None,
    seed: int = 0,
    created_by=None,
    trigger: TrainingTrigger | None = None,
    reward_job: TrainingJob | None = None,
) -> TrainingJob:
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
        if kind in GENERATIVE_KINDS and base_job.kind not in GENERATIVE_KINDS:
            raise TrainingJobError(f"base_job: job {base_job.pk} trained a {base_job.kind} model, not a language model")
        if base_job.status != RunStatus.SUCCEEDED:
            raise TrainingJobError(f"base_job: job {base_job.pk} is {base_job.status}, not succeeded")
        base_model = str(model_dir(base_job))  # a job folder: allowed only this way, for the project's own jobs
    else:
        base_model = check_base_model(base_model)
    _check_reward_job(project, kind, reward_job)
    try:
        resolved = hp_rules.resolve(kind, method, hyperparameters)
    except ValueError as exc:
        raise TrainingJobError(str(exc)) from None
    require_whole_number(seed, field="seed", error=TrainingJobError)
    with transaction.atomic():
        job = TrainingJob.objects.create(
            project=project,
            dataset_version=dataset_version,
            kind=kind,
            method=method,
            base_model=base_model,
            base_job=base_job,
            hyperparameters=resolved,
            seed=seed,
            trigger=trigger,
            reward_job=reward_job,
            enqueued_at=timezone.now(),
            created_by=signed_in_or_none(created_by),
        )
        transaction.on_commit(lambda pk=job.pk: send_training_job(pk))
    return job


def _check_reward_job(project, kind: str, reward_job: TrainingJob | None) -> None:
    """An RL job needs a succeeded reward model of the same project (it scores the policy's samples); no other kind
    takes one."""
    if kind != JobKind.RLOO:
        if reward_job is not None:
            raise TrainingJobError(f"reward_job: only RL jobs take a reward model, not {kind} jobs")
        return
    if reward_job is None:
        raise TrainingJobError("reward_job: an RL job needs the project's trained reward model")
    if reward_job.project_id != project.pk:
        raise TrainingJobError(f"reward_job: job {reward_job.pk} belongs to another project", code="not_found")
    check_trained_model(reward_job, JobKind.REWARD, "an RL job is scored by a reward model")


def send_training_job(job_id: int) -> None:
    from training.tasks import run_training_job_task

    run_training_job_task.apply_async((job_id,), queue=settings.TRAINING_QUEUE)


def cancel_training_job(*, job: TrainingJob) -> str:
    """A queued job is cancelled at once; a running one is asked to stop at its next step (saving what it has):
    "cancelled" or "cancelling"."""
    outcome = lifecycle.cancel(TRAINING, job.pk, error="cancelled before it started")
    if outcome:
        return outcome
    status = TrainingJob.objects.values_list("status", flat=True).get(pk=job.pk)
    raise TrainingJobError(f"status: job {job.pk} is already {status}", code="conflict")


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
                )
            )
        except TrainingJobError as exc:
            logger.warning("trigger %s could not start a job for version %s: %s", trigger.pk, version.pk, exc)
    return jobs


def save_trigger(
    *, project, kind: str, base_model: str, method: str = JobMethod.FULL, hyperparameters: dict | None = None
) -> TrainingTrigger:
    """A trigger: every version of the matching kind that becomes ready starts a job of `kind` on `base_model`.
    Checked now as a job would be (kind, method, base model under an allowed root, hyperparameters)."""
    if kind not in JobKind.values:
        raise TrainingJobError(f"kind: must be one of {JobKind.values}")
    if method not in JobMethod.values:
        raise TrainingJobError(f"method: must be one of {JobMethod.values}")
    check_base_model(base_model)
    try:
        hp_rules.resolve(kind, method, hyperparameters)
    except ValueError as exc:
        raise TrainingJobError(str(exc)) from None
    return TrainingTrigger.objects.create(
        project=project, kind=kind, base_model=base_model.strip(), method=method, hyperparameters=hyperparameters or {}
    )


def set_trigger_enabled(*, project, trigger_id: int, enabled: bool) -> int:
    return TrainingTrigger.objects.filter(project=project, pk=trigger_id).update(enabled=enabled)


def delete_trigger(*, project, trigger_id: int) -> int:
    deleted, _ = TrainingTrigger.objects.filter(project=project, pk=trigger_id).delete()
    return deleted


# --- serving a trained model ----------------------------------------------------------------------------------


def served_model_key(*, job: TrainingJob, name: str) -> str:
    """The API key to start a served model with: the one its endpoint of the job's project already holds (a
    restarted server keeps working for runs under way), else a new random one."""
    from llm.selectors import get_endpoint

    existing = get_endpoint(name=name)
    if existing is not None and existing.project_id == job.project_id and existing.served_key:
        return existing.served_key
    return secrets.token_urlsafe(32)


def check_served_key(key: str) -> str:
    """A key someone started a server with by hand: what an HTTP header carries, long enough not to be guessed."""
    key = (key or "").strip()
    if not SERVED_KEY.fullmatch(key):
        raise TrainingJobError("api_key: the key the server was started with: 16 to 128 letters, digits or -._~+/=")
    return key


def register_served_model(*, job: TrainingJob, base_url: str, name: str, served_key: str):
    """An LLMEndpoint for the served model (created or updated) with the API key it was started with, owned by the
    job's project: only that project's sampling runs, batches, judge runs and evaluations may use it. An existing
    endpoint of that name that is not the project's (a global one, another project's) is never taken over; on the
    reserved name job-<id>, one made before names were reserved is renamed job-<id>-moved-<pk> (kept, with its
    project, key and history) so the job's own project gets the name."""
    from llm.models import ApiStyle
    from llm.selectors import get_endpoint
    from llm.services import create_endpoint

    served_key = check_served_key(served_key)
    with transaction.atomic():
        existing = get_endpoint(name=name)
        if existing is not None and existing.project_id != job.project_id:
            if name != f"job-{job.pk}":
                message = f"name: an endpoint named {name!r} exists already; choose another name"
                raise TrainingJobError(message, code="conflict")
            _move_aside(existing)
        endpoint = create_endpoint(
            name=name,
            base_url=base_url,
            model=name,
            api_style=ApiStyle.COMPLETIONS,
            max_concurrency=8,
            request_timeout_s=600,
            max_retries=2,
            project=job.project,
        )
        endpoint.served_key = served_key
        endpoint.save(update_fields=["served_key"])
    return endpoint


def _move_aside(squatter) -> None:
    """Free a reserved name held by an endpoint that is not the job's project's (made before the reservation)."""
    new_name = f"{squatter.name}-moved-{squatter.pk}"
    logger.warning(
        "endpoint %s (project %s) held the reserved name of a served model; renamed %s",
        squatter.name,
        squatter.project_id,
        new_name,
    )
    type(squatter).objects.filter(pk=squatter.pk).update(name=new_name)


def register_running_server(*, job: TrainingJob, base_url: str, api_key: str):
    """Register a server already running a succeeded SFT job's model (`manage.py serve_model` on a GPU box, or vLLM
    started by hand with an API key) as the endpoint job-<id>, as a project admin may: only at a host a site admin
    allowed for project endpoints, with the key the server was started with."""
    from llm.models import validate_base_url
    from llm.services import host_allowed

    check_trained_model(job, GENERATIVE_KINDS, "only SFT, DPO and KTO models generate text")  # no download here
    try:
        validate_base_url(base_url)
    except ValidationError as exc:
        raise TrainingJobError(f"base_url: {' '.join(exc.messages)}") from None
    if not host_allowed(base_url):
        raise TrainingJobError("base_url: that host is not one a site admin allowed for project endpoints")
    name = served_model_name(job=job)
    return register_served_model(job=job, base_url=base_url.rstrip("/"), name=name, served_key=api_key)
