"""Aspects, preference strength and rationale (annotation/aspects.py): a project's definitions, a submission's
answers through the API and the labeler page's form, and the settings through the console, the API and the CLI."""

import json
import re

import pytest
from django.core.management import CommandError, call_command

from annotation.aspects import (
    NO_ANSWERS,
    AspectError,
    Questions,
    answers_for_review,
    aspect_lines,
    clean_answers,
    clean_aspect_definitions,
    helpsteer2_aspects,
    parse_aspect_lines,
)
from annotation.models import Ranking
from annotation.services import get_ranking_config, update_ranking_config
from console.ranking_views import SETTINGS_FIELDS

TWO = [
    {"key": "helpfulness", "label": "Helpfulness", "label_zh": "有用性", "min": 0, "max": 4},
    {"key": "safety", "label": "Safety", "label_zh": "安全性", "min": 1, "max": 3},
]


@pytest.mark.parametrize(
    ("definitions", "said"),
    [
        ("helpfulness", "give a list"),
        ([{**TWO[0], "key": "Helpful"}], "key 'Helpful'"),
        ([{**TWO[0], "key": "x" * 33}], "lowercase"),
        ([{k: v for k, v in TWO[0].items() if k != "label_zh"}], "missing label_zh"),
        ([{**TWO[0], "label_zh": " "}], "label_zh"),
        ([{**TWO[0], "label": "x" * 101}], "1–100"),
        ([{**TWO[0], "min": 4, "max": 4}], "min < max"),
        ([{**TWO[0], "max": 11}], "≤ 10"),
        ([{**TWO[0], "max": 4.5}], "whole numbers"),
        ([{**TWO[0], "colour": "red"}], "unknown colour"),
        ([TWO[0], TWO[0]], "repeated: helpfulness"),
        ([{**TWO[0], "key": f"k{'_' * n}"} for n in range(11)], "at most 10"),
    ],
)
def test_bad_definitions_are_refused_naming_the_field(definitions, said):
    with pytest.raises(AspectError) as caught:
        clean_aspect_definitions(definitions)
    assert caught.value.field == "aspects" and said in str(caught.value)


def test_definitions_helpsteer2_and_the_console_text_form():
    assert [a["key"] for a in clean_aspect_definitions(helpsteer2_aspects())] == [
        "helpfulness",
        "correctness",
        "coherence",
        "complexity",
        "verbosity",
    ]
    assert all((a["min"], a["max"]) == (0, 4) and a["label_zh"] for a in helpsteer2_aspects())
    assert clean_aspect_definitions(None) == clean_aspect_definitions([]) == []
    assert parse_aspect_lines(aspect_lines(TWO)) == TWO
    assert parse_aspect_lines("\n  \n") == []
    with pytest.raises(AspectError, match="line 2: write key"):
        parse_aspect_lines("helpfulness | Helpfulness | 有用性 | 0-4\nsafety | Safety | 1-3")


def test_answers_must_fit_what_the_project_asks():
    asked = Questions(aspects=TWO, ask_strength=True, rationale="required")
    ids, groups = [11, 12], [[12], [11]]
    full = {
        "aspects": {"11": {"helpfulness": 1, "safety": 3}, "12": {"safety": 2, "helpfulness": 4}},
        "strengths": ["better"],
        "rationale": "  12 answers the question  ",
    }
    stored = clean_answers(questions=asked, completion_ids=ids, groups=groups, answers=full)
    assert stored == {
        "aspects": {"11": {"helpfulness": 1, "safety": 3}, "12": {"helpfulness": 4, "safety": 2}},
        "strengths": ["better"],
        "rationale": "12 answers the question",
    }
    wrong = [
        ({"aspects": {**full["aspects"], "11": {"helpfulness": 1}}}, "aspects", "missing safety"),
        ({"aspects": {**full["aspects"], "11": {"helpfulness": 5, "safety": 3}}}, "aspects", "from 0 to 4"),
        ({"aspects": {**full["aspects"], "11": {"helpfulness": True, "safety": 3}}}, "aspects", "whole number"),
        ({"aspects": {**full["aspects"], "99": {"helpfulness": 1}}}, "aspects", "not an answer"),
        ({"aspects": {"11": {"honesty": 1}}}, "aspects", "unknown aspect"),
        ({"strengths": ["better", "tie"]}, "strengths", "1 adjacent pairs"),
        ({"strengths": ["enormously"]}, "strengths", "much_better"),
        ({"rationale": " "}, "rationale", "requires"),
        ({"rationale": "x" * 5001}, "rationale", "at most 5000"),
    ]
    for change, field, said in wrong:
        with pytest.raises(AspectError) as caught:
            clean_answers(questions=asked, completion_ids=ids, groups=groups, answers={**full, **change})
        assert caught.value.field == field and said in caught.value.message, change
    # a flag needs none of it; nothing asked, nothing given: nothing to store; given what is not asked: refused
    flagged = clean_answers(questions=asked, completion_ids=ids, groups=groups, flag="harmful", answers={})
    assert flagged == NO_ANSWERS
    assert clean_answers(questions=Questions(aspects=[]), completion_ids=ids, groups=groups) == NO_ANSWERS
    for given in ({"aspects": full["aspects"]}, {"strengths": ["tie"]}, {"rationale": "why"}):
        with pytest.raises(AspectError, match="this project asks"):
            clean_answers(questions=Questions(aspects=[]), completion_ids=ids, groups=groups, answers=given)


def _ask_everything(project):
    update_ranking_config(project=project, aspects=TWO, ask_strength=True, rationale="optional")


def test_the_api_asks_and_stores_the_answers(api_as, project, make_tasks):
    make_tasks(1, k=3)
    _ask_everything(project)
    client = api_as("labeler")
    task = client.post("/api/v1/projects/alpha/annotation/next").json()
    assert task["questions"]["aspects"] == TWO and task["questions"]["ask_strength"] is True
    assert task["questions"]["rationale"] == "optional" and task["questions"]["strengths"][0] == "much_better"
    ids = [c["id"] for c in task["completions"]]
    url = f"/api/v1/projects/alpha/annotation/tasks/{task['task']}/ranking"
    plain = client.post(url, {"ranking": ids}, format="json")
    assert plain.status_code == 400 and plain.json()["detail"].startswith("aspects: ")
    ratings = {str(i): {"helpfulness": n, "safety": 1} for n, i in enumerate(ids)}
    too_many = client.post(url, {"ranking": ids, "aspects": ratings, "strengths": ["tie"] * 9}, format="json")
    assert too_many.status_code == 400 and "strengths" in too_many.json()["errors"]
    bad = client.post(url, {"ranking": ids, "aspects": ratings, "strengths": ["x", "y"]}, format="json")
    assert bad.json()["detail"].startswith("strengths.0: ") and "; strengths.1: " in bad.json()["detail"]
    number = client.post(url, {"ranking": ids, "aspects": ratings, "rationale": 5}, format="json")
    assert number.status_code == 400 and number.json()["detail"].startswith("rationale: ")
    body = {"ranking": ids, "aspects": ratings, "strengths": ["better", "tie"], "rationale": "A is right"}
    stored = client.post(url, body, format="json")
    assert stored.status_code == 201, stored.json()
    assert stored.json()["aspects"] == ratings and stored.json()["strengths"] == ["better", "tie"]
    row = Ranking.objects.get()
    assert (row.aspects, row.strengths, row.rationale) == (ratings, ["better", "tie"], "A is right")
    assert client.post(url, body, format="json").status_code == 200  # the same again: the stored one


def test_a_project_that_asks_nothing_claims_and_stores_as_before(api_as, project, make_tasks):
    make_tasks(1, k=2)
    client = api_as("labeler")
    task = client.post("/api/v1/projects/alpha/annotation/next").json()
    assert task["questions"] == {
        "aspects": [],
        "ask_strength": False,
        "strengths": ["much_better", "better", "slightly_better", "tie"],
        "rationale": "off",
    }
    ids = [c["id"] for c in task["completions"]]
    url = f"/api/v1/projects/alpha/annotation/tasks/{task['task']}/ranking"
    refused = client.post(url, {"ranking": ids, "rationale": "because"}, format="json")
    assert refused.status_code == 400 and refused.json()["detail"].startswith("rationale: ")
    assert client.post(url, {"ranking": ids}, format="json").status_code == 201
    assert (Ranking.objects.get().aspects, Ranking.objects.get().strengths) == ({}, [])


def test_the_labeler_page_asks_and_its_form_stores(client, cast, project, make_tasks):
    make_tasks(1, k=2)
    client.force_login(cast["labeler"])
    client.post("/label/alpha/")
    assert b'class="aspect"' not in client.get("/label/alpha/").content  # nothing asked: the page as it was
    _ask_everything(project)
    page = client.get("/label/alpha/").content.decode()
    assert page.count('class="aspect"') == 4 and 'id="strength-row"' in page and 'id="rationale-input"' in page
    assert "<kbd>Ctrl</kbd>/<kbd>⌘</kbd>+<kbd>Enter</kbd>" in page  # the rationale box's submit key, said
    assert "安全性" in client.get("/label/alpha/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()  # its own labels
    task = int(re.search(r'data-task="(\d+)"', page)[1])
    ids = [int(x) for x in re.findall(r'<li class="completion card"[^>]*data-id="(\d+)"', page)]
    ratings = {str(i): {"helpfulness": 2, "safety": 3} for i in ids}
    post = {
        "ranking": json.dumps(ids),
        "aspects": json.dumps(ratings),
        "strengths": json.dumps(["much_better"]),
        "rationale": "clearer",
    }
    bad = client.post(f"/label/alpha/tasks/{task}/submit", {**post, "aspects": "{not json"}, follow=True)
    assert "aspects: " in bad.content.decode() and not Ranking.objects.exists()
    client.post(f"/label/alpha/tasks/{task}/submit", post)
    row = Ranking.objects.get()
    assert (row.aspects, row.strengths, row.rationale) == (ratings, ["much_better"], "clearer")


def test_settings_through_the_console_the_api_and_the_cli(client, api_as, cast, project, capsys):
    client.force_login(cast["project_admin"])
    url = "/console/alpha/ranking/settings"
    config = get_ranking_config(project=project)
    form = {name: getattr(config, name) for name in SETTINGS_FIELDS if getattr(config, name) is not False}
    form |= {"aspects": "", "rationale": "required", "ask_strength": "on"}
    bad = client.post(url, {**form, "aspects": "Helpful | Helpful | 有用 | 0-4"})
    assert bad.status_code == 400 and "line 1: key" in bad.content.decode()
    assert client.post(url, {**form, "use_helpsteer2": "on"}).status_code == 302
    config = get_ranking_config(project=type(project).objects.get(pk=project.pk))
    assert config.aspects == helpsteer2_aspects() and config.ask_strength and config.rationale == "required"
    assert "helpfulness | Helpfulness | 有用性 | 0-4" in client.get(url).content.decode()

    api = api_as("project_admin")
    assert api.get("/api/v1/projects/alpha/annotation/settings").json()["aspects"] == helpsteer2_aspects()
    refused = api.patch("/api/v1/projects/alpha/annotation/settings", {"aspects": [{"key": "a"}]}, format="json")
    assert refused.status_code == 400 and "aspects" in refused.json()["errors"]
    refused = api.patch("/api/v1/projects/alpha/annotation/settings", {"rationale": "always"}, format="json")
    assert refused.status_code == 400 and "rationale" in refused.json()["errors"]
    refused = api.patch("/api/v1/projects/alpha/annotation/settings", {"ask_strenght": True}, format="json")
    assert refused.status_code == 400 and "ask_strenght" in refused.json()["errors"]
    changed = api.patch("/api/v1/projects/alpha/annotation/settings", {"aspects": TWO}, format="json")
    assert changed.status_code == 200 and changed.json()["aspects"] == TWO and changed.json()["ask_strength"]
    assert api_as("labeler").get("/api/v1/projects/alpha/annotation/settings").status_code == 404

    call_command("ranking_settings", "--project", "alpha", "--aspects", "none", "--set", "ask_strength=false")
    shown = json.loads(capsys.readouterr().out)
    assert shown["aspects"] == [] and shown["ask_strength"] is False and shown["rationale"] == "required"
    with pytest.raises(CommandError, match="rationale"):
        call_command("ranking_settings", "--project", "alpha", "--set", "rationale=always")


def test_the_review_page_shows_scores_and_strengths_in_letters():
    ranking = {
        "order": [[12], [11, 13]],
        "aspects": {"11": {"helpfulness": 1, "safety": 2}, "12": {"helpfulness": 4, "safety": 3}},
        "strengths": ["much_better"],
    }
    shown = answers_for_review(ranking, {11: "A", 12: "B", 13: "C"}, TWO, "zh-hans")
    assert shown == {
        "scores": [("A", "有用性 1 · 安全性 2"), ("B", "有用性 4 · 安全性 3")],
        "strengths": shown["strengths"],
    }
    assert shown["strengths"].startswith("B ‹") and shown["strengths"].endswith("› A = C")
    assert answers_for_review({"order": [[11]]}, {11: "A"}, TWO, "en") == {"scores": [], "strengths": ""}
