"""What the review stage costs per request: the reviewer's next task and decision, against a no-op DRF request in the
same run (issue 37: next/submit p99 within 3× the no-op's p99).

Stores tasks of K=4 answers, each ranked by three labelers (through the claim and submit services, so consensus and
agreement are as live), with review policy `sample` at 1.0 (every task queued). Then, in one process (scratch
SQLite in a temporary DATA_DIR, or DATABASE_URL when given), `--calls` rounds of: the review page's next task
(GET /label/bench/review/), its decision (POST …/decide: accept, 303), the API's next task
(GET /api/v1/projects/bench/review/next, token) and its decision (POST …/accept), and the no-op (GET /bench/noop,
token: authentication and a JSON answer, nothing else). Interleaved, so a drift in the machine's speed falls on
all alike. Writes bench/results/review_pages.json.

    .venv/bin/python bench/review_pages.py              # about a minute on 2 cores
    .venv/bin/python bench/review_pages.py --calls 100
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]
os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="idp-bench-review-")
os.environ.pop("REDIS_URL", None)
os.environ["DJANGO_SETTINGS_MODULE"] = "noop_settings"  # the platform's settings plus GET /bench/noop

import django  # noqa: E402

django.setup()

TARGET = 3.0  # p99 of a review call ≤ 3 × the no-op's p99


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def setup(tasks: int):
    from django.core.management import call_command

    from annotation.claims import claim_next_ranking_task, submit_ranking
    from annotation.models import Completion, Prompt
    from annotation.services import create_ranking_task, prompt_text_key, update_ranking_config
    from projects.services import create_project, create_user, issue_token

    call_command("migrate", verbosity=0)
    project = create_project(slug="bench", name="Bench")
    update_ranking_config(project=project, overlap=3, completions_per_prompt=4)
    for i in range(tasks):
        text = f"Bench prompt {i}: explain the idea in two sentences."
        prompt = Prompt.objects.create(
            project=project, source="imported", instruction=text, text_key=prompt_text_key(text, ""), language="en"
        )
        ids = [
            Completion.objects.create(
                prompt=prompt, text=f"Answer {j} to prompt {i}. " * 20, model=f"m{j}", origin_key=f"bench:{j}"
            ).pk
            for j in range(4)
        ]
        create_ranking_task(prompt=prompt, origin="bench", completion_ids=ids, required=3)
    for n in range(3):
        labeler, _, _ = create_user(username=f"labeler{n}", role="labeler", project=project)
        while (held := claim_next_ranking_task(project=project, labeler=labeler)) is not None:
            ids = list(held.task.completion_ids)
            ranking = ids if n != 2 else [ids[1], ids[0], *ids[2:]]  # one labeler disagrees on a pair
            submit_ranking(task=held.task, labeler=labeler, ranking=ranking)
    update_ranking_config(project=project, review_policy="sample", review_sample_rate=1.0)
    reviewer, _, _ = create_user(username="rev", role="reviewer", project=project)
    return reviewer, issue_token(user=reviewer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "review_pages.json")
    args = parser.parse_args()
    from django.conf import settings
    from django.test import Client

    settings.ALLOWED_HOSTS = ["testserver"]
    reviewer, token = setup(2 * args.calls + 10)
    page, api = Client(), Client(HTTP_AUTHORIZATION=f"Token {token}")
    page.force_login(reviewer)
    base = "/api/v1/projects/bench/review"
    for _ in range(3):  # warm the process: imports, URL resolving, templates, the schema of nothing
        page.get("/label/bench/review/")
        api.get(f"{base}/next")
        api.get("/bench/noop")
    times: dict[str, list[float]] = {"page_next": [], "page_submit": [], "api_next": [], "api_submit": [], "noop": []}

    def timed(name, call, *args, **kwargs):
        started = time.perf_counter()
        response = call(*args, **kwargs)
        times[name].append((time.perf_counter() - started) * 1000)
        return response

    for _ in range(args.calls):
        shown = timed("page_next", page.get, "/label/bench/review/")
        task, version = re.search(r'data-task="(\d+)" data-version="(\d+)"', shown.content.decode()).groups()
        form = {"decision": "accept", "version": version}
        decided = timed("page_submit", page.post, f"/label/bench/review/tasks/{task}/decide", form)
        assert decided.status_code == 303 and decided["Location"] == "/label/bench/review/", decided
        body = timed("api_next", api.get, f"{base}/next").json()
        decision = {"version": body["review_version"]}
        accepted = timed("api_submit", api.post, f"{base}/tasks/{body['task']}/accept", decision, "application/json")
        assert accepted.status_code == 200, accepted.content
        assert timed("noop", api.get, "/bench/noop").status_code == 200
    noop_p99 = percentile(times["noop"], 99)
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}",
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "calls": args.calls,
        "target_ratio": TARGET,
    }
    for name, values in times.items():
        p99 = percentile(values, 99)
        result[name] = {"p50_ms": round(percentile(values, 50), 2), "p99_ms": round(p99, 2)}
        if name != "noop":
            result[name] |= {"p99_ratio_to_noop": round(p99 / noop_p99, 2), "met": p99 / noop_p99 <= TARGET}
        print(name, json.dumps(result[name]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
