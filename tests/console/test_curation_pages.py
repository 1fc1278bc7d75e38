"""Curation from the console: an item's record (fields as a table, long texts folded, its history), edited there; bulk
actions on the seeds a search selects (or the ticked rows) after a confirmation that counts them; deletion."""

from selfinstruct.models import CurationEvent, GeneratedInstruction, SeedTask
from tests.selfinstruct.test_curation import MISLABELLED, add_instructions, batch, seed  # noqa: F401 - fixture


def test_an_item_is_previewed_edited_and_its_history_shown(client, cast, project, batch):  # noqa: F811
    wrong = seed(project, MISLABELLED)
    other = seed(project, "Print the date in JavaScript.")
    client.force_login(cast["project_admin"])
    url = f"/console/alpha/seeds/{wrong.pk}/"
    page = client.get(url).content.decode()
    assert 'id="record"' in page and MISLABELLED in page and 'id="no-history"' in page
    form = {"instruction": MISLABELLED, "input": "", "output": "console.log(new Date())", "language": "zh"}
    assert client.post(url, form).status_code == 302
    assert SeedTask.objects.get(pk=wrong.pk).language == "zh"
    page = client.get(url).content.decode()
    assert 'data-action="edit"' in page and "padmin" in page and "en → zh" in page
    listed = client.get("/console/alpha/seeds/").content.decode()
    assert "edited by padmin" in listed and f"/console/alpha/seeds/{wrong.pk}/" in listed
    clash = client.post(url, {**form, "instruction": other.instruction})  # another seed's text: refused, named
    assert clash.status_code == 400 and "already has this instruction" in clash.content.decode()
    # Bulk by search: a confirmation counts what changes; only the confirmed POST changes anything.
    bulk = {"q": "JavaScript", "action": "set_language:en"}
    confirm = client.post("/console/alpha/seeds/bulk", bulk).content.decode()
    assert 'id="bulk-confirm"' in confirm and "changes 1 of the 2 selected items" in confirm
    assert SeedTask.objects.get(pk=wrong.pk).language == "zh"
    done = client.post("/console/alpha/seeds/bulk", {**bulk, "confirm": "1"}, follow=True).content.decode()
    assert "1 of 2 changed." in done and SeedTask.objects.get(pk=wrong.pk).language == "en"
    ticked = client.post("/console/alpha/seeds/bulk", {"ids": [str(other.pk)], "action": "delete", "confirm": "1"})
    assert ticked.status_code == 302 and not SeedTask.objects.filter(pk=other.pk).exists()
    # A generated instruction: its record, re-labelled, then deleted from its page.
    (row,) = add_instructions(batch, ["Write a long story. " + "Once upon a time. " * 40])
    shown = client.get(f"/console/alpha/instructions/{row.pk}/").content.decode()
    assert '<details class="long">' in shown and f"/console/alpha/batches/{batch.pk}/" in shown
    listing = client.get("/console/alpha/instructions/bulk", {"status": "accepted"}).content.decode()
    assert 'id="bulk-count"' in listing and "1 item matches." in listing
    edit = {"instruction": row.instruction, "output": row.output, "language": "en", "status": "rejected"}
    client.post(f"/console/alpha/instructions/{row.pk}/", {**edit, "task_type": "generation"})
    assert GeneratedInstruction.objects.get(pk=row.pk).status == "rejected"
    assert CurationEvent.objects.get(object_id=row.pk, kind="instruction").changes["status"] == ["accepted", "rejected"]
    assert client.post(f"/console/alpha/instructions/{row.pk}/delete").status_code == 302
    assert not GeneratedInstruction.objects.filter(pk=row.pk).exists()
    client.force_login(cast["labeler"])
    assert client.get(url).status_code == 404
