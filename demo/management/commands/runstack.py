"""manage.py runstack — web server, Celery workers and demo teacher together; a worker that dies is started again;
Ctrl-C stops all of them."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable

from django.conf import settings
from django.core.management.base import BaseCommand

from training.services import demo_base_model_path

# A worker that dies is started again after 1, 2, 4, 8, 16 s; after this many restarts within the window the
# supervisor gives up on it (a worker that cannot stay up needs its error read, not more restarts).
WORKER_RESTART_LIMIT = 5
WORKER_RESTART_WINDOW_S = 60.0
WORKER_RESTART_BACKOFF_S = 1.0


def _start(cmd: list[str]) -> subprocess.Popen:
    # Own process groups, so our Ctrl-C handling decides the shutdown order.
    return subprocess.Popen(cmd, cwd=settings.BASE_DIR, start_new_session=True, env=os.environ.copy())


def _kill_leftovers(proc) -> None:
    """A dead worker's pool processes (its process group) go with it before a new worker starts."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Supervisor:
    """Starts the stack's processes and watches them. A restartable process (a Celery worker) that dies is started
    again with a doubling delay, at most `limit` times in `window` seconds, then left down with a loud message; any
    other process that dies (the web server, the teacher) stops the stack: `check()` then answers an exit code."""

    def __init__(
        self,
        commands: dict[str, list[str]],
        *,
        restartable: set[str],
        say: Callable[[str], None],
        warn: Callable[[str], None],
        start: Callable[[list[str]], subprocess.Popen] = _start,
        kill_leftovers: Callable[[subprocess.Popen], None] = _kill_leftovers,
        clock: Callable[[], float] = time.monotonic,
        limit: int = WORKER_RESTART_LIMIT,
        window: float = WORKER_RESTART_WINDOW_S,
        backoff: float = WORKER_RESTART_BACKOFF_S,
    ):
        self.commands, self.restartable = commands, restartable
        self.say, self.warn, self.start, self.kill_leftovers, self.clock = say, warn, start, kill_leftovers, clock
        self.limit, self.window, self.backoff = limit, window, backoff
        self.procs: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, deque[float]] = {name: deque() for name in commands}
        self.due: dict[str, float] = {}  # name -> when a dead worker is started again
        self.given_up: set[str] = set()

    def start_all(self) -> None:
        for name, cmd in self.commands.items():
            self.procs[name] = self.start(cmd)

    def check(self) -> int | None:
        """One look at every process: restarts what is due; an exit code when the stack must stop, else None."""
        now = self.clock()
        for name, proc in self.procs.items():
            if name in self.due or name in self.given_up or (code := proc.poll()) is None:
                continue
            if name not in self.restartable:
                self.warn(f"{name} exited with code {code}; stopping the others")
                return 1
            self.kill_leftovers(proc)
            recent = self.restarts[name]
            while recent and now - recent[0] >= self.window:
                recent.popleft()
            if len(recent) >= self.limit:
                self.given_up.add(name)
                self.warn(
                    f"\n!!! {name} exited with code {code} and has died {len(recent) + 1} times within "
                    f"{self.window:.0f} s: NOT restarting it again. The web server stays up, but nothing works "
                    f"{name}'s queue now: read its error above, fix the cause and restart the stack. !!!\n"
                )
                continue
            delay = self.backoff * 2 ** len(recent)
            self.due[name] = now + delay
            self.warn(
                f"{name} exited with code {code}; restarting it in {delay:g} s "
                f"(restart {len(recent) + 1} of at most {self.limit} within {self.window:.0f} s)"
            )
        for name, at in list(self.due.items()):
            if now >= at:
                del self.due[name]
                self.restarts[name].append(now)
                self.procs[name] = self.start(self.commands[name])
                self.say(f"{name} restarted (pid {self.procs[name].pid})")
        return None

    def stop_all(self, timeout: float = 15) -> list[str]:
        """SIGTERM to every running process group, SIGKILL to those still there after `timeout`; their names."""
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        killed = []
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                killed.append(name)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return killed


def _worker(queue: str, concurrency: int, *extra: str) -> list[str]:
    return [
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
        "--queues",
        queue,
        *extra,
    ]


class Command(BaseCommand):
    help = "Run the web server, a Celery worker and the demo teacher; print URLs and logins; stop all on Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--teacher-port", type=int, default=8765)
        parser.add_argument("--concurrency", type=int, default=2, help="worker processes")

    def handle(self, *args, port, teacher_port, concurrency, **options):
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        commands = {
            "teacher": [python, manage, "demo_teacher", "--port", str(teacher_port), "--latency-ms", "150"],
            "worker": _worker(settings.CELERY_TASK_DEFAULT_QUEUE, concurrency),
            # training jobs: one at a time on their own queue (a GPU box runs just this worker)
            "gpu-worker": _worker(settings.TRAINING_QUEUE, 1, "--prefetch-multiplier", "1", "--hostname", "gpu@%h"),
            "web": [python, manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        }
        stack = Supervisor(
            commands,
            restartable={"worker", "gpu-worker"},
            say=self.stdout.write,
            warn=self.stderr.write,
        )
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        pending_ports, code = [port, teacher_port], None
        try:
            stack.start_all()
            while not stopping and code is None:
                code = stack.check()
                if pending_ports and self._ports_open(pending_ports):
                    self._banner(port, teacher_port)
                time.sleep(0.5)
        finally:
            self.stdout.write("stopping web, workers and teacher…")
            for name in stack.stop_all():
                self.stderr.write(f"{name} did not stop in time; killed it")
            self.stdout.write("all stopped")
        sys.exit(code or (1 if stack.given_up else 0))

    def _ports_open(self, pending: list[int]) -> bool:
        """Drops the ports that now answer from `pending`; True once none is left (the banner is due)."""
        while pending:
            try:
                socket.create_connection(("127.0.0.1", pending[0]), timeout=0.5).close()
            except OSError:
                return False
            pending.pop(0)
        return True

    def _banner(self, port, teacher_port):
        base = f"http://127.0.0.1:{port}"
        lines = [
            "",
            "Instruction-data platform is running (Ctrl-C stops everything)",
            f"  console     {base}/console/demo/  (project admins: the loop, what runs now)",
            f"  web UI      {base}/",
            f"  rank        {base}/label/demo/  (labelers)",
            f"  dashboard   {base}/label/demo/dashboard/  (project admins)",
            f"  admin       {base}/admin/",
            f"  API docs    {base}/api/docs/",
            f"  demo teacher http://127.0.0.1:{teacher_port}/v1  (offline; not a language model)",
            f"  base model  {demo_base_model_path()}  (tiny random Llama to try training jobs)",
            f"  database    {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, broker "
            f"{'redis' if settings.REDIS_URL else 'embedded (filesystem)'}",
        ]
        logins_path = settings.DATA_DIR / "demo-logins.json"
        if logins_path.exists():
            for username, info in json.loads(logins_path.read_text()).items():
                token = f"  API token {info['token']}" if info.get("token") else ""
                lines.append(f"  login       {username} / {info.get('password')}  ({info['role']}){token}")
        self.stdout.write("\n".join(lines) + "\n")
