"""Quality guardrails (issue 37): a labeler under the project's minimum is paused with a message (both languages),
their claims are refused with it, and an admin reinstates them (API, page, CLI); a project without guardrails
pays no query for them."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from annotation import guardrails
from annotation.claims import claim_next_ranking_task, submit_ranking, submit_ranking_to
from annotation.models import LabelerStatus, RankingConfig
from annotation.services import AnnotationError, get_ranking_config, set_gold, update_ranking_config
from tests.helpers.openapi import SchemaCheckedClient

NEXT = "/api/v1/projects/alpha/annotation/next"


class AlwaysGold:
    @staticmethod
    def random():
        return 0.0


def _rank(project, user, *, reverse=False, rng=None):
    assignment = claim_next_ranking_task(project=project, labeler=user, **({"rng": rng} if rng else {}))
    assert assignment is not None
    order = list(assignment.task.completion_ids)[:: -1 if reverse else 1]
    if reverse:  # what the API calls: on PostgreSQL the fast path, which judges the labeler too
        submit_ranking_to(task_id=assignment.task_id, labeler=user, ranking=order, project=project)
    else:
        submit_ranking(task=assignment.task, labeler=user, ranking=order)


@pytest.fixture
def careless(project, make_tasks, labelers):
    """Two careful labelers and one who ranks every task backwards, on 12 tasks of overlap 3; a minimum
    reliability of 0.5. The careless one has ranked 10 (the last judgement paused them)."""
    make_tasks(12, overlap=3, min_reliability=0.5)
    careful, other, bad = labelers(3)
    for user in (careful, other):
        for _ in range(12):
            _rank(project, user)
    for _ in range(10):
        _rank(project, bad, reverse=True)
    return bad


def _client(user, language="en"):
    client = SchemaCheckedClient()
    client.force_authenticate(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    return client


def test_a_labeler_under_the_minimum_is_paused_and_refused_with_the_message(project, careless):
    status = LabelerStatus.objects.get(project=project, labeler=careless)
    assert status.paused and status.paused_at is not None
    english, chinese = status.reason.splitlines()
    assert "consensus is 0.00 over your last 10 rankings" in english and "0.50" in english
    assert "暂停" in chinese
    with pytest.raises(AnnotationError) as refused:
        claim_next_ranking_task(project=project, labeler=careless)
    assert refused.value.code == "forbidden" and str(refused.value) == english
    answer = _client(careless).post(NEXT)
    assert answer.status_code == 403 and answer.json()["detail"] == english
    answer = _client(careless, "zh-hans").post(NEXT)
    assert answer.status_code == 403 and answer.json()["detail"] == chinese
    page = Client()
    page.force_login(careless)
    start = page.get("/label/alpha/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()  # told before pressing Start
    assert 'id="paused-notice"' in start and "项目管理员可以恢复" in start and 'id="start-button"' not in start
    shown = page.post("/label/alpha/", follow=True, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "A project admin can reinstate you." in shown


def test_an_admin_reinstates_through_the_api_and_a_second_reinstatement_conflicts(project, cast, careless):
    url = f"/api/v1/projects/alpha/annotation/labelers/{careless.username}/reinstate"
    assert _client(cast["labeler"]).post(url).status_code == 404  # labelers see nothing of it
    answer = _client(cast["project_admin"]).post(url)
    assert answer.status_code == 200 and answer.json()["paused"] is False
    assert answer.json()["reinstated_by"] == "padmin"
    assert _client(cast["project_admin"]).post(url).status_code == 409  # not paused (anymore)
    assert (
        _client(cast["project_admin"]).post("/api/v1/projects/alpha/annotation/labelers/nobody/reinstate").status_code
        == 404
    )
    assert claim_next_ranking_task(project=project, labeler=careless) is not None  # judged afresh from now on
    listing = _client(cast["project_admin"]).get("/api/v1/projects/alpha/annotation/labelers").json()
    row = next(r for r in listing if r["labeler"] == careless.username)
    assert row["paused"] is False and row["consensus_agreement"] == 0.0 and row["n"] == 10


def test_the_minimums_are_ranking_settings_bounded_on_the_api(project, cast):
    client = _client(cast["project_admin"])
    bad = client.patch("/api/v1/projects/alpha/annotation/settings", {"min_gold_accuracy": 1.5}, format="json")
    assert bad.status_code == 400 and "min_gold_accuracy" in bad.json()["detail"]
    good = client.patch("/api/v1/projects/alpha/annotation/settings", {"min_reliability": 0.4}, format="json")
    assert good.status_code == 200 and guardrails.guarded(RankingConfig.objects.get(project=project))


def test_gold_accuracy_pauses_and_the_cli_reinstates_and_checks(project, make_tasks, labelers, cast):
    tasks = make_tasks(10, gold_rate=0.5)
    for task in tasks:
        set_gold(task=task, ranking=task.completion_ids)
    (user,) = labelers(1)
    for _ in range(10):
        _rank(project, user, reverse=True, rng=AlwaysGold)
    assert not LabelerStatus.objects.filter(labeler=user).exists()  # no minimum yet: nobody judged
    update_ranking_config(project=project, min_gold_accuracy=0.8)
    out = StringIO()
    call_command("labelers", project="alpha", check=True, stdout=out)
    assert f"paused {user.username}: You are paused" in out.getvalue() and "gold rankings is 0.00" in out.getvalue()
    call_command("labelers", project="alpha", reinstate=user.username, by="padmin", stdout=out)
    status = LabelerStatus.objects.get(labeler=user)
    assert not status.paused and status.reinstated_by == cast["project_admin"]
    out = StringIO()
    call_command("labelers", project="alpha", check=True, json=True, stdout=out)  # afresh: nothing new to judge
    rows = json.loads(out.getvalue().split("\n", 1)[1])
    assert [r["paused"] for r in rows if r["labeler"] == user.username] == [False]
    with pytest.raises(CommandError, match="not paused"):
        call_command("labelers", project="alpha", reinstate=user.username, stdout=out)


def test_a_project_without_guardrails_reads_nothing_for_them(project, labelers, django_assert_num_queries):
    (user,) = labelers(1)
    config = get_ranking_config(project=project)
    LabelerStatus.objects.create(project=project, labeler=user, paused=True, reason="old")
    with django_assert_num_queries(0):
        guardrails.refuse_if_paused(project=project, labeler=user, config=config)
        assert guardrails.after_submission(project=project, labeler=user, config=config) is None


@pytest.mark.parametrize(
    ("language", "words"), [("en", ("Labeler quality", "Krippendorff")), ("zh-hans", ("标注员质量", "克里彭多夫"))]
)
def test_the_quality_pages_show_alpha_and_reliability_in_both_languages(project, cast, careless, language, words):
    client = Client()
    client.force_login(cast["project_admin"])
    for url in ("/console/alpha/quality/", "/label/alpha/dashboard/", "/console/alpha/quality/live"):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert page.status_code == 200
        text = page.content.decode()
        assert 'id="labeler-quality"' in text and f'data-labeler="{careless.username}"' in text
        assert 'data-alpha="rankings"' in text and "reliability-data" in text
        if not url.endswith("live"):
            assert all(word in text for word in words) and 'hx-trigger="every 30s"' in text
    answer = client.post(f"/console/alpha/quality/labelers/{careless.username}/reinstate")
    assert answer.status_code == 302 and not LabelerStatus.objects.get(labeler=careless).paused
    assert client.post("/console/alpha/quality/", {"min_reliability": "2", "min_gold_accuracy": "0"}).status_code == 400


def test_saving_a_minimum_on_the_quality_page_judges_every_labeler_at_once(project, cast, make_tasks, labelers):
    make_tasks(12, overlap=3)  # no guardrail while they rank: nobody is judged
    careful, other, bad = labelers(3)
    for user, reverse in ((careful, False), (other, False), (bad, True)):
        for _ in range(10):
            _rank(project, user, reverse=reverse)
    assert not LabelerStatus.objects.filter(paused=True).exists()
    client = Client()
    client.force_login(cast["project_admin"])
    page = client.post("/console/alpha/quality/", {"min_reliability": "0.5", "min_gold_accuracy": "0"}, follow=True)
    assert list(LabelerStatus.objects.filter(paused=True).values_list("labeler", flat=True)) == [bad.pk]
    text = page.content.decode()
    assert "1 paused now" in text and "Labeler sees:" in text and 'id="guardrails-check"' in text
    assert client.post("/console/alpha/quality/check", follow=True).content.decode().count("0 paused now") == 1
    chinese = client.get("/console/alpha/quality/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "与共识的最低一致度" in chinese and "立即检查" in chinese and "标注员看到：" in chinese
    assert 'id="quality"' in client.get("/console/alpha/", HTTP_ACCEPT_LANGUAGE="en").content.decode()  # linked
