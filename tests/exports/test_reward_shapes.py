"""Issue 37, point 5: a preference pair's margin comes from the labeler's preference strength where there is one
(a pair called a tie is no preference), the aspects shape has one column per aspect (the mean over labelers) and
the rationales, the disagreements shape has every labeler's ranking of each task under the agreement threshold,
and the lineage reports α, the consensus method and the threshold."""

import io
import json

import pyarrow.parquet as pq
from django.core.management import call_command

from annotation.claims import claim_next_ranking_task, submit_ranking
from annotation.models import Completion, Ranking, RankingConfig
from exports.files import local_rows
from exports.services import build_dataset_version, create_dataset_version, materialize
from exports.task_records import consensus_margin, pair_margin, strength_steps
from exports.task_shapes import task_rows

HELPFULNESS = {"key": "helpfulness", "label": "Helpfulness", "label_zh": "有用性", "min": 0, "max": 4}


def test_margin_is_the_summed_strength_between_two_places():
    ranking = [[1], [2], [3], [4]]
    steps = strength_steps(ranking, ["much_better", "tie", "slightly_better"])
    pos = {1: 0, 2: 1, 3: 2, 4: 3}
    assert steps == [3, 0, 1]
    assert [pair_margin(pos, steps, a, b) for a, b in ((1, 2), (1, 4), (2, 3), (3, 2))] == [3, 4, 0, 0]
    assert pair_margin(pos, steps, 4, 1) == -4
    assert strength_steps(ranking, ["better"]) is None and strength_steps(ranking, []) is None  # not one per step
    assert strength_steps([[1], [2]], ["huge"]) is None

    class R:  # two labelers with strengths (one the other way round) and one without
        def __init__(self, ranking, strengths):
            self.ranking, self.strengths = ranking, strengths

    raw = [R([[1], [2]], ["much_better"]), R([[2], [1]], ["slightly_better"]), R([[1], [2]], [])]
    assert consensus_margin(raw, 1, 2) == 1.0 and consensus_margin(raw, 2, 1) == 0.0  # (3 − 1) / 2; never below 0
    assert consensus_margin(raw[2:], 1, 2) is None


def test_task_shapes_from_records():
    record = {
        "prompt": "p",
        "task_id": 7,
        "completions": [{"id": 1, "text": "a", "model": "m"}, {"id": 2, "text": "b", "model": "m"}],
        "rankings": [
            {
                "labeler": "x",
                "ranking": [[1], [2]],
                "strengths": [],
                "rationale": "1 is right",
                "aspects": {"1": {"h": 4}},
            },
            {
                "labeler": "y",
                "ranking": [[2], [1]],
                "strengths": [],
                "rationale": "",
                "aspects": {"1": {"h": 1, "prompt": 2}},
            },
        ],
        "consensus": [[1, 2]],
        "agreement": 0.0,
        "disputed": True,
    }
    rows = list(task_rows([record], "aspects", aspect_keys=["h", "prompt", "never"]))
    assert rows == [
        {
            "prompt": "p",
            "response": "a",
            "h": 2.5,
            "aspect_prompt": 2.0,
            "never": None,
            "ratings": 2,
            "rationales": ["1 is right"],
        },
        {
            "prompt": "p",
            "response": "b",
            "h": None,
            "aspect_prompt": None,
            "never": None,
            "ratings": 0,
            "rationales": ["1 is right"],
        },
    ]
    (row,) = task_rows([record, {**record, "disputed": False}], "disagreements")
    assert row["task_id"] == 7 and [r["labeler"] for r in row["rankings"]] == ["x", "y"]
    assert row["completions"] == [{"id": 1, "text": "a"}, {"id": 2, "text": "b"}] and row["consensus"] == [[1, 2]]


def test_build_carries_strength_aspects_and_disagreements(api_as, project, make_tasks, labelers, tmp_path):
    calm, split = make_tasks(2, k=3, overlap=2)
    RankingConfig.objects.filter(project=project).update(aspects=[HELPFULNESS])
    first, second = labelers(2)
    for user in (first, second):
        while (assignment := claim_next_ranking_task(project=project, labeler=user)) is not None:
            task = assignment.task
            order = list(task.completion_ids)
            if user == second and task.pk == split.pk:
                order.reverse()  # the two labelers disagree on every pair of this task
            submit_ranking(task=task, labeler=user, ranking=order)
    a, b, c = calm.completion_ids
    Ranking.objects.filter(task=calm, labeler=first).update(
        strengths=["much_better", "tie"],  # a ≫ b, b ≈ c: (b, c) is no preference
        aspects={str(a): {"helpfulness": 4}, str(b): {"helpfulness": 2}},
        rationale="a answers it",
    )
    Ranking.objects.filter(task=calm, labeler=second).update(aspects={str(a): {"helpfulness": 2}})

    version = create_dataset_version(project=project, kind="preference", test_fraction=0.0)
    build_dataset_version(version_id=version.pk)
    version.refresh_from_db()
    rows = [json.loads(line) for line in local_rows(version).read_text(encoding="utf-8").splitlines()]
    by_first = [r for r in rows if r["source"]["labeler"] == first.username and r["source"]["task_id"] == calm.pk]
    mine = {(r["source"]["chosen_id"], r["source"]["rejected_id"]): r["margin"] for r in by_first}
    assert mine == {(a, b): 3.0, (a, c): 3.0}
    assert version.row_count == 11 and version.lineage["dropped"] == {"identical_pair": 0, "tie_strength": 1}
    lineage = version.lineage
    assert lineage["margin_from"] == {"strength": 2, "rank_distance": 9}
    assert lineage["consensus_method"] == "ranked_pairs" and lineage["disagreements"] == {"below": 0.5, "tasks": 1}
    assert lineage["aspects"]["helpfulness"]["ratings"] == 3 and "alpha" in lineage["aspects"]["helpfulness"]
    assert lineage["ranking_alpha"] is not None

    path, _ = materialize(version=version, shape="aspects", split="all", file_type="jsonl", compress=False)
    aspects = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(aspects) == 6 and set(aspects[0]) == {"prompt", "response", "helpfulness", "ratings", "rationales"}
    top = next(r for r in aspects if r["response"] == Completion.objects.get(pk=a).text)
    assert top["helpfulness"] == 3.0 and top["ratings"] == 2 and top["rationales"] == ["a answers it"]
    path, _ = materialize(version=version, shape="aspects", split="all", file_type="parquet", compress=False)
    assert pq.read_table(path).column("helpfulness").to_pylist().count(None) == 4

    path, _ = materialize(version=version, shape="disagreements", split="all", file_type="jsonl", compress=False)
    (disputed,) = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert disputed["task_id"] == split.pk and disputed["agreement"] == 0.0 and len(disputed["rankings"]) == 2
    path, _ = materialize(version=version, shape="disagreements", split="all", file_type="parquet", compress=False)
    assert pq.read_table(path).num_rows == 1

    out = tmp_path / "aspects.jsonl"  # the CLI writes the new formats too
    args = ["--project", project.slug, "--version", str(version.pk), "--format", "aspects", "--out", str(out)]
    call_command("export_dataset", *args, stdout=io.StringIO())
    assert len(out.read_text(encoding="utf-8").splitlines()) == 6
    consumer = api_as("consumer")
    got = consumer.get(f"/api/v1/datasets/{version.pk}/download?format=disagreements")
    assert got.status_code == 200 and json.loads(b"".join(got.streaming_content))["task_id"] == split.pk
