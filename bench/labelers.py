"""50 labelers at once against the real server on PostgreSQL: claim → rank loops through the HTTP API.

Sets up a fresh bench database (migrated), a project with ranking tasks (K=4, overlap 3, so labelers contend for
the same tasks breadth-first), 50 labelers with API tokens; starts gunicorn (gthread) on it; then 50 client
threads each run `--loops` rounds of POST /api/v1/annotation/next → POST …/ranking, with a think time between
calls (a fast human: 0.5–1.5 s) and then, in `--rounds` stress rounds, with none. Reports p50/p99 latency per call,
throughput, and checks the database afterwards: tasks over quota, labelers served a task twice, submissions
lost (must all be 0). After each stress round, on the same server and database, the same 50 threads call a no-op
authenticated DRF view (token check, JSON answer, nothing else) with no think time: a round's stress throughput as a
ratio to the no-op's right after it is what the claim and submit logic costs on top of DRF itself, and the median
round's ratio is the figure (target ≥ 0.5). Rounds, not one long phase each, because this VM's speed drifts by tens
of percent within a minute. On a server with autovacuum off (this project's CI machines) the bench does its work
meanwhile (AutovacuumStandIn), so the database is one that could be live. Writes bench/results/labelers.json.

    .venv/bin/python bench/labelers.py                  # about 2½ minutes on 2 cores
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from benchdb import fresh_database

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/idp_bench"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def setup(database_url: str, labelers: int, tasks: int) -> dict[str, str]:
    """Fresh schema, project, labelers (tokens) and tasks; returns {username: token}."""
    fresh_database(database_url)
    env = {**os.environ, "DATABASE_URL": database_url}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    script = f"""
import json
from annotation.models import Completion, Prompt
from annotation.services import create_ranking_task, prompt_text_key, update_ranking_config
from projects.services import create_project, create_user, issue_token
project = create_project(slug="bench", name="Bench")
update_ranking_config(project=project, overlap=3, completions_per_prompt=4)
tokens = {{}}
for i in range({labelers}):
    user, _, _ = create_user(username=f"labeler{{i:02d}}", role="labeler", project=project)
    tokens[user.username] = issue_token(user=user)
for i in range({tasks}):
    text = f"Bench prompt {{i}}: explain the idea in two sentences."
    prompt = Prompt.objects.create(project=project, source="imported", instruction=text,
                                   text_key=prompt_text_key(text, ""), language="en")
    ids = [Completion.objects.create(prompt=prompt, text=f"Answer {{j}} to prompt {{i}}. " * 20, model=f"m{{j}}",
                                     origin_key=f"bench:{{j}}").pk for j in range(4)]
    create_ranking_task(prompt=prompt, origin="bench", completion_ids=ids, required=3)
print(json.dumps(tokens))
"""
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ANALYZE")  # the statistics a live database has (autovacuum); a fresh load has none
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_server(database_url: str, port: int, workers: int, threads: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "noop_settings",
        "PYTHONPATH": f"{REPO / 'bench'}:{REPO}",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--threads",
            str(threads),
            "-k",
            "gthread",
            "--log-level",
            "warning",
            "--keep-alive",  # as behind a proxy: a client's connection (and so its worker) lasts the whole run
            "30",
        ],
        cwd=REPO,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/health/")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


_connections: dict[str, http.client.HTTPConnection] = {}


def connection(token: str, port: int) -> http.client.HTTPConnection:
    """The client's one keep-alive connection, used by every phase. Each connection stays with the gunicorn worker
    that accepted it, and how 50 connections fall on 5 workers changes the throughput by up to a third; with the same
    connections throughout, the stress and no-op phases are measured on the same spread."""
    if token not in _connections:
        _connections[token] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    return _connections[token]


def request(conn, method, path, body=None, headers=None):
    """One request on the kept connection; reconnects once when the server closed it (a submit sent twice is
    idempotent: the second answer is the stored ranking)."""
    for attempt in (1, 2):
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response, response.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()
            if attempt == 2:
                raise


class Labeler(threading.Thread):
    def __init__(self, name, token, port, loops, think, barrier, seed):
        super().__init__(name=name)
        self.token, self.port, self.loops, self.think, self.barrier = token, port, loops, think, barrier
        self.rng = random.Random(seed)
        self.next_ms: list[float] = []
        self.submit_ms: list[float] = []
        self.served: list[int] = []
        self.errors: Counter = Counter()
        self.submitted = 0

    def call(self, conn, method, path, body=None):
        headers = {"Authorization": f"Token {self.token}", "Content-Type": "application/json"}
        started = time.perf_counter()
        response, data = request(conn, method, path, json.dumps(body) if body is not None else None, headers)
        return response.status, data, (time.perf_counter() - started) * 1000

    def pause(self):
        if self.think:
            time.sleep(self.rng.uniform(*self.think))

    def run(self):
        conn = connection(self.token, self.port)
        self.barrier.wait()
        self.pause()  # at human pace, people do not all press the key in the same millisecond
        for _ in range(self.loops):
            status, data, ms = self.call(conn, "POST", "/api/v1/annotation/next?project=bench")
            self.next_ms.append(ms)
            if status == 204:
                break
            if status != 200:
                self.errors[f"next {status}"] += 1
                continue
            task = json.loads(data)
            self.served.append(task["task"])
            ids = [c["id"] for c in task["completions"]]
            self.rng.shuffle(ids)
            self.pause()
            path = f"/api/v1/annotation/tasks/{task['task']}/ranking"
            status, _, ms = self.call(conn, "POST", path, {"ranking": ids})
            self.submit_ms.append(ms)
            if status == 201:
                self.submitted += 1
            else:
                self.errors[f"submit {status}"] += 1
            self.pause()


def warm_up(port: int, token: str, workers: int) -> None:
    """Each gunicorn worker imports the URL conf, DRF and the schema of its views on its first request."""
    threads = []
    for _ in range(workers * 4):

        def hit():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/api/v1/me/", headers={"Authorization": f"Token {token}"})
            conn.getresponse().read()
            conn.close()

        threads.append(threading.Thread(target=hit))
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run_labelers(tokens, port, loops, think, seed) -> tuple[list[Labeler], float]:
    barrier = threading.Barrier(len(tokens))
    threads = [Labeler(n, t, port, loops, think, barrier, seed + i) for i, (n, t) in enumerate(sorted(tokens.items()))]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return threads, time.perf_counter() - started


def summarize(threads: list[Labeler], elapsed: float, think) -> dict:
    next_ms = [m for t in threads for m in t.next_ms]
    submit_ms = [m for t in threads for m in t.submit_ms]
    twice = sum(len(t.served) - len(set(t.served)) for t in threads)
    errors = sum((t.errors for t in threads), Counter())
    return {
        "think_s": list(think) if think else 0,
        "labelers": len({t.name for t in threads}),
        "claims": len(next_ms),
        "submissions": sum(t.submitted for t in threads),
        "elapsed_s": round(elapsed, 1),
        "requests_per_s": round((len(next_ms) + len(submit_ms)) / elapsed, 1),
        "next_p50_ms": round(percentile(next_ms, 50), 1),
        "next_p99_ms": round(percentile(next_ms, 99), 1),
        "submit_p50_ms": round(percentile(submit_ms, 50), 1),
        "submit_p99_ms": round(percentile(submit_ms, 99), 1),
        "served_twice_client_side": twice,
        "errors": dict(errors),
    }


def phase(tokens, port, loops, think, seed) -> dict:
    return summarize(*run_labelers(tokens, port, loops, think, seed), think)


def noop_phase(tokens, port, calls_each: int) -> dict:
    """Every labeler thread calls the no-op view `calls_each` times, no think time: DRF's own ceiling here."""
    barrier = threading.Barrier(len(tokens))
    counts, errors = [], Counter()

    def run(token):
        conn = connection(token, port)
        barrier.wait()
        done = 0
        for _ in range(calls_each):
            response, _ = request(conn, "GET", "/bench/noop", headers={"Authorization": f"Token {token}"})
            if response.status == 200:
                done += 1
            else:
                errors[response.status] += 1
        counts.append(done)

    threads = [threading.Thread(target=run, args=(token,)) for token in tokens.values()]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {
        "calls": sum(counts),
        "elapsed_s": round(elapsed, 3),
        "requests_per_s": round(sum(counts) / elapsed, 1),
        "errors": dict(errors),
    }


def audit(database_url: str) -> dict:
    import psycopg

    with psycopg.connect(database_url) as conn:
        over = conn.execute(
            "SELECT count(*) FROM (SELECT r.task_id FROM annotation_ranking r JOIN annotation_rankingtask t "
            "ON t.id = r.task_id GROUP BY r.task_id, t.required HAVING count(*) > t.required) x"
        ).fetchone()[0]
        double = conn.execute(
            "SELECT count(*) FROM (SELECT task_id, labeler_id FROM annotation_assignment "
            "GROUP BY task_id, labeler_id HAVING count(*) > 1) x"
        ).fetchone()[0]
        drift = conn.execute(
            "SELECT count(*) FROM annotation_rankingtask t WHERE t.rankings_count <> "
            "(SELECT count(*) FROM annotation_ranking r WHERE r.task_id = t.id)"
        ).fetchone()[0]
        rankings = conn.execute("SELECT count(*) FROM annotation_ranking").fetchone()[0]
    return {"tasks_over_quota": over, "double_assigned": double, "counter_drift": drift, "rankings_in_db": rankings}


class AutovacuumStandIn(threading.Thread):
    """What autovacuum does on a live database, for a server that runs with it off (this project's CI machines turn
    it off for test speed: /etc/postgresql/*/main/conf.d/90-ci.conf). Without it the run's own updates leave the task
    table several times its live size in dead rows and its statistics those of the setup, so every claim's scans
    read dead rows and the planner picks plans for a table that no longer exists — a database nobody runs. Every
    `every_s` seconds (autovacuum_naptime's default is 60; the task table passes autovacuum's thresholds within
    seconds here) it vacuums and analyzes the tables the run writes, on the server's CPU like autovacuum itself."""

    TABLES = "annotation_rankingtask, annotation_assignment, annotation_ranking, annotation_consensus"

    def __init__(self, database_url: str, every_s: float):
        super().__init__(daemon=True)
        self.database_url, self.every_s = database_url, every_s
        self.stop = threading.Event()
        self.runs = 0

    @staticmethod
    def needed(database_url: str) -> bool:
        import psycopg

        with psycopg.connect(database_url) as conn:
            return conn.execute("SHOW autovacuum").fetchone()[0] == "off"

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self.stop.wait(self.every_s):
                conn.execute(f"VACUUM (ANALYZE) {self.TABLES}")
                self.runs += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--labelers", type=int, default=50)
    parser.add_argument("--loops", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7, help="stress/no-op rounds (odd: the median is one round)")
    parser.add_argument("--stress-loops", type=int, default=10, help="claim+submit rounds per labeler per round")
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--port", type=int, default=8931)
    parser.add_argument(
        "--autovacuum-s", type=float, default=60, help="the stand-in's period when the server runs without autovacuum"
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "labelers.json")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    tokens = setup(args.database_url, args.labelers, args.tasks)
    server = start_server(args.database_url, args.port, args.workers, args.threads)
    vacuum = AutovacuumStandIn(args.database_url, args.autovacuum_s)
    if vacuum.needed(args.database_url):
        vacuum.start()
    rounds, stress_threads, stress_elapsed, noop_calls, noop_elapsed = [], [], 0.0, 0, 0.0
    try:
        warm_up(args.port, next(iter(tokens.values())), args.workers)
        human = phase(tokens, args.port, args.loops, (0.5, 1.5), seed=1)
        # Stress and no-op alternate in short rounds: this VM's speed drifts by tens of percent within a minute, and
        # each round's ratio compares the two at the same moment. The figure is the median round's ratio.
        for n in range(args.rounds):
            threads, elapsed = run_labelers(tokens, args.port, args.stress_loops, None, seed=1000 + 100 * n)
            # about as long as the stress phase (the no-op runs about twice as fast), so both see the same drift
            noop = noop_phase(tokens, args.port, calls_each=4 * args.stress_loops)
            stress = summarize(threads, elapsed, None)
            stress_threads += threads
            stress_elapsed += elapsed
            noop_calls += noop["calls"]
            noop_elapsed += noop["elapsed_s"]
            rounds.append(
                {
                    "stress_requests_per_s": stress["requests_per_s"],
                    "noop_requests_per_s": noop["requests_per_s"],
                    "ratio": round(stress["requests_per_s"] / noop["requests_per_s"], 3),
                    "errors": {**stress["errors"], **{f"noop {k}": v for k, v in noop["errors"].items()}},
                }
            )
    finally:
        vacuum.stop.set()
        for conn in _connections.values():
            conn.close()
        server.terminate()
        server.wait(timeout=30)
    stress = summarize(stress_threads, stress_elapsed, None)
    noop = {
        "calls": noop_calls,
        "elapsed_s": round(noop_elapsed, 1),
        "requests_per_s": round(noop_calls / noop_elapsed, 1),
    }
    checks = audit(args.database_url)
    submitted = human["submissions"] + stress["submissions"]
    checks["submissions_lost"] = submitted - checks["rankings_in_db"]
    result = {
        "machine": f"{os.cpu_count()} cores",
        "server": f"gunicorn gthread, {args.workers} workers x {args.threads} threads, PostgreSQL",
        "tasks": args.tasks,
        "overlap": 3,
        "autovacuum": (
            f"off on the server: the bench's stand-in vacuumed and analyzed every {args.autovacuum_s:g} s "
            f"({vacuum.runs} times)"
            if vacuum.ident is not None  # started
            else "the server's own"
        ),
        "phases": {"human_pace": human, "stress_no_think_time": stress, "noop_drf_baseline": noop},
        "rounds": rounds,
        "stress_ratio_to_noop_drf": sorted(r["ratio"] for r in rounds)[len(rounds) // 2],
        "stress_ratio_of_totals": round(stress["requests_per_s"] / noop["requests_per_s"], 3),
        "target_ratio": 0.5,
        "checks": checks,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    bad = {k: v for k, v in checks.items() if k != "rankings_in_db" and v}
    if bad or human["served_twice_client_side"] or stress["served_twice_client_side"]:
        raise SystemExit(f"correctness check failed: {bad}")
    print(
        f"p99 next {human['next_p99_ms']} ms / submit {human['submit_p99_ms']} ms at human pace (target <= 50 ms); "
        f"stress p99 next {stress['next_p99_ms']} ms at {stress['requests_per_s']} req/s"
    )


if __name__ == "__main__":
    main()
