"""The pool from the console: seed tasks imported from a file (every bad row listed, nothing half-imported),
browsed, searched and counted per language; generated instructions reviewed as cards (filters, one card redrawn in
place, bulk), only the project's own."""

import io

import pytest

from demo.teacher import default_seed_files
from selfinstruct.batches import start_batch
from selfinstruct.models import GeneratedInstruction, SeedTask
from selfinstruct.services import import_seed_file
from tests.helpers.generation import drive


def _upload(name: str, text: str):
    handle = io.BytesIO(text.encode())
    handle.name = name
    return handle


def test_seeds_are_imported_with_every_problem_listed_then_browsed_and_searched(client, cast, project):
    client.force_login(cast["project_admin"])
    bad = "\n".join(['{"instruction": "Fine row."}', '{"instruction": ""}', "{oops", '{"instruction": 3}'])
    page = client.post("/console/alpha/seeds/", {"file": _upload("s.jsonl", bad), "format": "auto"})
    text = page.content.decode()
    assert page.status_code == 400 and "3 problems in the file" in text and not SeedTask.objects.exists()
    for where in ("s.jsonl, line 2, field &#x27;instruction&#x27;", "s.jsonl, line 3: invalid JSON", "line 4"):
        assert where in text
    good = '{"instruction": "Name three rivers."}\n{"instruction": "写一首关于秋天的诗。"}\n'
    done = client.post("/console/alpha/seeds/", {"file": _upload("s.jsonl", good), "format": "auto"}, follow=True)
    text = done.content.decode()
    assert "Imported 2 seed tasks (en 1, zh 1)" in text and 'data-language="zh"' in text
    found = client.get("/console/alpha/seeds/", {"q": "rivers"}).content.decode()
    assert "Name three rivers." in found and "秋天" not in found
    assert "秋天" in client.get("/console/alpha/seeds/", {"language": "zh"}).content.decode()
    assert client.get("/console/alpha/seeds/", {"page": "x" * 50, "q": "y" * 5000}).status_code == 200  # bounded
    chat = {"conversations": [{"from": "human", "value": "Name a sea."}, {"from": "gpt", "value": "The Baltic."}]}
    chat["conversations"] += [{"from": "human", "value": "Another one."}, {"from": "gpt", "value": "The Aral."}]
    one = client.post(
        "/console/alpha/seeds/",
        {"file": _upload("chat.jsonl", __import__("json").dumps(chat)), "format": "auto"},
        follow=True,
    ).content.decode()
    assert "Imported 1 seed task (en 1); 0 duplicates skipped." in one  # singular where it is one
    shown = client.get("/console/alpha/seeds/", {"q": "Another"}).content.decode()
    assert "conversation: 1 earlier turn" in shown and "The Baltic." in shown and "The Aral." in shown
    client.force_login(cast["other_admin"])
    assert "rivers" not in client.get("/console/beta/seeds/").content.decode()
    client.force_login(cast["labeler"])
    assert client.get("/console/alpha/seeds/").status_code == 404


@pytest.mark.long(20)
def test_generated_instructions_are_reviewed_as_cards(client, cast, project, endpoint):
    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    batch = drive(start_batch(project=project, endpoint=endpoint, template_name="self-instruct", target=6, seed=3))
    client.force_login(cast["project_admin"])
    batch_page = client.get(f"/console/alpha/batches/{batch.pk}/").content.decode()
    assert 'id="timeline-data"' in batch_page and f"/console/alpha/instructions/?batch={batch.pk}" in batch_page
    from selfinstruct.selectors import batch_timeline

    timeline = batch_timeline(batch=batch)
    assert timeline["accepted"][-1][1] == GeneratedInstruction.objects.filter(batch=batch, status="accepted").count()
    page = client.get("/console/alpha/instructions/", {"status": "accepted", "batch": str(batch.pk)})
    text = page.content.decode()
    accepted = list(GeneratedInstruction.objects.filter(status="accepted").order_by("-id"))
    assert page.status_code == 200 and text.count('class="card review-card') == len(accepted) >= 6
    row = accepted[0]
    assert f'id="card-{row.pk}"' in text and f"ROUGE-L {row.max_similarity:.2f}" in text
    assert str(row.max_similarity) not in text or len(str(row.max_similarity)) <= 4  # never 0.7567567567567567
    assert client.get("/console/alpha/instructions/", {"reason": "no-such"}).status_code == 400  # named filter
    one = client.post(
        "/console/alpha/instructions/decide", {"ids": str(row.pk), "decision": "reject"}, HTTP_HX_REQUEST="true"
    )
    card = one.content.decode()
    assert card.startswith("<article") and 'data-status="rejected"' in card and "Rejected 1." in card
    row.refresh_from_db()
    assert row.status == "rejected" and row.reason == "reviewer" and row.reviewed_by == cast["project_admin"]
    ids = [str(r.pk) for r in accepted[1:3]]
    bulk = client.post(
        "/console/alpha/instructions/decide", {"ids": ids, "decision": "reject", "back": "status=accepted&evil=1"}
    )
    assert bulk.status_code == 302 and bulk["Location"] == "/console/alpha/instructions/?status=accepted"
    assert GeneratedInstruction.objects.filter(pk__in=ids, status="rejected").count() == 2
    back = client.post("/console/alpha/instructions/decide", {"ids": ids, "decision": "accept"}, follow=True)
    assert "Accepted 2." in back.content.decode()
    client.force_login(cast["other_admin"])  # beta's admin can neither see nor decide alpha's rows
    assert client.get("/console/beta/instructions/").content.decode().count("review-card") == 0
    client.post("/console/beta/instructions/decide", {"ids": [str(row.pk)], "decision": "accept"})
    row.refresh_from_db()
    assert row.status == "rejected"
