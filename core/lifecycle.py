"""One lifecycle for every background run: its states and legal moves, claiming with a run token, heartbeats,
progress, failure recording, and the registry of run kinds that the stalled-work reconciler walks.

States: queued → running → (paused ⇄ running) → succeeded | failed | cancelled. A kind allows a subset (a check
never pauses; a generation batch is never queued) and may store two of them under older names (a dataset version
is `building` while its build runs and `ready` when it succeeded). Every move is one conditional UPDATE on the
states it may come from (and the run token, where the mover holds one), so a redelivered or duplicate message, a
second worker or the reconciler can never move a run twice.

Each kind is declared once, in its app's `runs.py`, beside the model it describes: the model's `status` column
is made from it (`KIND.status_field()`), and the lifecycle columns every run shares are `core.models.RunModel`'s.
Each kind registers itself (its app's `ready()`); `reconcile()` walks every registered kind, so a kind cannot be
added without saying what happens when its worker dies: the run is sent again (`requeue`: its work is idempotent,
what is done is kept) or ends `failed` with the reason (`fail`). Kinds whose units of work are their own rows
(generation lanes, dataset builds) bring their own `recover`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.apps import apps
from django.db import DatabaseError, InterfaceError, OperationalError, connection, models
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)


class RunStatus(models.TextChoices):
    # Labels translated on pages (get_status_display, the `status_label` filter); the English ones equal Django's
    # default labels, so the models' choices (and their migrations) do not change.
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED)
FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)

# Every legal move (to ← from). `running → queued` restarts stalled work; `failed/succeeded → queued` retries the
# parts that failed (a run may succeed with some items failed), for kinds whose work is resumable.
SOURCES: dict[str, tuple[str, ...]] = {
    RunStatus.QUEUED: (RunStatus.RUNNING, RunStatus.FAILED, RunStatus.SUCCEEDED),
    RunStatus.RUNNING: (RunStatus.QUEUED, RunStatus.PAUSED, RunStatus.FAILED),
    RunStatus.PAUSED: (RunStatus.RUNNING,),
    RunStatus.SUCCEEDED: (RunStatus.RUNNING,),
    RunStatus.FAILED: (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED),
    RunStatus.CANCELLED: (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED),
}

ERROR_LIMIT = 5000

# What `cancel` answers for a run that stops cooperatively: asked to stop, it ends cancelled when its worker sees it.
CANCELLING = "cancelling"


class IllegalMove(ValueError):
    pass


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    rate: float | None = None  # units per second since the run started
    eta_seconds: float | None = None

    @property
    def fraction(self) -> float | None:
        return round(self.done / self.total, 4) if self.total else None


@dataclass(frozen=True)
class Later:
    """A function named by its dotted path, imported when first called. A kind is declared beside its model, and
    the code that does its work imports that model: naming the work's functions by path (as the kind names its
    model, "app_label.ModelName") keeps the model module free of the work modules."""

    path: str

    def __call__(self, *args, **kwargs):
        return import_string(self.path)(*args, **kwargs)


def later(path: str) -> Later:
    return Later(path)


@dataclass(frozen=True)
class RunKind:
    """What the lifecycle needs to know about one kind of run. Only `send` and the stall policy are the kind's
    own code; everything else is the shared machinery below."""

    name: str  # "sampling", "judge", … (what the API and the reconciler's report call it)
    model: str  # "app_label.ModelName"
    statuses: tuple[str, ...]  # the subset of RunStatus this kind uses
    send: Callable[[int], None]  # enqueue the run's work (idempotent: what is done is skipped)
    queue: str  # the queue `send` uses, named so no LLM-only kind sits on the GPU queue
    # What happens to a running run that stopped beating: "requeue" (back to queued and sent again: claimed anew
    # with a new token), "resend" (its unfinished units sent again as they are), "fail" (ends failed with the
    # reason), or "custom" (the kind's own `recover` restarts its own units of work).
    on_stall: str
    stale_seconds: Callable[[], float]  # silence after which a running run counts as stalled
    requeue_seconds: Callable[[], float] | None = None  # queued longer than this: the message may be lost; resend
    stored: dict[str, str] = field(default_factory=dict)  # lifecycle state → the value this kind stores
    token_field: str | None = "run_token"
    heartbeat_field: str | None = "heartbeat_at"  # None: its units of work beat, not the run (a custom `recover`)
    started_field: str | None = "started_at"  # stamped when the run is claimed (None: the kind is never claimed)
    # A running run of this kind stops cooperatively (it saves what it has at its next step): `cancel` sets this
    # flag and its worker ends it cancelled. None: a running run is moved to cancelled at once (its worker notices at
    # its next heartbeat).
    cancel_field: str | None = None
    queued_field: str | None = None  # when the run was (last) sent; default: the heartbeat field
    progress: Callable[[models.Model], tuple[int, int]] | None = None  # (done, total)
    recover: Callable[[], int] | None = None  # on_stall="custom": the kind restarts its own units of work
    on_failed: Callable[[models.Model], None] | None = None  # after a stalled run was failed (e.g. kill its child)
    project_path: str | None = "project"  # the ORM path from a run to its project (None: not a project's run)

    def value(self, status: str) -> str:
        return self.stored.get(status, status)

    def choices(self) -> list[tuple[str, str]]:
        """The model's status choices: the kind's states in lifecycle order, each under the name it stores (a
        stored name brings its own label)."""
        found = []
        for state in RunStatus:
            if state in self.statuses:
                value = self.value(state)
                found.append((str(value), getattr(value, "label", state.label)))
        return found

    def status_field(self, **options) -> models.CharField:
        """The run model's `status` column, made from the kind: its states as choices; a new run is in the first
        (queued, or running for kinds that start at once)."""
        choices = self.choices()
        return models.CharField(max_length=16, choices=choices, default=choices[0][0], **options)

    def status_of(self, stored_value: str) -> str:
        for status, value in self.stored.items():
            if value == stored_value:
                return status
        return stored_value

    @property
    def model_class(self) -> type[models.Model]:
        return apps.get_model(self.model)

    def rows(self, pk: int, *, token=None, among: Iterable[str] | None = None):
        rows = self.model_class.objects.filter(pk=pk)
        if among is not None:
            rows = rows.filter(status__in=[self.value(s) for s in among])
        if token is not None and self.token_field:
            rows = rows.filter(**{self.token_field: token})
        return rows


_registry: dict[str, RunKind] = {}


def register(kind: RunKind) -> RunKind:
    unknown = set(kind.statuses) - set(RunStatus.values)
    if (
        unknown
        or kind.on_stall not in ("requeue", "resend", "fail", "custom")
        or (kind.on_stall == "custom") != bool(kind.recover)
        or (kind.heartbeat_field is None and kind.on_stall != "custom")
    ):
        raise ValueError(f"run kind {kind.name}: bad definition")
    _registry[kind.name] = kind
    return kind


def kinds() -> list[RunKind]:
    return list(_registry.values())


def kind(name: str) -> RunKind:
    return _registry[name]


def kind_of(run: models.Model) -> RunKind:
    label = run._meta.label
    return next(k for k in _registry.values() if k.model == label)


# --- moves -------------------------------------------------------------------------------------------------------


def move(kind: RunKind, pk: int, to: str, *, token=None, among: Iterable[str] | None = None, **fields) -> bool:
    """Move the run to `to` from any state that may legally precede it (or only from `among`), holding `token`
    when given. Finishing stamps `finished_at`; leaving a finished state clears it. True when this call moved it."""
    if to not in kind.statuses:
        raise IllegalMove(f"a {kind.name} run is never {to}")
    sources = [s for s in SOURCES[to] if s in kind.statuses and (among is None or s in among)]
    if not sources:
        raise IllegalMove(f"a {kind.name} run cannot become {to} from {list(among or [])}")
    now = timezone.now()
    if to in FINISHED:
        fields.setdefault("finished_at", now)
    else:
        fields.setdefault("finished_at", None)
    if "error" in fields:
        fields["error"] = str(fields["error"])[:ERROR_LIMIT]
    return bool(kind.rows(pk, token=token, among=sources).update(status=kind.value(to), **fields))


def claim(kind: RunKind, pk: int, **fields) -> uuid.UUID | None:
    """queued → running with a new run token, exactly once. None: a duplicate or redelivered message (the run is
    already claimed, finished or cancelled); the caller does nothing."""
    token = uuid.uuid4()
    now = timezone.now()
    stamp = {kind.heartbeat_field: now, **fields} if kind.heartbeat_field else dict(fields)
    if kind.token_field:
        stamp[kind.token_field] = token
    if kind.started_field:
        stamp.setdefault(kind.started_field, now)
    return token if move(kind, pk, RunStatus.RUNNING, among=(RunStatus.QUEUED,), **stamp) else None


def heartbeat(kind: RunKind, pk: int, *, token=None, **fields) -> bool:
    """A sign of life (and any progress fields). False: the run is no longer this holder's (finished, cancelled,
    paused or restarted elsewhere): stop."""
    rows = kind.rows(pk, token=token, among=(RunStatus.RUNNING,))
    beat = {kind.heartbeat_field: timezone.now()} if kind.heartbeat_field else {}
    return bool(rows.update(**beat, **fields))


def finish(kind: RunKind, pk: int, status: str, *, token=None, error: str = "", **fields) -> bool:
    """running → succeeded / failed / cancelled (the holder's run only, when a token is given); `error` is
    recorded (cleared on success)."""
    if status not in FINISHED:
        raise IllegalMove(f"{status} is not a finished state")
    return move(kind, pk, status, token=token, among=(RunStatus.RUNNING,), error=error, **fields)


def cancel(kind: RunKind, pk: int, **fields) -> str | None:
    """Cancel the run: "cancelled" when it ended at once (with `fields` recorded); for a kind that stops
    cooperatively (`cancel_field`), a running run is asked to stop instead: "cancelling", and its worker ends it
    cancelled at its next step. None: it had finished already (nothing moved)."""
    if not kind.cancel_field:
        return RunStatus.CANCELLED if move(kind, pk, RunStatus.CANCELLED, **fields) else None
    asked = {kind.cancel_field: True}
    waiting = [s for s in (RunStatus.QUEUED, RunStatus.PAUSED) if s in kind.statuses]  # not running: ends at once
    if waiting and move(kind, pk, RunStatus.CANCELLED, among=waiting, **asked, **fields):
        return RunStatus.CANCELLED
    if kind.rows(pk, among=(RunStatus.RUNNING,)).update(**asked):
        return CANCELLING
    return None


def status(kind: RunKind, pk: int) -> str:
    return kind.status_of(kind.model_class.objects.values_list("status", flat=True).get(pk=pk))


def _infrastructure_errors() -> tuple[type[BaseException], ...]:
    """The database connection, the broker or the shared storage went away: nothing about the run is wrong."""
    from kombu.exceptions import OperationalError as BrokerError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from core.storage import UNAVAILABLE as STORAGE_UNAVAILABLE

    try:  # a server-side cursor read outside Django's error wrapper raises the driver's own class
        from psycopg import InterfaceError as DriverInterfaceError
        from psycopg import OperationalError as DriverOperationalError

        driver: tuple[type[BaseException], ...] = (DriverOperationalError, DriverInterfaceError)
    except ImportError:  # the embedded default needs no PostgreSQL driver
        driver = ()
    return (
        OperationalError,
        InterfaceError,
        *driver,
        BrokerError,
        RedisConnectionError,
        RedisTimeoutError,
        ConnectionError,
        *STORAGE_UNAVAILABLE,
    )


def is_infrastructure_error(exc: BaseException) -> bool:
    return isinstance(exc, _infrastructure_errors())


@contextlib.contextmanager
def failing(kind: RunKind, pk: int, *, token=None, what: str = ""):
    """Whatever the block raises ends the run `failed` with the message (logged with its traceback) and does not
    propagate: the message is done with, a redelivery would only raise again.

    Except when the database connection or the broker was lost (PostgreSQL restarted, Redis gone): the work is
    fine and idempotent, so the run is left as it is and the error propagates; its heartbeat stops, and the
    reconciler restarts it (or, for kinds that cannot resume, fails it) once the services are back."""
    label = what or f"{kind.name} run {pk}"
    try:
        yield
    except _infrastructure_errors() as exc:
        logger.warning("%s: lost the database, broker or storage (%s); the reconciler will restart it", label, exc)
        if not connection.in_atomic_block:
            connection.close()  # the next task starts on a fresh connection
        raise
    except Exception as exc:  # whatever the work raised, the run must end in a known state
        logger.exception("%s failed", label)
        try:
            move(
                kind,
                pk,
                RunStatus.FAILED,
                token=token,
                among=(RunStatus.RUNNING,),
                error=f"{type(exc).__name__}: {exc}",
            )
        except DatabaseError:
            logger.exception("%s: could not record the failure (the database is unreachable)", label)
            raise exc from None


@contextlib.contextmanager
def beating(kind: RunKind, pk: int, *, token=None, every: float | None = None):
    """Heartbeats from a side thread while the block runs (loading a model or one slow LLM call can take minutes);
    every RUN_HEARTBEAT_SECONDS unless told."""
    from django.conf import settings

    every = every or settings.RUN_HEARTBEAT_SECONDS
    stop = threading.Event()

    def beat():
        try:
            while not stop.wait(every):
                try:
                    heartbeat(kind, pk, token=token)
                except DatabaseError as exc:  # a locked SQLite file, a dropped connection: beat again next time
                    logger.warning("%s %s: heartbeat not recorded (%s); trying again", kind.name, pk, exc)
                    connection.close()
        finally:
            connection.close()

    thread = threading.Thread(target=beat, daemon=True, name=f"{kind.name}-{pk}-heartbeat")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + 5)


def progress(run: models.Model, started_at=None) -> Progress | None:
    """done/total, rate and ETA of a run, from its kind's counters and when it started."""
    kind = kind_of(run)
    if kind.progress is None:
        return None
    done, total = kind.progress(run)
    started = started_at or getattr(run, "started_at", None) or getattr(run, "created_at", None)
    rate = eta = None
    if started and done:
        seconds = ((getattr(run, "finished_at", None) or timezone.now()) - started).total_seconds()
        if seconds > 0:
            rate = round(done / seconds, 4)
            eta = round((total - done) / rate, 1) if total > done and kind.status_of(run.status) in ACTIVE else None
    return Progress(done=done, total=total, rate=rate, eta_seconds=eta)


def active_runs(*, project, limit: int = 20) -> list[dict]:
    """Every registered kind's queued, running or paused runs of the project (newest first, `limit` per kind),
    with their progress: what a project's overview shows as running now."""
    found = []
    for run_kind in kinds():
        if not run_kind.project_path:
            continue
        stored = [run_kind.value(s) for s in ACTIVE if s in run_kind.statuses]
        runs = run_kind.model_class.objects.filter(**{run_kind.project_path: project}, status__in=stored)
        for run in runs.order_by("-pk")[:limit]:
            status = run_kind.status_of(run.status)
            found.append({"kind": run_kind.name, "id": run.pk, "status": status, "progress": progress(run)})
    return found


# --- recovery ----------------------------------------------------------------------------------------------------


def _recover_default(kind: RunKind, now) -> int:
    model = kind.model_class
    beat = kind.heartbeat_field
    cutoff = now - timedelta(seconds=kind.stale_seconds())
    acted = 0
    stalled = model.objects.filter(status=kind.value(RunStatus.RUNNING), **{f"{beat}__lt": cutoff})
    for run in stalled:
        token = getattr(run, kind.token_field) if kind.token_field else None
        guard = {f"{beat}__lt": cutoff}
        if kind.on_stall in ("requeue", "resend"):
            back = {"status": kind.value(RunStatus.QUEUED)} if kind.on_stall == "requeue" else {}
            if kind.rows(run.pk, token=token, among=(RunStatus.RUNNING,)).filter(**guard).update(**back, **{beat: now}):
                logger.warning("%s run %s stopped reporting; sent again", kind.name, run.pk)
                kind.send(run.pk)
                acted += 1
        else:
            seen = timezone.localtime(getattr(run, beat)).strftime("%Y-%m-%d %H:%M:%S")
            done = f"; {'/'.join(map(str, kind.progress(run)))} done" if kind.progress else ""
            error = f"the worker running it stopped reporting (last heartbeat {seen}{done})"
            if (
                kind.rows(run.pk, token=token, among=(RunStatus.RUNNING,))
                .filter(**guard)
                .update(status=kind.value(RunStatus.FAILED), error=error, finished_at=now)
            ):
                logger.warning("%s run %s: %s", kind.name, run.pk, error)
                if kind.on_failed:
                    kind.on_failed(run)
                acted += 1
    if kind.requeue_seconds is not None and RunStatus.QUEUED in kind.statuses:
        sent = kind.queued_field or beat
        waiting = {
            "status": kind.value(RunStatus.QUEUED),
            f"{sent}__lt": now - timedelta(seconds=kind.requeue_seconds()),
        }
        for pk in model.objects.filter(**waiting).values_list("pk", flat=True):
            if model.objects.filter(pk=pk, **waiting).update(**{sent: now}):
                kind.send(pk)  # the message may have been lost with Redis; a duplicate finds it claimed
                acted += 1
    return acted


def reconcile() -> dict[str, int]:
    """One pass over every registered kind: restart or fail what stopped reporting, resend what waited too long.
    Returns {kind name: runs acted on}. Safe on several workers at once (conditional updates)."""
    now = timezone.now()
    report = {}
    for kind in kinds():
        report[kind.name] = kind.recover() if kind.on_stall == "custom" else _recover_default(kind, now)
    return report
