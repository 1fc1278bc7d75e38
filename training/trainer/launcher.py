"""Starting a trainer process for the supervisor: forked from this worker's preloaded zygote
(training/trainer/zygote.py), or started as `python -m training.trainer.runner` when preloading is off, the job spans
several processes (`accelerate launch`), or the zygote could not start.

The zygote starts with the first job a worker runs and lives as long as the worker: it exits when the worker's end
of its stdin closes, however the worker died, and the kernel then kills its trainers. That first job waits for its
imports, as a fresh process would; every later job skips them (5–9 s of CPU each). The supervisor gets a
Popen-like handle either way: `pid` (None while the zygote is still importing), `poll()`, `wait(timeout)` and
`returncode`. Nothing here ever blocks on the zygote: the supervisor's loop keeps beating while a job waits.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time

from training.trainer.zygote import EXIT_UNSAFE

logger = logging.getLogger(__name__)

ZYGOTE_COMMAND = ["-m", "training.trainer.zygote"]
# CUDA cannot be used in a process forked after CUDA started in its parent. The zygote only imports, and a
# `torch.cuda.is_available()` during those imports asks NVML instead of starting CUDA; should CUDA start anyway,
# the zygote refuses to fork (EXIT_UNSAFE) and this process starts its trainers as processes from then on.
ZYGOTE_ENV = {"PYTORCH_NVML_BASED_CUDA_CHECK": "1"}


class _Zygote:
    def __init__(self, env: dict, cwd: str):
        self.env = env
        # Its own session (a Ctrl-C meant for the worker is not for it). It ends when its stdin does, which is when
        # this process ends, however it ends: no parent-death signal, which would fire when the *thread* that
        # started it ends (a request thread, say), not the process.
        self.proc = subprocess.Popen(
            [sys.executable, *ZYGOTE_COMMAND],
            cwd=cwd,
            env={**env, **ZYGOTE_ENV},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.ready, self.buffer = False, b""
        self.pids: dict[int, int] = {}  # request id → trainer pid
        self.exits: dict[int, int] = {}  # trainer pid → returncode
        self.running: set[int] = set()  # trainers forked that have not ended
        self.lock = threading.Lock()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def refused(self) -> bool:
        """It found forking unsafe here (CUDA came up while it imported) and exited."""
        return self.proc.poll() == EXIT_UNSAFE

    def pump(self) -> None:
        """Take in whatever the zygote has said so far."""
        with self.lock:
            while True:
                try:
                    chunk = os.read(self.proc.stdout.fileno(), 65536)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                self.buffer += chunk
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                message = json.loads(line)
                if message.get("ready"):
                    self.ready = True
                elif "id" in message:
                    self.pids[message["id"]] = message["pid"]
                    self.running.add(message["pid"])
                else:
                    self.exits[message["pid"]] = message["code"]
                    self.running.discard(message["pid"])

    def request(self, request_id: int, folder: str, log: str) -> None:
        with self.lock:
            self.proc.stdin.write((json.dumps({"id": request_id, "folder": folder, "log": log}) + "\n").encode())
            self.proc.stdin.flush()

    def await_pid(self, request_id: int, timeout: float) -> int | None:
        """The fork itself takes milliseconds; None when no answer came within `timeout` (0: look once) or the
        zygote died first."""
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            if request_id in self.pids:
                return self.pids.pop(request_id)
            if not self.alive() or time.monotonic() >= deadline:
                return None
            select.select([self.proc.stdout], [], [], 0.05)

    def stop(self) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.wait()


_zygote: _Zygote | None = None
_retired: list[_Zygote] = []  # replaced while trainers of theirs still ran: stopped once those have ended
_refused = False  # a zygote found forking unsafe here (EXIT_UNSAFE): no more zygotes in this process
_zygote_lock = threading.Lock()
_request_ids = itertools.count(1)


def _zygote_for(env: dict, cwd: str) -> _Zygote | None:
    """This process's zygote for this environment (a changed environment gets a fresh one); None once a zygote
    found that forking trainers is unsafe here."""
    global _zygote, _refused
    with _zygote_lock:
        if _zygote is not None and _zygote.refused():
            _refused = True
        if _refused:
            return None
        if _zygote is not None and (_zygote.env != env or not _zygote.alive()):
            _retired.append(_zygote)
            _zygote = None
        for old in list(_retired):
            old.pump()
            if not old.running or not old.alive():
                old.stop()  # stopping it earlier would take its trainers along
                _retired.remove(old)
        if _zygote is None:
            _zygote = _Zygote(env, cwd)
        return _zygote


class ForkedTrainer:
    """A trainer forked from the zygote, with the parts of Popen's interface the supervisor uses. Until the zygote
    is ready the trainer is pending (no pid); should the zygote die first, it starts as a plain process instead."""

    def __init__(self, zygote: _Zygote, command: list[str], folder: str, log: str, popen):
        self.zygote, self.command, self.folder, self.log, self.popen = zygote, command, folder, log, popen
        self.pid: int | None = None
        self.returncode: int | None = None
        self.fallback: subprocess.Popen | None = None
        self.request_id: int | None = None

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        if self.fallback is not None:
            self.returncode = self.fallback.poll()
            return self.returncode
        self.zygote.pump()
        if self.pid is None:
            self._start()
            return None
        if self.pid in self.zygote.exits:
            self.returncode = self.zygote.exits.pop(self.pid)
        elif not self.zygote.alive() and not _exists(self.pid):
            self.returncode = -int(signal.SIGKILL)  # killed with the zygote (its parent-death signal)
        return self.returncode

    def _start(self) -> None:
        """Ask the zygote for the trainer once it is ready (once only: a slow answer is awaited on later polls, never
        asked again, which could start a second trainer for the job)."""
        wait = 0.0
        if self.request_id is None and self.zygote.ready and self.zygote.alive():
            self.request_id, wait = next(_request_ids), 10.0
            try:
                self.zygote.request(self.request_id, self.folder, self.log)
            except OSError:
                pass  # it died: below (a child it forked dies with it, by its parent-death signal)
        if self.request_id is not None:
            pid = self.zygote.await_pid(self.request_id, timeout=wait)
            if pid is not None:
                self.pid = pid
                return
        if not self.zygote.alive():
            logger.warning("the trainer zygote exited (%s); starting the trainer as a process", self.zygote.proc.poll())
            self.fallback = self.popen(self.command)
            self.pid = self.fallback.pid

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.command, timeout)
            time.sleep(0.05)
        return self.returncode

    def cancel_pending(self) -> None:
        """Before it has a pid, the trainer is simply never started."""
        if self.pid is None and self.returncode is None:
            self.returncode = -int(signal.SIGTERM)


def _exists(pid: int) -> bool:
    """Whether the process still runs (a zombie left for its new parent to reap does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (FileNotFoundError, ProcessLookupError):
        return False
    except OSError:
        return True


def start_trainer(command: list[str], *, folder: str, log: str, env: dict, cwd: str, preexec_fn, preload: bool):
    """A handle on the trainer of the job in `folder`, its output appended to the file `log`."""

    def popen(cmd):
        with open(log, "ab") as sink:
            return subprocess.Popen(cmd, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, env=env, preexec_fn=preexec_fn)

    zygote = _zygote_for(env, cwd) if preload and command[1:3] == ["-m", "training.trainer.runner"] else None
    if zygote is None:
        return popen(command)
    trainer = ForkedTrainer(zygote, command, folder, log, popen)
    trainer.poll()
    return trainer
