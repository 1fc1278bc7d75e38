"""Product pages read as a product (issue 35): a dataset version's records as field/value tables and its lineage
summarized, every download on the page, numbers in human formats, evaluation headers translated, a warning where a
figure rests on few items, and the overview's next steps as links."""

from django.template.loader import render_to_string
from django.utils import translation

from llm.services import create_endpoint
from tests.training.conftest import sft_version  # noqa: F401 - shared fixture
from training.models import EvaluationRun


def test_a_dataset_version_page_shows_records_as_tables_and_lineage_as_a_summary(client, cast, sft_version):  # noqa: F811
    version = sft_version
    seed_ids = version.lineage["seed_ids"]
    assert len(seed_ids) > 6  # enough for a summary
    version.lineage["dropped"] = {"identical_pair": 3}  # what a later build adds: shown as it comes
    version.filters["include_seeds"] = True
    version.save(update_fields=["lineage", "filters"])
    client.force_login(cast["project_admin"])
    page = client.get(f"/console/alpha/datasets/{version.pk}/").content.decode()
    assert 'class="grid record"' in page and 'data-field="instruction"' in page and 'data-field="source"' in page
    assert "{&#x27;" not in page and "[&#x27;" not in page and "{'" not in page  # no Python reprs
    shown = page.split('data-lineage="seed_ids"')[1].split("</tr>")[0]
    assert f"{len(seed_ids):,}: " in shown and shown.count(",") == 4 and f"… and {len(seed_ids) - 5} more" in shown
    assert 'data-lineage="dropped"' in page and "identical pair: 3" in page
    assert "Include seeds: yes" in page and "include seeds =" not in page  # filters by their names
    base = f"/api/v1/projects/alpha/datasets/{version.pk}/download?format=alpaca"
    for query in (
        "&amp;split=train&amp;type=parquet",
        "&amp;split=test&amp;type=jsonl&amp;gzip=1",
        "&amp;split=all&amp;type=jsonl",
    ):
        assert base + query in page
    chinese = client.get(f"/console/alpha/datasets/{version.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "种子任务编号" in chinese and "就绪" in chinese and "Seed task ids" not in chinese
    assert "包含种子任务: 是" in chinese


def test_nested_values_and_recent_times_read_as_words():
    from types import SimpleNamespace

    from django.utils import timezone

    from console.dataset_display import preview_records

    source = {
        "chosen_also_from": [{"endpoint": "demo-teacher", "model": "demo-teacher"}, {"endpoint": "", "model": "imp"}],
        "consensus": False,
        "task_id": 1,
        "scores": [[1, 2], {"a": [3]}],
    }
    row = {"id": 1, "split": "train", "prompt": "p", "chosen": "a", "rejected": "b", "margin": 1.0, "source": source}
    with translation.override("en"):
        fields = preview_records([row])[0]["fields"]
        shown = "".join(render_to_string("console/display_value.html", {"value": f["value"]}) for f in fields)
    assert "chosen also from: demo-teacher (endpoint demo-teacher), imp; consensus: no" in shown
    assert "{" not in shown and "[" not in shown and "&#x27;" not in shown  # no Python repr anywhere
    event = SimpleNamespace(action="edit", actor_name="ann", created_at=timezone.now())
    with translation.override("en"):
        assert "edited by ann, just now" in render_to_string("console/curation_change.html", {"event": event})
    with translation.override("zh-hans"):
        assert "ann 刚刚编辑" in render_to_string("console/curation_change.html", {"event": event})


def test_evaluation_figures_are_translated_formatted_and_flagged_when_few(client, cast, project):
    endpoint = create_endpoint(name="m", base_url="http://127.0.0.1:9/v1", model="m")
    row = {
        "judged": 3,
        "model_score": 7.0,
        "reference_score": 6.5,
        "relative_score": 1.0769230769,
        "wins": 2,
        "ties": 0,
        "losses": 1,
        "position_bias_rate": 0.0,
        "win_rate": 0.667,
        "win_rate_ci": [0.13, 0.88],
    }
    run = EvaluationRun.objects.create(
        project=project,
        model_endpoint=endpoint,
        judge_endpoint=endpoint,
        prompt_set="p.jsonl",
        status="succeeded",
        results={"categories": [{"category": "math", **row}], "overall": {**row, "judged": 40}},
    )
    client.force_login(cast["project_admin"])
    page = client.get(f"/console/alpha/evaluations/{run.pk}/").content.decode()
    assert "<td>7</td>" in page and "1.077" in page and "7.0" not in page and "0.13–0.88" in page
    assert 'data-small-sample="3"' in page and 'id="small-sample-warning"' in page  # math: 3 items
    assert page.count("data-small-sample") == 1  # overall: 40 items, no warning
    chinese = client.get(f"/console/alpha/evaluations/{run.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "胜率" in chinese and "总体" in chinese and "已成功" in chinese
    headers = chinese.split('id="evaluation-table"')[1].split("</thead>")[0]
    assert ">win_rate<" not in headers and ">model_score<" not in headers and ">模型得分<" in headers
    w = {
        "evaluation": run.pk,
        "opponent": "job-1",
        "win_rate": 0.667,
        "win_rate_ci": [0.13, 0.88],
        "wins": 2,
        "ties": 0,
        "losses": 1,
    }
    with translation.override("en"):
        shown = render_to_string("console/win_rate.html", {"w": w, "project": project})
    assert "Rests on only 3 prompts; the interval is wide." in shown and "0.67" in shown
    many = render_to_string("console/win_rate.html", {"w": {**w, "wins": 30}, "project": project})
    assert "Rests on only" not in many


def test_the_overview_links_each_next_step_to_its_page(client, cast):
    client.force_login(cast["project_admin"])
    page = client.get("/console/alpha/").content.decode()
    assert '<a href="/console/alpha/seeds/" data-next="seeds">Import seed tasks' in page


def test_ids_in_a_record_or_lineage_read_without_thousands_separators():
    """Ids are names, not quantities: 20445, never "20,445" (seen on PostgreSQL, where ids run high)."""
    from console.dataset_display import _value

    shown = _value([20445, 20446, 3], key="seed_ids")
    assert [item["text"] for item in shown["items"]] == ["20445", "20446", "3"]
    assert _value(12345, key="rows")["kind"] == "scalar"  # a count keeps its separators (|num)
