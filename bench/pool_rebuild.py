"""How long a worker takes to load a project's instruction pool from PostgreSQL into the near-duplicate index.

A worker builds the index on its first check of a project (selfinstruct.pool.locked_pool): it reads every seed and
accepted instruction with a server-side cursor and builds the index once (token order fixed by frequency). Later
checks only take in rows committed since (high-water marks). This stores N accepted instructions (the same
synthetic pool as bench/dedup.py: real seed/eval texts, then seeded near-paraphrases) in a scratch database and
times, in the same run: reading the rows alone (the baseline: no index can load faster than the rows arrive), the
cold load through locked_pool (read + build), and an incremental sync of 1,000 rows committed afterwards.

    .venv/bin/python bench/pool_rebuild.py                 # 1,000,000 rows (about 6 minutes on 2 cores)
    .venv/bin/python bench/pool_rebuild.py --rows 100000
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from benchdb import fresh_database  # noqa: E402 - after the path is set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_pool")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "pool_rebuild.json")
    args = parser.parse_args()

    fresh_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from dedup import Paraphraser, make_pool, real_texts

    from llm.services import create_endpoint
    from projects.services import create_project
    from selfinstruct import pool as pool_module
    from selfinstruct.models import GeneratedInstruction, GenerationBatch, GenerationRequest
    from selfinstruct.services import ensure_builtin_templates, get_template, template_snapshot
    from selfinstruct.text import instruction_key
    from tests.helpers.pool import forget_pools  # the benchmark times a cold load, as the tests start one

    base = real_texts()
    texts = make_pool(args.rows + 1000, base, Paraphraser(base, seed=args.rows))
    unique: dict[str, str] = {}
    for text in texts:
        unique.setdefault(instruction_key(text), text)
    rows = list(unique.items())
    stored, later = rows[: len(rows) - 1000], rows[len(rows) - 1000 :]

    project = create_project(slug="bench-pool", name="Bench pool")
    endpoint = create_endpoint(name="bench", base_url="http://127.0.0.1:9/v1", model="none")
    ensure_builtin_templates()
    template = get_template(name="self-instruct")
    batch = GenerationBatch.objects.create(
        project=project,
        endpoint=endpoint,
        template=template,
        template_snapshot=template_snapshot(template),
        language="en",
        target=args.rows,
    )
    request = GenerationRequest.objects.create(batch=batch, lane=0, step=0, prompt="bench")

    def copy_rows(chunk):
        table = GeneratedInstruction._meta.db_table
        columns = (
            "project_id, batch_id, request_id, instruction, input, output, instruction_key, language, status, "
            "reason, most_similar, max_similarity, avg_similarity, instances_status, instance_attempts, created_at"
        )
        buffer = io.StringIO()
        for key, text in chunk:
            clean = text.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ").replace("\r", " ")
            buffer.write(
                f"{project.pk}\t{batch.pk}\t{request.pk}\t{clean}\t\t\t{key}\ten\taccepted\t\t[]\t0\t0\t\t0\tnow\n"
            )
        with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())

    started = time.perf_counter()
    for start in range(0, len(stored), 100_000):
        copy_rows(stored[start : start + 100_000])
    insert_s = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"stored {len(stored)} accepted instructions in {insert_s:.1f} s", flush=True)

    accepted = GeneratedInstruction.objects.filter(project=project, status="accepted").order_by("id")
    started = time.perf_counter()
    read = sum(1 for _ in accepted.values_list("id", "instruction", "instruction_key").iterator(chunk_size=5000))
    read_s = time.perf_counter() - started

    forget_pools()
    started = time.perf_counter()
    with pool_module.locked_pool(project.pk) as state:
        loaded = len(state.index)
    cold_s = time.perf_counter() - started
    memory_mb = state.index.memory_bytes() / 2**20

    copy_rows(later)
    started = time.perf_counter()
    with pool_module.locked_pool(project.pk) as state:
        synced = len(state.index) - loaded
    sync_s = time.perf_counter() - started

    result = {
        "rows": loaded,
        "read_rows_s": round(read_s, 2),
        "cold_load_s": round(cold_s, 2),
        "cold_load_vs_read": round(cold_s / read_s, 2),
        "index_mb": round(memory_mb, 1),
        "incremental_sync_rows": synced,
        "incremental_sync_ms": round(sync_s * 1000, 1),
        "read_counted": read,
    }
    print(json.dumps(result), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    connection.close()
    fresh_database(args.database_url)  # leave nothing behind


if __name__ == "__main__":
    main()
