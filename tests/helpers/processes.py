"""Real processes for tests: a Celery worker and manage.py commands, against the test database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

REPO = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    """The URL of the database the tests are using right now (the test database, not the configured one)."""
    info = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{info['NAME']}"
    user = info.get("USER") or ""
    auth = f"{user}:{info['PASSWORD']}@" if info.get("PASSWORD") else (f"{user}@" if user else "")
    return f"postgres://{auth}{info.get('HOST') or '127.0.0.1'}:{info.get('PORT') or 5432}/{info['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    env = os.environ.copy()
    env["DATABASE_URL"] = test_database_url()
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(*args: str, env: dict | None = None, timeout: float = 120, check: bool = False):
    result = subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        cwd=REPO,
        env=env or process_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def _wait_for(log: Path, marker: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if marker in text:
            return
        if proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before '{marker}':\n{text[-4000:]}")
        time.sleep(0.1)
    raise AssertionError(f"no '{marker}' within {timeout}s:\n{log.read_text(errors='replace')[-4000:]}")


class RunningProcess:
    def __init__(self, proc: subprocess.Popen, log: Path):
        self.proc, self.log = proc, log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)


@contextmanager
def spawn(cmd: list[str], *, ready: str, env: dict | None = None, timeout: float = 60):
    """Start a process in its own session, wait for `ready` in its output, stop its whole group afterwards."""
    log = Path(tempfile.mkstemp(prefix="proc-", suffix=".log")[1])
    with log.open("w") as sink:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env or process_env(), stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    running = RunningProcess(proc, log)
    try:
        _wait_for(log, ready, proc, timeout)
        yield running
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def purge_queues(queues: tuple[str, ...] = ("default",)) -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        for queue in queues:
            conn.default_channel.queue_purge(queue)


@contextmanager
def celery_worker(*, queues: tuple[str, ...] = ("default",), concurrency: int = 1, env: dict | None = None):
    """A real `celery worker` process on the configured broker and the test database."""
    purge_queues(queues)
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        str(concurrency),
        "--prefetch-multiplier",
        "1",
        "--queues",
        ",".join(queues),
        "--hostname",
        f"test-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    # No LLM-client preload before forking (config/celery.py): +1.5 s a start, and most test workers call no LLM.
    env = {"WORKER_PRELOAD_LLM": "0", **(env or process_env())}
    with spawn(cmd, ready=" ready.", env=env) as worker:
        yield worker
