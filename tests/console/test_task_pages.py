"""The ranking dashboard for admins: throughput and agreement over time as chart data, why human–RM agreement is
empty, and task ids that open a task page with every ranking, the consensus and the reward model's order."""

import json
import re

from annotation.claims import claim_next_ranking_task, submit_ranking
from annotation.consensus import store_reward_scores
from annotation.models import Ranking
from tests.annotation.conftest import labelers, make_tasks  # noqa: F401 - shared fixtures


def _json(page: str, element_id: str):
    return json.loads(re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', page, re.S)[1])


def test_the_dashboard_charts_and_the_task_page(client, cast, project, make_tasks, labelers):  # noqa: F811
    (task,) = make_tasks(1, k=3, overlap=2)
    first, second = labelers(2)
    ids = list(task.completion_ids)
    for user, order in ((first, ids), (second, [ids[1], ids[0], ids[2]])):
        claim = claim_next_ranking_task(project=project, labeler=user)
        submit_ranking(task=claim.task, labeler=user, ranking=order)
    Ranking.objects.filter(labeler=second).update(comment="B reads better")
    client.force_login(cast["project_admin"])
    page = client.get("/label/alpha/dashboard/").content.decode()
    throughput = _json(page, "throughput-data")
    assert list(throughput.values()) == [[[0.0, 2.0]]]  # two rankings within the first hour
    assert list(_json(page, "agreement-data").values()) == [[[0.0, round(2 / 3, 4)]]]  # they agree on 2 of 3 pairs
    assert "No reward model has scored" in page
    store_reward_scores(job_id=7, scores=dict(zip(ids, [0.1, 0.5, 0.3], strict=True)))
    page = client.get("/label/alpha/dashboard/").content.decode()
    assert "A reward model scored 1 tasks, but no human has ranked one of them since" in page
    assert 'id="task-jump"' in page
    jump = client.get("/console/alpha/tasks/", {"task": str(task.pk)})
    assert jump["Location"] == f"/console/alpha/tasks/{task.pk}/"
    detail = client.get(jump["Location"]).content.decode()
    assert detail.count("data-labeler=") == 2
    assert "A &gt; B &gt; C" in detail and "B &gt; A &gt; C" in detail and "B reads better" in detail
    assert "B&gt;C&gt;A" in detail.replace(" ", "")  # the reward model's order: 0.5, 0.3, 0.1
    assert "RM 0.500" in detail and "job-7" in detail
    assert client.get("/console/alpha/tasks/", {"task": "x"}).status_code == 302  # back, with a message
    client.post(f"/console/alpha/tasks/{task.pk}/more")
    task.refresh_from_db()
    assert task.required == 3 and not task.is_complete
    client.post(f"/console/alpha/tasks/{task.pk}/gold")
    task.refresh_from_db()
    assert task.is_gold and task.gold_ranking  # the consensus is the known answer
    assert 'id="make-gold"' not in client.get(f"/console/alpha/tasks/{task.pk}/").content.decode()
    type(task).objects.filter(pk=task.pk).update(origin="run:1")  # where it came from, in words and linked
    detail = client.get(f"/console/alpha/tasks/{task.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert '<a href="/console/alpha/sampling/1/">采样运行 #1</a>' in detail and "run:1" not in detail
    client.force_login(cast["other_admin"])
    assert client.get(f"/console/beta/tasks/{task.pk}/").status_code == 404
