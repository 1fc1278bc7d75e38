"""What a page or API call that shows pool-wide numbers costs per request, at N accepted instructions.

Stores N accepted instructions in one running batch (scratch SQLite in a temporary DATA_DIR), then times, in the
same run: the batch page's polled fragment, the whole batch page and /api/v1/diversity, each first from an empty
cache (a full count: the baseline), then warm (the count cached by pool state; the timeline read incrementally).
Ratios are warm / first; targets: the polled fragment ≤ 0.2 × its first call, the page and diversity ≤ 0.25.
Writes bench/results/pool_pages.json.

    .venv/bin/python bench/pool_pages.py                # 100,000 rows (a few minutes on 2 cores)
    .venv/bin/python bench/pool_pages.py --rows 20000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="idp-bench-pool-pages-")
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

TARGETS = {"batch_live": 0.2, "batch_page": 0.25, "diversity": 0.25}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "pool_pages.json")
    args = parser.parse_args()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    from llm.services import create_endpoint
    from projects.services import create_project, create_user
    from selfinstruct.models import GeneratedInstruction, GenerationBatch, GenerationRequest
    from selfinstruct.services import ensure_builtin_templates, get_template, template_snapshot

    project = create_project(slug="bench", name="Bench")
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
        status="running",
    )
    request = GenerationRequest.objects.create(batch=batch, lane=0, step=0, prompt="bench")
    rng, words = random.Random(1), [f"w{i}" for i in range(5000)]
    GeneratedInstruction.objects.bulk_create(
        (
            GeneratedInstruction(
                project=project,
                batch=batch,
                request=request,
                instruction_key=f"k{i}",
                language="en",
                status="accepted",
                max_similarity=rng.random(),
                instruction=" ".join(rng.choice(words) for _ in range(rng.randint(5, 25))),
            )
            for i in range(args.rows)
        ),
        batch_size=5000,
    )
    user, _, _ = create_user(username="lead", role="project-admin", project=project, password="Bench-pass-12345")
    client = Client()
    client.force_login(user)
    # warm the process (imports, URL and template loading) on an empty batch, so the first call below is the count
    empty = GenerationBatch.objects.create(
        project=project, endpoint=endpoint, template=template, template_snapshot=template_snapshot(template), target=1
    )
    client.get(f"/console/bench/batches/{empty.pk}/live")
    client.get(f"/api/v1/diversity?project=bench&batch={empty.pk}")
    urls = {
        "batch_live": f"/console/bench/batches/{batch.pk}/live",
        "batch_page": f"/console/bench/batches/{batch.pk}/",
        "diversity": "/api/v1/diversity?project=bench",
    }
    result = {"rows": args.rows}
    from django.core.cache import cache

    for name, url in urls.items():
        cache.clear()  # each first call counts from scratch (the page and its fragment share the timeline)
        times = []
        for _ in range(1 + args.calls):
            started = time.perf_counter()
            assert client.get(url).status_code == 200, url
            times.append(time.perf_counter() - started)
        first, warm = times[0], statistics.median(times[1:])
        result[name] = {
            "first_ms": round(first * 1000, 1),
            "warm_ms": round(warm * 1000, 1),
            "ratio": round(warm / first, 3),
            "target": TARGETS[name],
            "met": warm / first <= TARGETS[name],
        }
        print(name, json.dumps(result[name]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
