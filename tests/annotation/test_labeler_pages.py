"""The labeler's pages (server-rendered): safe rendering of hostile output, submit/skip/undo by form, CSRF,
English and Simplified Chinese, and the project admin's dashboard."""

import json
import re

import pytest
from django.test import Client

from annotation.models import Completion, Ranking
from projects.services import add_member
from tests.helpers.labeling import start_ranking

HOSTILE = [
    "<script>alert('x')</script>",
    "[click](javascript:alert(1))",
    '<img src=x onerror="alert(1)">',
    "![pixel](https://tracker.example/p.png)",
    '<a href="#" onclick="steal()">hi</a> **bold** and `code`',
]


def parse_elements(html: str) -> list[tuple[str, list[tuple[str, str]]]]:
    from html.parser import HTMLParser

    found = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, [(a, v or "") for a, v in attrs]))

    Collector().feed(html)
    return found


@pytest.fixture
def labeler_client(cast):
    client = Client()
    client.force_login(cast["labeler"])
    return client


def test_rank_page_renders_markdown_safely(labeler_client, project, make_tasks):
    (task,) = make_tasks(1, k=len(HOSTILE))
    for completion, text in zip(Completion.objects.filter(pk__in=task.completion_ids), HOSTILE, strict=True):
        completion.text = text
        completion.save()
    html = start_ranking(labeler_client).content.decode()
    body = html.split('id="ranking"', 1)[1].split("</ol>", 1)[0]
    elements = parse_elements(body)
    assert not [tag for tag, _ in elements if tag in ("script", "img", "iframe", "object", "style")]
    assert not [(t, a) for t, attrs in elements for a, v in attrs if a.startswith("on")], (
        "event handler reached the page"
    )
    hrefs = [v for _, attrs in elements for a, v in attrs if a == "href"]
    assert hrefs == [] and "pixel" in body  # no javascript: link survives; images become their alt text
    assert "&lt;script&gt;" in body and "<strong>bold</strong>" in body and "<code>code</code>" in body


def test_submit_skip_and_undo_by_form(labeler_client, project, make_tasks):
    make_tasks(3)
    page = start_ranking(labeler_client).content.decode()
    task_id = int(re.search(r'data-task="(\d+)"', page).group(1))
    ids = [int(x) for x in re.findall(r'data-id="(\d+)"', page)]
    heartbeat = re.search(r'data-heartbeat-url="([^"]+)"', page).group(1)  # the page's script renews the lease here
    assert heartbeat == f"/api/v1/projects/alpha/annotation/tasks/{task_id}/heartbeat"
    assert labeler_client.post(heartbeat).json() == {"ok": True}
    response = labeler_client.post(
        f"/label/alpha/tasks/{task_id}/submit", {"ranking": json.dumps(ids[::-1]), "time_spent_ms": "3000"}
    )
    assert response.status_code == 303
    ranking = Ranking.objects.get(task_id=task_id)
    assert ranking.ranking == [[i] for i in ids[::-1]] and ranking.time_spent_ms == 3000
    after = labeler_client.get("/label/alpha/").content.decode()
    assert 'id="undo-form"' in after and f"Task {task_id} submitted" in after
    next_id = int(re.search(r'data-task="(\d+)"', after).group(1))
    assert labeler_client.post(f"/label/alpha/tasks/{next_id}/skip").status_code == 303
    labeler_client.post("/label/alpha/undo")
    assert not Ranking.objects.filter(task_id=task_id).exists()
    again = labeler_client.get("/label/alpha/").content.decode()
    assert f'data-task="{task_id}"' in again  # the undone task is served again


def test_flag_without_ranking_and_bad_ranking_message(labeler_client, project, make_tasks):
    make_tasks(1)
    page = start_ranking(labeler_client).content.decode()
    task_id = int(re.search(r'data-task="(\d+)"', page).group(1))
    bad = labeler_client.post(f"/label/alpha/tasks/{task_id}/submit", {"ranking": "[1]"}, follow=True)
    assert "ranking: ranking" in bad.content.decode() and not Ranking.objects.exists()
    labeler_client.post(f"/label/alpha/tasks/{task_id}/submit", {"flag": "bad_prompt", "comment": "unclear"})
    assert Ranking.objects.get().flag == "bad_prompt"


def test_forms_need_a_csrf_token(cast, project, make_tasks):
    (task,) = make_tasks(1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast["labeler"])
    client.get("/label/alpha/")
    assert client.post("/label/alpha/").status_code == 403  # the Start button's claim needs the token too
    response = client.post(f"/label/alpha/tasks/{task.pk}/submit", {"ranking": json.dumps(task.completion_ids)})
    assert response.status_code == 403 and not Ranking.objects.exists()


def test_pages_are_in_chinese_for_chinese_browsers(labeler_client, project, make_tasks):
    make_tasks(1)
    page = start_ranking(labeler_client, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in page and "提交" in page and "跳过" in page and "无法排序" in page
    english = labeler_client.get("/label/alpha/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert "Submit" in english and "提交" not in english


def test_outsiders_get_404_and_only_project_admins_see_the_dashboard(cast, project, make_tasks):
    (task,) = make_tasks(1)
    other = Client()
    other.force_login(cast["other_labeler"])
    assert other.get("/label/alpha/").status_code == 404
    assert other.post(f"/label/alpha/tasks/{task.pk}/submit", {"ranking": "[]"}).status_code == 404
    lab = Client()
    lab.force_login(cast["labeler"])
    assert lab.get("/label/alpha/dashboard/").status_code == 404
    add_member(project=project, user=cast["labeler"], role="admin")
    page = lab.get("/label/alpha/dashboard/").content.decode()
    assert 'id="ranking-stats"' in page and "Kendall" in page
    if 'id="throughput"' in page:  # the chart's hours axis starts at 0, never below (one bucket alone centred it)
        assert page.count('data-x-min="0"') == 4  # with the two labeler-quality charts (issue 37)
    assert Client().get("/label/alpha/").status_code == 302  # anonymous → login


def test_prompts_keep_their_whitespace_task_lists_render_and_identical_answers_are_marked(
    labeler_client, project, make_tasks
):
    (task,) = make_tasks(1, k=2)
    task.prompt.instruction = "Fix this:\n    def f():\n        return 1"
    task.prompt.input = "  indented\n\tand tabbed"
    task.prompt.save()
    first, second = Completion.objects.filter(pk__in=task.completion_ids).order_by("pk")
    first.text = second.text = "Steps:\n\n- [x] read it\n- [ ] fix   it"
    first.save()
    second.save()
    html = start_ranking(labeler_client).content.decode()
    assert "    def f():\n        return 1" in html and "  indented\n\tand tabbed" in html  # shown as written
    assert 'class="ranking pair"' in html  # K=2: side by side
    boxes = [sorted(attrs) for tag, attrs in parse_elements(html) if tag == "input" and ("type", "checkbox") in attrs]
    assert sorted(map(len, boxes)) == [2, 2, 3, 3] and all(("disabled", "disabled") in b for b in boxes)  # 2 ticked
    assert 'data-identical="B"' in html and 'data-identical="A"' in html
    assert html.count('class="move-up link"') == 2 and html.count('class="move-down link"') == 2
