"""Stream a 1M-pair preference dataset through the download API: rows/s, as a ratio to PostgreSQL's own
`COPY … TO STDOUT` of the same pairs, and the server's peak memory.

Builds, in a scratch DATA_DIR on a fresh PostgreSQL bench database (or SQLite with --sqlite), a project with
synthetic rankings of K=4 (6 pairs each) until the version holds `--pairs` pairs, builds the version with the real
build service, starts gunicorn on it and downloads `trl-preference` JSONL through `GET
/api/v1/datasets/{id}/download` with a consumer token — the first request materializes the representation, the
second is the steady-state stream — then a resumed download with Range. Reports rows/s and the peak RSS (VmHWM) of
the gunicorn worker. The baseline, measured in the same run on the same database: `COPY (SELECT prompt, chosen text,
rejected text FROM every ranked pair) TO STDOUT`, i.e. the fastest the database itself can hand out the same pairs
(read and counted, not kept). Targets: first download and steady-state stream each ≥ 0.5 × COPY. Writes
bench/results/export.json.

With --storage s3 the files go to a local s3rver (`make s3server`) instead of DATA_DIR, as on several machines:
the build uploads there, downloads stream from there through the web server; and, in the same run, the rows file's
upload and download rates to and from the store, against a copy of the same file on the local disk
(bench/results/export-s3.json).

    .venv/bin/python bench/export.py                 # 1,000,000 pairs (several minutes on 2 cores)
    .venv/bin/python bench/export.py --pairs 100000  # quicker
    .venv/bin/python bench/export.py --storage s3    # through the object store
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchdb import fresh_database

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/idp_bench_export"

# Every ranked pair (better group before worse group), with the texts a preference row carries.
PAIRS_SQL = """
SELECT p.instruction, better.text, worse.text
FROM annotation_ranking r
JOIN annotation_rankingtask t ON t.id = r.task_id
JOIN annotation_prompt p ON p.id = t.prompt_id
CROSS JOIN LATERAL jsonb_array_elements(r.ranking::jsonb) WITH ORDINALITY AS hi(grp, i)
CROSS JOIN LATERAL jsonb_array_elements(r.ranking::jsonb) WITH ORDINALITY AS lo(grp, j)
CROSS JOIN LATERAL jsonb_array_elements_text(hi.grp) AS a(id)
CROSS JOIN LATERAL jsonb_array_elements_text(lo.grp) AS b(id)
JOIN annotation_completion better ON better.id = a.id::bigint
JOIN annotation_completion worse ON worse.id = b.id::bigint
WHERE hi.i < lo.j
"""


def copy_baseline(database_url: str) -> tuple[int, float]:
    """(rows, seconds) of COPY (PAIRS_SQL) TO STDOUT, read in blocks and counted."""
    import psycopg

    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        started = time.perf_counter()
        rows = 0
        with cursor.copy(f"COPY ({PAIRS_SQL}) TO STDOUT") as copy:
            for block in copy:
                rows += bytes(block).count(b"\n")
        return rows, time.perf_counter() - started


SETUP = """
import json, random, sys
from django.utils import timezone
from annotation.models import Assignment, Completion, Prompt, Ranking, RankingTask
from annotation.services import prompt_text_key
from exports.services import build_dataset_version, create_dataset_version
from projects.services import create_project, create_user, issue_token
tasks_needed = {tasks}
project = create_project(slug="bench", name="Bench")
consumer, _, _ = create_user(username="consumer", role="consumer", project=project)
labeler, _, _ = create_user(username="labeler", role="labeler", project=project)
rng = random.Random(0)
words = "the a model answer explains clearly why each step matters and gives one short example".split()
now = timezone.now()
for start in range(0, tasks_needed, 2000):
    n = min(2000, tasks_needed - start)
    prompts = Prompt.objects.bulk_create([
        Prompt(project=project, source="imported",
               instruction=f"Prompt {{start + i}}: " + " ".join(rng.choices(words, k=12)),
               text_key=prompt_text_key(f"p{{start + i}}", ""), language="en") for i in range(n)])
    completions = Completion.objects.bulk_create([
        Completion(prompt=p, text=" ".join(rng.choices(words, k=60)), model=f"m{{j}}", origin_key=f"b:{{j}}")
        for p in prompts for j in range(4)])
    tasks = RankingTask.objects.bulk_create([
        RankingTask(project=project, prompt=p, origin="bench", required=1, rankings_count=1, fill=1,
                    is_complete=True, completion_ids=[c.pk for c in completions[4 * i: 4 * i + 4]])
        for i, p in enumerate(prompts)])
    assignments = Assignment.objects.bulk_create([
        Assignment(task=t, labeler=labeler, status="submitted", claimed_at=now, lease_expires_at=now) for t in tasks])
    Ranking.objects.bulk_create([
        Ranking(task=t, project_id=t.project_id, labeler=labeler, assignment=a,
                ranking=[[i] for i in rng.sample(t.completion_ids, 4)])
        for t, a in zip(tasks, assignments)])
version = create_dataset_version(project=project, kind="preference", test_fraction=0.0)
build_dataset_version(version_id=version.pk)
version.refresh_from_db()
print(json.dumps({{"version": version.pk, "rows": version.row_count, "status": version.status,
                  "token": issue_token(user=consumer)}}))
"""


STORAGE_RATES = """
import json, shutil, tempfile, time
from pathlib import Path
from core import storage
from exports.files import files_prefix
from exports.models import DatasetVersion
version = DatasetVersion.objects.get(pk={version})
key = files_prefix(version) + "/rows.jsonl"
folder = Path(tempfile.mkdtemp())
started = time.perf_counter(); storage.fetch_file(key, folder / "rows.jsonl"); down = time.perf_counter() - started
size = (folder / "rows.jsonl").stat().st_size
started = time.perf_counter(); storage.put_file(folder / "rows.jsonl", "bench/rows-copy.jsonl")
up = time.perf_counter() - started
started = time.perf_counter(); shutil.copyfile(folder / "rows.jsonl", folder / "local-copy.jsonl")
with open(folder / "local-copy.jsonl", "rb+") as handle: __import__("os").fsync(handle.fileno())
local = time.perf_counter() - started
storage.delete_prefix("bench"); shutil.rmtree(folder)
mb = size / 2**20
print(json.dumps({{"file_mb": round(mb, 1), "upload_mb_per_s": round(mb / up, 1),
                  "download_mb_per_s": round(mb / down, 1), "local_disk_copy_mb_per_s": round(mb / local, 1),
                  "upload_ratio_to_local_disk": round(local / up, 3),
                  "download_ratio_to_local_disk": round(local / down, 3)}}))
"""


def start_s3rver(folder: str, port: int) -> tuple[subprocess.Popen, dict]:
    binary = REPO / "node_modules" / ".bin" / "s3rver"
    if not binary.exists():
        raise SystemExit("s3rver is missing: make s3server (needs npm)")
    proc = subprocess.Popen(
        [str(binary), "-a", "127.0.0.1", "-p", str(port), "-d", folder, "--configure-bucket", "bench", "--silent"]
    )
    time.sleep(2)
    return proc, {
        "STORAGE_URL": f"s3://bench/export?endpoint_url=http://127.0.0.1:{port}&region=us-east-1&addressing_style=path",
        "AWS_ACCESS_KEY_ID": "S3RVER",
        "AWS_SECRET_ACCESS_KEY": "S3RVER",
    }


def peak_rss_mb(pids: list[int]) -> float:
    peak = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
    return round(peak / 1024, 1)


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def download(port: int, path: str, token: str, headers: dict | None = None) -> tuple[int, int, float, int]:
    """(status, bytes, seconds, rows) reading the body in 1 MB blocks without keeping it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Token {token}", **(headers or {})})
    response = conn.getresponse()
    size = rows = 0
    while block := response.read(1 << 20):
        size += len(block)
        rows += block.count(b"\n")
    elapsed = time.perf_counter() - started
    conn.close()
    return response.status, size, elapsed, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=8932)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "export.json")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--sqlite", action="store_true", help="the embedded default instead (no COPY baseline)")
    parser.add_argument("--storage", choices=["local", "s3"], default="local")
    args = parser.parse_args()
    if args.storage == "s3" and args.out == REPO / "bench" / "results" / "export.json":
        args.out = REPO / "bench" / "results" / "export-s3.json"
    tasks = -(-args.pairs // 6)
    data_dir = tempfile.mkdtemp(prefix="idp-bench-export-")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATA_DIR=data_dir, LOG_LEVEL="WARNING")
    s3rver = None
    if args.storage == "s3":
        s3rver, storage_env = start_s3rver(tempfile.mkdtemp(prefix="idp-bench-s3-"), args.port + 1)
        env.update(storage_env)
    if not args.sqlite:
        fresh_database(args.database_url)
        env["DATABASE_URL"] = args.database_url
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SETUP.format(tasks=tasks)],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    setup_s = time.perf_counter() - started
    info = json.loads(out.stdout.strip().splitlines()[-1])
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-b",
            f"127.0.0.1:{args.port}",
            "-w",
            "1",
            "--threads",
            "2",
            "-k",
            "gthread",
            "--timeout",
            "600",
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
    )
    try:
        time.sleep(3)
        path = f"/api/v1/datasets/{info['version']}/download?format=trl-preference&split=all"
        # the build wrote the default representation (all rows); the train split is written on first request
        first = download(args.port, path.replace("split=all", "split=train"), info["token"])
        second = download(args.port, path, info["token"])
        half = second[1] // 2
        resumed = download(args.port, path, info["token"], {"Range": f"bytes={half}-"})
        rss = peak_rss_mb(children(server.pid))
        rates = None
        if s3rver is not None:
            out = subprocess.run(
                [sys.executable, "manage.py", "shell", "-c", STORAGE_RATES.format(version=info["version"])],
                cwd=REPO,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            rates = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(timeout=30)
        if s3rver is not None:
            s3rver.terminate()
    copy_rows, copy_s = copy_baseline(args.database_url) if not args.sqlite else (0, 0.0)
    copy_rate = copy_rows / copy_s if copy_s else None

    def ratio(rate: float) -> float | None:
        return round(rate / copy_rate, 3) if copy_rate else None

    result = {
        "pairs": info["rows"],
        "setup_and_build_s": round(setup_s, 1),
        "first_download_train_split": {
            "status": first[0],
            "mb": round(first[1] / 2**20, 1),
            "s": round(first[2], 1),
            "rows_per_s": round(first[3] / first[2]),
        },
        "stream": {
            "status": second[0],
            "mb": round(second[1] / 2**20, 1),
            "s": round(second[2], 2),
            "rows_per_s": round(second[3] / second[2]),
        },
        "resume_from_half": {"status": resumed[0], "bytes": resumed[1], "expected": second[1] - half},
        "server_peak_rss_mb": rss,
        "database": "sqlite" if args.sqlite else "postgresql",
        "storage": "s3rver (S3 protocol, same machine)" if s3rver is not None else "local DATA_DIR",
        "storage_rates": rates,
        "copy_baseline": {"rows": copy_rows, "s": round(copy_s, 2), "rows_per_s": round(copy_rate or 0)},
        "first_download_ratio_to_copy": ratio(first[3] / first[2]),
        "stream_ratio_to_copy": ratio(second[3] / second[2]),
        "targets": {"rows_per_s": 50_000, "peak_rss_mb": 300, "ratio_to_copy": 0.5},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
