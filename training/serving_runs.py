"""Serving runs: a trained model served by a gpu-queue worker in the one run lifecycle, started and stopped from the
models page, the API or `serve_model --queue`.

The worker runs `manage.py serve_model` as its child process (the built-in server, or vLLM where installed) on the
first free port of the site's SERVING_PORTS, waits for its /health, switches the endpoint job-<id> on, and beats
while the child lives. A child process, not a thread of the worker: the model's memory (the GPU's included) is
given back whole when it exits, a server crash never takes the worker down, and vLLM and the built-in server take
one path. The child dies with the worker (parent-death signal), so no orphan holds the GPU or the port. Stop is a
cancel; whenever serving ends (stop, crash, the reconciler failing a run whose worker stopped beating) the endpoint
is switched off, so it leaves every picker. Starting again switches it back on (same name, same key).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from core import lifecycle
from core.lifecycle import RunStatus
from projects.selectors import signed_in_or_none
from training.jobs import TrainingJobError, check_trained_model, served_model_name
from training.models import GENERATIVE_KINDS, ServingRun, TrainingJob

logger = logging.getLogger(__name__)
LIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
LOG_TAIL_CHARS = 2000
STOP_WAIT_S = 15  # a server asked to stop (SIGTERM) gets this long before SIGKILL
ANY_ADDRESS = ("0.0.0.0", "::", "")


def _kind():
    return lifecycle.kind("serving")


# --- the console's, the API's and the CLI's side ------------------------------------------------------------------


def start_serving(*, job: TrainingJob, created_by=None) -> ServingRun:
    """Queue a serving run of a succeeded SFT/DPO/KTO/RL job's model on the gpu queue. TrainingJobError (409) while
    the job has a live serving run already, or when its model cannot be served."""
    check_trained_model(job, GENERATIVE_KINDS, "only SFT, DPO, KTO and RL models generate text")
    try:
        with transaction.atomic():
            run = ServingRun.objects.create(
                project_id=job.project_id,
                job=job,
                created_by=signed_in_or_none(created_by),
                enqueued_at=timezone.now(),
            )
    except IntegrityError:
        live = ServingRun.objects.filter(job=job, status__in=LIVE).first()
        which = f" (serving run {live.pk}, {live.status})" if live else ""
        raise TrainingJobError(
            f"job: job {job.pk} is being served already{which}; stop it first", code="conflict"
        ) from None
    transaction.on_commit(lambda: send_serving_run(run.pk))
    return run


def send_serving_run(run_id: int) -> None:
    from training.tasks import serving_task

    serving_task.apply_async((run_id,), queue=settings.TRAINING_QUEUE)


def stop_serving(*, run: ServingRun) -> ServingRun:
    """Stop: the run ends cancelled (a queued one never starts) and its endpoint is switched off at once, whether or
    not its worker is still there to stop the server (it does within a second or two)."""
    if not lifecycle.cancel(_kind(), run.pk):
        status = ServingRun.objects.values_list("status", flat=True).get(pk=run.pk)
        raise TrainingJobError(f"status: serving run {run.pk} is already {status}", code="conflict")
    switch_off(run)
    run.refresh_from_db()
    return run


def switch_off(run: ServingRun) -> None:
    """Serving ended: the endpoint leaves every picker — unless a newer run of the same job serves it already."""
    from llm.services import set_endpoint_active

    endpoint_id = ServingRun.objects.filter(pk=run.pk).values_list("endpoint_id", flat=True).first()
    if endpoint_id is None:
        return
    if ServingRun.objects.filter(job_id=run.job_id, status=RunStatus.RUNNING).exclude(pk=run.pk).exists():
        return
    from llm.models import LLMEndpoint

    endpoint = LLMEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is not None:
        set_endpoint_active(endpoint, False)


def after_stall(run: ServingRun) -> None:
    """The reconciler failed a run whose worker stopped beating: switch its endpoint off, and end its server if it
    runs on this machine (it dies with its worker anyway; this is for a worker that hangs)."""
    switch_off(run)
    if run.pid and run.hostname == socket.gethostname():
        try:
            os.killpg(run.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# --- the worker's side --------------------------------------------------------------------------------------------


def run_serving(*, run_id: int) -> None:
    """The gpu worker's task: claim the run, start the server, beat until stopped or the server exits."""
    kind = _kind()
    token = lifecycle.claim(kind, run_id, hostname=socket.gethostname())
    if token is None:
        return  # a duplicate or redelivered message, or a run stopped before it started
    run = ServingRun.objects.select_related("job").get(pk=run_id)
    proc = None
    try:
        with lifecycle.failing(kind, run_id, token=token, what=f"serving run {run_id}"):
            proc = _serve(kind, run, token)
    finally:
        if proc is not None:
            _stop_process(proc)
        try:
            switch_off(run)
        except DatabaseError:
            logger.exception("serving run %s: could not switch its endpoint off", run_id)


def _serve(kind, run: ServingRun, token):
    name = served_model_name(job=run.job)
    host = settings.SERVING_HOST
    port = _free_port(host)
    base_url = _public_url(host, port)
    log = Path(settings.DATA_DIR) / "serving" / f"run-{run.pk}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "serve_model", str(run.job_id)]
    argv += ["--host", host, "--port", str(port), "--public-url", base_url, "--engine", settings.SERVING_ENGINE]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv,
            cwd=str(settings.BASE_DIR),
            env=_server_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
    ServingRun.objects.filter(pk=run.pk, run_token=token).update(pid=proc.pid, host=host, port=port, base_url=base_url)
    probe = f"http://{'127.0.0.1' if host in ANY_ADDRESS else host}:{port}/health"
    healthy = False
    while True:  # loading the model can take minutes: beat meanwhile; stop when asked or when the server exits
        if proc.poll() is not None:
            raise RuntimeError(f"the model server exited (code {proc.returncode}): {_tail(log)}")
        if not lifecycle.heartbeat(kind, run.pk, token=token):
            return proc  # stopped (cancelled), or failed by the reconciler
        if not healthy and (latency_ms := _probe_latency_ms(probe)) is not None:
            healthy = True
            _switch_on(run, name=name, token=token, latency_ms=latency_ms)
            logger.info("serving run %s: job %s serves at %s", run.pk, run.job_id, base_url)
        time.sleep(settings.TRAINING_POLL_SECONDS)


def _switch_on(run: ServingRun, *, name: str, token, latency_ms: int) -> None:
    """The server answered its /health: the endpoint goes on, with that answer as its health (a check that succeeded
    just now), so pickers show it "ok … just now" rather than "never checked" until a run first uses it."""
    from llm.models import LLMEndpoint
    from llm.services import record_endpoint_check, set_endpoint_active

    endpoint = LLMEndpoint.objects.filter(name=name, project_id=run.project_id).first()
    if endpoint is None:  # serve_model registers it before it serves; never seen, but say so
        raise RuntimeError(f"the server is up but endpoint {name} was not registered")
    with transaction.atomic():
        record_endpoint_check(
            endpoint=endpoint, latency_ms=latency_ms, reply=f"the model server answered /health (serving run {run.pk})"
        )
        set_endpoint_active(endpoint, True)
        ServingRun.objects.filter(pk=run.pk, run_token=token).update(endpoint=endpoint, engine=_engine())


def _engine() -> str:
    wanted = settings.SERVING_ENGINE
    if wanted != "auto":
        return wanted
    import importlib.util

    return "vllm" if importlib.util.find_spec("vllm") is not None else "builtin"


def _free_port(host: str) -> int:
    """The first port of SERVING_PORTS nothing listens on here (the server binds it a moment later; should another
    process take it meanwhile, the server exits and the run fails saying so)."""
    low, high = settings.SERVING_PORT_RANGE
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for port in range(low, high + 1):
        with socket.socket(family) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise TrainingJobError(f"SERVING_PORTS: every port from {low} to {high} is in use on {socket.gethostname()}")


def _public_url(host: str, port: int) -> str:
    if settings.SERVING_PUBLIC_URL:
        return settings.SERVING_PUBLIC_URL.replace("{port}", str(port)).rstrip("/")
    shown = socket.gethostname() if host in ANY_ADDRESS else host
    return f"http://{shown}:{port}/v1"


def _probe_latency_ms(url: str) -> int | None:
    """How long the server's /health took to answer 200, in ms; None while it does not."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            ok = reply.status == 200
    except OSError:
        return None
    return round((time.monotonic() - started) * 1000) if ok else None


def _tail(log: Path) -> str:
    try:
        text = log.read_bytes()[-LOG_TAIL_CHARS:].decode("utf-8", "replace")
    except OSError:
        return "(no output)"
    return text.strip() or "(no output)"


def _server_env() -> dict:
    env = os.environ.copy()
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    env.setdefault("HF_HOME", str(Path(settings.DATA_DIR) / "hf-home"))
    return env


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    from training.trainer.zygote import arm_parent_death_signal

    arm_parent_death_signal()
    os.setsid()  # its own process group: stopping it reaches whatever it started (vLLM's workers)


def _stop_process(proc) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=STOP_WAIT_S)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=STOP_WAIT_S)


# --- reads ---------------------------------------------------------------------------------------------------------


def serving_runs_of_project(*, project):
    return ServingRun.objects.filter(project=project).select_related("endpoint").order_by("-pk")


def latest_serving_by_job(*, project, job_ids) -> dict[int, ServingRun]:
    """Each job's newest serving run (what the models page shows next to the model)."""
    latest: dict[int, ServingRun] = {}
    for run in serving_runs_of_project(project=project).filter(job_id__in=list(job_ids)):
        latest.setdefault(run.job_id, run)
    return latest
