"""Issue 35, defect 2: a preference export never holds a pair whose chosen and rejected answers are one text (up to
whitespace), also over tasks made before identical answers were merged; the lineage counts what was dropped, and
an answer merged from several sources lists them all in the row's source."""

import json

from annotation.claims import claim_next_ranking_task, submit_ranking
from annotation.models import Completion
from exports.files import local_rows
from exports.services import build_dataset_version, create_dataset_version
from selfinstruct.text import normalize_whitespace


def test_identical_pairs_are_dropped_and_counted(api_as, project, make_tasks, labelers):
    old, merged = make_tasks(2, k=3)
    a, b, _ = old.completion_ids  # an old task: two of its three items are one answer
    Completion.objects.filter(pk=b).update(text=" " + Completion.objects.get(pk=a).text + "\n")
    kept = merged.completion_ids[0]  # a new task: a third source gave its first answer too (merged, not shown)
    Completion.objects.create(prompt=merged.prompt, text="dup", model="m9", origin_key="t:9", same_as_id=kept)
    (user,) = labelers(1)
    for _ in range(2):
        task = claim_next_ranking_task(project=project, labeler=user).task
        submit_ranking(task=task, labeler=user, ranking=list(task.completion_ids))
    version = create_dataset_version(project=project, kind="preference")
    build_dataset_version(version_id=version.pk)
    version.refresh_from_db()
    rows = [json.loads(line) for line in local_rows(version).read_text(encoding="utf-8").splitlines()]
    assert version.row_count == 2 + 3 and len(rows) == 5  # C(3,2) pairs each, less the old task's identical one
    assert all(normalize_whitespace(r["chosen"]) != normalize_whitespace(r["rejected"]) for r in rows)
    assert version.lineage["dropped"] == {"identical_pair": 1} and "m9" in version.lineage["models"]
    sides = [r["source"].get("chosen_also_from") or r["source"].get("rejected_also_from") for r in rows]
    assert sides.count([{"model": "m9", "endpoint": ""}]) == 2  # the merged answer's two pairs name its sources
    detail = api_as("consumer").get(f"/api/v1/datasets/{version.pk}/").json()
    assert detail["lineage"]["dropped"]["identical_pair"] == 1
