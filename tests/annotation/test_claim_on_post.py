"""Claims happen on POST only (issue 34): the labeler page's GET shows what is already held and writes nothing; the
Start button, submit, skip and undo claim inside their own POST; the API claims with POST /annotation/next, and its
GET claims only for API tokens (deprecated) — a signed-in browser's GET claims nothing."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from annotation.models import Assignment, RankingTask
from tests.helpers.labeling import start_ranking


@pytest.fixture
def labeler_client(cast):
    client = Client()
    client.force_login(cast["labeler"])
    return client


def _claims_state():
    """Every row a claim writes: the assignments (with their leases) and the tasks' claim counters."""
    return (
        list(Assignment.objects.order_by("pk").values()),
        list(RankingTask.objects.order_by("pk").values("pk", "active_count", "fill", "next_lease_expiry")),
    )


def test_the_labeler_page_get_claims_nothing_and_offers_a_start_button(labeler_client, project, make_tasks):
    make_tasks(2)
    before = _claims_state()
    first = labeler_client.get("/label/alpha/")
    labeler_client.get("/label/alpha/")
    assert _claims_state() == before and not Assignment.objects.exists()
    html = first.content.decode()
    assert 'id="ranking"' not in html
    form = re.search(r'<form method="post" action="/label/alpha/" id="start-form">.*?</form>', html, re.S)
    assert form and "csrfmiddlewaretoken" in form.group(0)
    assert re.search(r"<button[^>]*\bautofocus\b", form.group(0))  # keyboard-first: Enter starts
    home = labeler_client.get("/label/").content.decode()  # the projects list starts with a POST too
    assert '<form method="post" action="/label/alpha/"' in home and not Assignment.objects.exists()


def test_a_held_task_is_shown_by_get_without_renewing_its_lease(labeler_client, project, make_tasks):
    make_tasks(2)
    claimed = labeler_client.post("/label/alpha/")
    assert claimed.status_code == 303 and claimed["Location"] == "/label/alpha/"
    (assignment,) = Assignment.objects.all()
    before = _claims_state()
    for _ in range(2):
        html = labeler_client.get("/label/alpha/").content.decode()
        assert f'data-task="{assignment.task_id}"' in html
    assert _claims_state() == before  # the lease stays where the claim put it


def test_a_lapsed_lease_is_not_shown_but_the_start_button_takes_it_back(labeler_client, project, make_tasks):
    from datetime import timedelta

    from django.utils import timezone

    make_tasks(1)
    labeler_client.post("/label/alpha/")
    Assignment.objects.update(lease_expires_at=timezone.now() - timedelta(minutes=1))
    before = _claims_state()
    html = labeler_client.get("/label/alpha/").content.decode()
    assert 'id="start-form"' in html and 'id="ranking"' not in html and _claims_state() == before
    html = start_ranking(labeler_client).content.decode()
    (assignment,) = Assignment.objects.all()
    assert f'data-task="{assignment.task_id}"' in html and assignment.lease_expires_at > timezone.now()


def test_submit_skip_and_undo_claim_the_next_task_in_their_own_post(labeler_client, project, make_tasks):
    first, second, third = make_tasks(3)
    start_ranking(labeler_client)
    held = Assignment.objects.get(status="active")
    response = labeler_client.post(
        f"/label/alpha/tasks/{held.task_id}/submit", {"ranking": str(list(held.task.completion_ids))}
    )
    assert response.status_code == 303 and response["Location"] == "/label/alpha/"
    nxt = Assignment.objects.get(status="active")  # claimed by the submit itself, before any GET
    assert nxt.task_id != held.task_id
    response = labeler_client.post(f"/label/alpha/tasks/{nxt.task_id}/skip")
    assert response.status_code == 303
    after_skip = Assignment.objects.get(status="active")
    assert after_skip.task_id not in (held.task_id, nxt.task_id)
    response = labeler_client.post("/label/alpha/undo")
    assert response.status_code == 303
    html = labeler_client.get("/label/alpha/").content.decode()
    assert f'data-task="{held.task_id}"' in html  # the undone task comes first


def test_a_claim_that_finds_nothing_shows_all_done(labeler_client, cast, project, make_tasks, labelers):
    from annotation.claims import claim_next_ranking_task

    make_tasks(1)  # overlap 1: another labeler's live claim fills it
    (other,) = labelers(1)
    claim_next_ranking_task(project=project, labeler=other)
    html = labeler_client.get("/label/alpha/").content.decode()
    assert 'id="start-form"' in html  # a task is open: it may free up
    done = start_ranking(labeler_client).content.decode()
    assert 'id="all-done"' in done and not Assignment.objects.filter(labeler=cast["labeler"]).exists()


def test_the_labeler_page_answers_only_get_and_post(labeler_client, project, make_tasks):
    make_tasks(1)
    assert labeler_client.put("/label/alpha/").status_code == 405
    assert labeler_client.delete("/label/alpha/").status_code == 405
    assert not Assignment.objects.exists()


def test_the_api_claims_on_post_and_a_signed_in_get_claims_nothing(api_as, cast, project, make_tasks):
    make_tasks(1)
    session_like = api_as("labeler")  # signed in (not a token): a browser could be made to send this GET
    refused = session_like.get("/api/v1/annotation/next?project=alpha")
    assert refused.status_code == 405 and "POST" in refused.json()["detail"]
    assert not Assignment.objects.exists()
    claimed = session_like.post("/api/v1/annotation/next?project=alpha")
    assert claimed.status_code == 200 and Assignment.objects.get().task_id == claimed.json()["task"]
    again = session_like.post("/api/v1/annotation/next", {"project": "alpha"}, format="json")
    assert again.json()["task"] == claimed.json()["task"]  # the held task comes back
    assert api_as("other_labeler").post("/api/v1/annotation/next?project=alpha").status_code == 404
    assert api_as("other_labeler").get("/api/v1/annotation/next?project=alpha").status_code == 404


def test_a_token_get_still_claims_but_says_it_is_deprecated(cast, project, make_tasks):
    from projects.services import issue_token
    from tests.helpers.openapi import SchemaCheckedClient

    make_tasks(1)
    client = SchemaCheckedClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user=cast['labeler'])}")
    response = client.get("/api/v1/annotation/next?project=alpha")
    assert response.status_code == 200 and Assignment.objects.get().task_id == response.json()["task"]
    assert response["Deprecation"].startswith("@")
    assert response["Link"].startswith("</api/v1/projects/alpha/annotation/next>;") and "successor" in response["Link"]
    posted = client.post("/api/v1/projects/alpha/annotation/next")
    assert posted.status_code == 200 and "Deprecation" not in posted
    flat = client.post("/api/v1/annotation/next?project=alpha")  # the flat route itself is deprecated (issue 36)
    assert flat.status_code == 200 and flat["Deprecation"].startswith("@")
    assert flat["Link"] == '</api/v1/projects/alpha/annotation/next>; rel="successor-version"'


def test_the_schema_documents_the_post_and_deprecates_the_get():
    from tests.helpers.openapi import openapi_document

    operations = openapi_document()["paths"]["/api/v1/projects/{slug}/annotation/next"]
    assert {"200", "204", "400", "404"} <= set(operations["post"]["responses"])
    assert operations["get"].get("deprecated") is True and "405" in operations["get"]["responses"]
