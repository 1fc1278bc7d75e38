"""Generation throughput as a ratio to its limit, on PostgreSQL + Redis with a real Celery worker.

The limit of a batch against a teacher that answers in a fixed mean latency is set by the endpoint's concurrency
cap: at most `cap` requests in flight, each taking `latency`, each reply adding `accepted per reply` instructions
to the pool. So the best any engine could do is  cap ÷ latency × accepted-per-reply  accepted instructions per
second, with accepted-per-reply measured in the same run. The ratio of the measured rate to that limit is what
the engine's own overhead costs (prompt building, parsing, filters, the near-duplicate check under the pool lock,
database writes, queue round trips). Target: ≥ 0.9.

Sets up a fresh bench database (migrated) with the demo seeds, starts the demo teacher with a fixed latency and a
worker with `cap` processes, runs a Self-Instruct batch to `--target` accepted, and times it from the batch's
creation (the worker is already up) to its last accepted row. Writes bench/results/generation.json.

    .venv/bin/python bench/generation.py               # about a minute on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from benchdb import fresh_database

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/idp_bench_generation"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shell(env: dict, script: str) -> dict:
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--cap", type=int, default=8, help="the endpoint's concurrency cap (= lanes, = processes)")
    parser.add_argument("--latency-ms", type=int, default=1000, help="the teacher's mean reply latency")
    parser.add_argument("--target", type=int, default=400, help="accepted instructions to reach")
    args = parser.parse_args()

    data_dir = Path(subprocess.run(["mktemp", "-d"], capture_output=True, text=True).stdout.strip())
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    fresh_database(args.database_url)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    port = free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "demo_teacher", "--port", str(port), "--latency-ms", str(args.latency_ms)],
            cwd=REPO,
            env=env,
            start_new_session=True,
        )
    ]
    log = data_dir / "worker.log"
    try:
        wait_for_port(port)
        shell(
            env,
            f"""
import json
from llm.services import create_endpoint
from demo.teacher import default_seed_files
from projects.services import create_project
from selfinstruct.services import import_seed_file
project = create_project(slug="bench", name="Bench")
for path in default_seed_files():
    import_seed_file(project=project, path=path)
create_endpoint(name="teacher", base_url="http://127.0.0.1:{port}/v1", model="demo-teacher",
                max_concurrency={args.cap}, request_timeout_s=30, max_retries=2)
print(json.dumps({{}}))
""",
        )
        with log.open("w") as sink:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "config",
                        "worker",
                        "--loglevel",
                        "INFO",
                        "--concurrency",
                        str(args.cap),
                        "--prefetch-multiplier",
                        "1",
                        "--queues",
                        "default",
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                    ],
                    cwd=REPO,
                    env=env,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 60
        while " ready." not in log.read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise SystemExit("the worker did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.2)
        result = shell(
            env,
            f"""
import json, time
from django.db.models import Max
from llm.models import LLMEndpoint
from projects.models import Project
from selfinstruct.batches import start_batch
from selfinstruct.models import GeneratedInstruction, GenerationBatch, GenerationRequest
batch = start_batch(project=Project.objects.get(slug="bench"), endpoint=LLMEndpoint.objects.get(name="teacher"),
                    template_name="self-instruct", target={args.target}, seed=1)
# the instruction stage only: Self-Instruct's instance stage starts after the target and is not measured here
GenerationBatch.objects.filter(pk=batch.pk).update(generate_instances=False)
deadline = time.monotonic() + 600
while GenerationBatch.objects.get(pk=batch.pk).status == "running" and time.monotonic() < deadline:
    time.sleep(0.2)
batch.refresh_from_db()
requests = GenerationRequest.objects.filter(batch=batch, kind="tasks")
accepted = GeneratedInstruction.objects.filter(batch=batch, status="accepted")
span = batch.created_at, accepted.aggregate(last=Max("created_at"))["last"]
ok = requests.filter(error="").count()
print(json.dumps({{"status": batch.status, "lanes": batch.lanes, "accepted": accepted.count(),
                  "requests": requests.count(), "ok_requests": ok,
                  "seconds": (span[1] - span[0]).total_seconds()}}))
""",
        )
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    per_reply = result["accepted"] / max(result["ok_requests"], 1)
    in_flight = min(args.cap, result["lanes"])
    limit = in_flight / (args.latency_ms / 1000) * per_reply
    rate = result["accepted"] / result["seconds"]
    report = {
        "cap": args.cap,
        "lanes": result["lanes"],
        "latency_ms": args.latency_ms,
        "target": args.target,
        "status": result["status"],
        "accepted": result["accepted"],
        "requests": result["requests"],
        "accepted_per_reply": round(per_reply, 3),
        "seconds": round(result["seconds"], 2),
        "accepted_per_second": round(rate, 2),
        "limit_per_second": round(limit, 2),
        "ratio_to_limit": round(rate / limit, 3),
        "target_ratio": 0.9,
        "cpu_count": os.cpu_count(),
    }
    out = REPO / "bench" / "results" / "generation.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
