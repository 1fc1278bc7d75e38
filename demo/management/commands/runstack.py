"""manage.py runstack — web server, Celery worker and demo teacher together; Ctrl-C stops all of them."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from training.services import demo_base_model_path


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
        procs = {}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, cmd in commands.items():
            # Own process groups, so our Ctrl-C handling decides the shutdown order.
            procs[name] = subprocess.Popen(cmd, cwd=settings.BASE_DIR, start_new_session=True, env=os.environ.copy())
        if self._wait_for_ports([port, teacher_port], procs, lambda: stopping):
            self._banner(port, teacher_port)
        code = 0
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    self.stderr.write(f"{name} exited with code {proc.returncode}; stopping the others")
                    stopping, code = True, 1
                    break
            time.sleep(0.5)
        self.stdout.write("stopping web, workers and teacher…")
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, proc in procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in time; killing it")
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.stdout.write("all stopped")
        sys.exit(code)

    def _wait_for_ports(self, ports, procs, stopping, timeout=60) -> bool:
        deadline = time.monotonic() + timeout
        pending = list(ports)
        while pending and time.monotonic() < deadline and not stopping():
            if any(proc.poll() is not None for proc in procs.values()):
                return False
            try:
                socket.create_connection(("127.0.0.1", pending[0]), timeout=0.5).close()
                pending.pop(0)
            except OSError:
                time.sleep(0.2)
        return not pending

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
