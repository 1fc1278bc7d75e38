"""What both sides ask of a training job, creating nothing: its error type, the data shape it trains on, and the
checks that a base model is allowed and a trained model usable (where it lies, the name it is served under).

The job-creating `services` and the worker-side runs (`supervisor`, `reward_scoring`, `difficulty`, `evaluations`,
`serving_runs`) all import from here, so no worker-side module imports the services that create jobs."""

from __future__ import annotations

from pathlib import Path

from core.errors import ServiceError
from core.lifecycle import RunStatus
from training import artifacts
from training.models import GENERATIVE_KINDS, JobKind, TrainingJob
from training.paths import BaseModelNotAllowed, resolve_base_model

DATA_SHAPE = {
    JobKind.SFT: "trl-sft",
    JobKind.REWARD: "trl-preference",
    JobKind.DPO: "trl-preference",
    JobKind.KTO: "trl-kto",
    JobKind.RLOO: "trl-prompts",
}


class TrainingJobError(ServiceError):
    pass


def data_shape(kind: str, hyperparameters: dict) -> str:
    """The download shape a job trains on: its kind's, except SFT through a chat template, which reads the
    `messages` shape so multi-turn rows keep their turns (trained on the last one, the earlier ones as context)."""
    if kind == JobKind.SFT and hyperparameters.get("chat_template"):
        return "messages"
    return DATA_SHAPE[kind]


def check_base_model(name: str) -> str:
    """The absolute folder of the base model `name` under an allowed model root (training.paths), or
    TrainingJobError; the same refusal whatever the reason, so it tells nothing about the server's disk."""
    try:
        return str(resolve_base_model(name))
    except BaseModelNotAllowed as exc:
        raise TrainingJobError(str(exc)) from None


def check_trained_model(job: TrainingJob, kind: str | tuple, only: str) -> None:
    """TrainingJobError unless `job` is a succeeded job of `kind` whose model is in storage (fetches nothing)."""
    if job.kind not in ((kind,) if isinstance(kind, str) else kind):
        raise TrainingJobError(f"job {job.pk} trained a {job.kind} model; {only}")
    if job.status != RunStatus.SUCCEEDED:
        raise TrainingJobError(f"job {job.pk} is {job.status}, not succeeded", code="not_ready")
    if not artifacts.has_model(job):
        message = f"job {job.pk}: its model is not in storage (artifacts removed?)"
        raise TrainingJobError(message, code="missing")


def trained_model_dir(job: TrainingJob, kind: str | tuple, only: str) -> Path:
    """The model folder (on this machine, fetched from storage when needed) of a succeeded job of `kind`, or
    TrainingJobError saying why it cannot be used."""
    check_trained_model(job, kind, only)
    try:
        return artifacts.local_model(job)
    except OSError:
        message = f"job {job.pk}: its model is not in storage (artifacts removed?)"
        raise TrainingJobError(message, code="missing") from None


def servable_model_dir(job: TrainingJob) -> Path:
    """The merged model folder of a succeeded SFT job, or TrainingJobError saying why it cannot be served."""
    return trained_model_dir(job, GENERATIVE_KINDS, "only SFT, DPO and KTO models generate text")


def served_model_name(*, job: TrainingJob, name: str = "") -> str:
    """The endpoint (and served model) name: the one asked for, else job-<id>. Names job-<digits> are reserved for
    the served model of that job (win-rate and the models page find a job's model by that name)."""
    from llm.served_names import RESERVED_ENDPOINT_NAME

    name = name or f"job-{job.pk}"
    if RESERVED_ENDPOINT_NAME.match(name) and name != f"job-{job.pk}":
        raise TrainingJobError(f"name: {name!r} is reserved for training job {name.removeprefix('job-')}")
    return name
