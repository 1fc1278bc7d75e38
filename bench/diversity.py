"""Two pools of the same size from the same seeds with the demo teacher: one plain (Self-Instruct), one with the
quality levers (half Self-Instruct with task-type quotas, half Evol-Instruct evolving the pool), side by side.

Reports for each pool: distinct root verbs and verb–object pairs (every accepted instruction tagged by the same
tagger, llm/tagging.py, here the demo teacher's tagging mode), the task-type entropy in bits, distinct-1/2, the mean
ROUGE-L of each instruction to its nearest neighbour in the final pool (exact, selfinstruct/neardup.py), and the
length spread (mean and standard deviation in tokens). The demo teacher is a phrase grammar, not a language model:
these figures show what the machinery does to a pool, not what a real teacher would write.

Runs in-process on the embedded default (SQLite in a temporary DATA_DIR), driving the batches step by step.
Writes bench/results/diversity.json.

    .venv/bin/python bench/diversity.py            # about a minute on 2 cores
    .venv/bin/python bench/diversity.py --size 200
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="idp-bench-diversity-")
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

QUOTA_TYPES = ("brainstorming", "open_qa", "rewrite", "generation", "classification", "code", "summarization")


def tag_all(project, endpoint) -> None:
    """Tag every accepted instruction not tagged yet, with the same tagger the rating run uses."""
    from llm.tagging import TaggingError, tag
    from selfinstruct.models import GeneratedInstruction
    from selfinstruct.services import store_task_tags
    from selfinstruct.taxonomy import taxonomy_for

    tags, types = {}, taxonomy_for(project).tagger_types()
    for row in GeneratedInstruction.objects.filter(project=project, status="accepted", task_type=""):
        try:
            found, _ = tag(endpoint, instruction=row.instruction, types=types, project_id=project.pk)
        except TaggingError:
            continue
        tags[row.pk] = (found.task_type, found.verb, found.object)
    store_task_tags(tags=tags)


def figures(project) -> dict:
    from selfinstruct.diversity import diversity_report
    from selfinstruct.models import GeneratedInstruction
    from selfinstruct.neardup import NearDuplicateIndex
    from selfinstruct.similarity import tokenize

    rows = list(
        GeneratedInstruction.objects.filter(project=project, status="accepted").values_list(
            "instruction", "task_type", "root_verb", "root_object", "evolution_depth"
        )
    )
    texts = [r[0] for r in rows]
    index = NearDuplicateIndex().build([(str(i), t) for i, t in enumerate(texts)])
    nearest = []
    for i, text in enumerate(texts):
        top = [score for item, score in index.most_similar(text, 2) if item != str(i)]
        nearest.append(top[0] if top else 0.0)
    lengths = [len(tokenize(t)) for t in texts]
    report = diversity_report(project=project)
    return {
        "instructions": len(rows),
        "distinct_verbs": len({r[2] for r in rows if r[2]}),
        "distinct_verb_objects": len({(r[2], r[3]) for r in rows if r[2]}),
        "task_types": {t["type"]: t["n"] for t in report["task_types"]},
        "type_entropy_bits": report["task_type_entropy"],
        "distinct_1": report["distinct_1"],
        "distinct_2": report["distinct_2"],
        "mean_nearest_rouge_l": round(statistics.fmean(nearest), 4) if nearest else None,
        "length_mean": round(statistics.fmean(lengths), 1) if lengths else None,
        "length_sd": round(statistics.pstdev(lengths), 1) if lengths else None,
        "evolved": sum(1 for r in rows if r[4]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=120, help="accepted instructions per pool")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "diversity.json")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)

    from demo.teacher import default_seed_files, make_server
    from llm.services import create_endpoint
    from projects.services import create_project
    from selfinstruct.batches import start_batch
    from selfinstruct.models import GeneratedInstruction
    from selfinstruct.services import ensure_builtin_templates, import_seed_file
    from tests.helpers.generation import drive  # the same in-process driver the generation tests use

    server = make_server("127.0.0.1", 0, seed=7)
    server.start_in_thread()
    endpoint = create_endpoint(
        name="teach", base_url=server.url, model="demo-teacher", max_concurrency=4, max_retries=3
    )
    ensure_builtin_templates()
    results = {}
    started = time.monotonic()
    for name in ("plain", "levers"):
        project = create_project(slug=name, name=name)
        for path in default_seed_files():
            import_seed_file(project=project, path=path)
        if name == "plain":
            drive(
                start_batch(project=project, endpoint=endpoint, template_name="self-instruct", target=args.size),
                rounds=5000,
            )
        else:
            # half by Self-Instruct with every type capped at a third of that half (the demo teacher cannot be
            # steered, so the caps are what balance it), the rest by evolving the pool up to the same size
            half = args.size // 2
            quotas = dict.fromkeys(QUOTA_TYPES, max(1, half // 3))
            drive(
                start_batch(
                    project=project, endpoint=endpoint, template_name="self-instruct", target=half, type_quotas=quotas
                ),
                rounds=5000,
            )
            have = GeneratedInstruction.objects.filter(project=project, status="accepted").count()
            target = args.size - have
            drive(
                start_batch(project=project, endpoint=endpoint, template_name="evol-instruct", target=target),
                rounds=5000,
            )
        tag_all(project, endpoint)
        results[name] = figures(project)
        print(name, json.dumps(results[name], ensure_ascii=False), flush=True)
    server.shutdown()
    report = {
        "size": args.size,
        "teacher": "demo teacher (phrase grammar, not a language model)",
        "quota_types": list(QUOTA_TYPES),
        "seconds": round(time.monotonic() - started, 1),
        "pools": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
