"""Evol-Instruct batches against the demo teacher: children evolved from the pool with their lineage, the
elimination rules, answers from the second stage, and lineage in SFT versions (filterable by depth)."""

import json

import pytest
from django.db.models import Q

from core.lifecycle import RunStatus
from exports.files import local_rows
from exports.models import VersionStatus
from exports.services import DatasetError, build_dataset_version, create_dataset_version
from selfinstruct.batches import start_batch
from selfinstruct.evolution import (
    MAX_DEPTH,
    OPERATIONS,
    elimination_reason,
    parse_evolved,
    render_equality,
    render_evolution,
    says_equal,
)
from selfinstruct.filters import Reason
from selfinstruct.models import GeneratedInstruction, GenerationRequest, SeedTask
from tests.helpers.generation import assert_pool_is_clean, drive


@pytest.mark.parametrize("language", ["en", "zh"])
def test_an_evol_instruct_batch_evolves_pool_items_and_records_parent_depth_and_operation(seeded, endpoint, language):
    batch = drive(
        start_batch(project=seeded, endpoint=endpoint, template_name="evol-instruct", target=14, language=language),
        rounds=400,
    )
    assert batch.status == RunStatus.SUCCEEDED, (batch.stop_reason, batch.error)
    children = list(GeneratedInstruction.objects.filter(batch=batch, status="accepted"))
    assert len(children) >= 14 and assert_pool_is_clean(seeded.pk) == len(children)
    for child in children:
        assert child.evolution in OPERATIONS and 1 <= child.evolution_depth <= MAX_DEPTH
        if child.parent_seed_id:
            assert child.parent_instruction_id is None and child.evolution_depth == 1
            parent_text = child.parent_seed.instruction
        else:  # a child of an earlier child
            assert child.evolution_depth == child.parent_instruction.evolution_depth + 1
            parent_text = child.parent_instruction.instruction
        assert parent_text.rstrip("。.").lower() in child.instruction.lower()  # the demo teacher keeps the parent
        assert child.language == language
    # the request that made each child names its parent as its one demo, and asked the operation's wording
    request = GenerationRequest.objects.filter(batch=batch, kind="tasks").first()
    assert len(request.demo_seed_ids) + len(request.demo_instruction_ids) == 1
    assert "#New instruction#" in request.prompt or "#新指令#" in request.prompt
    # the teacher echoes some parents and apologizes for some: the elimination rules drop them with the reason
    reasons = set(GeneratedInstruction.objects.filter(batch=batch, status="rejected").values_list("reason", flat=True))
    assert reasons & {Reason.EVOL_NO_GAIN, Reason.EVOL_REFUSAL}
    # answers come from the second stage, as for Self-Instruct
    assert all(child.instances_status in ("done", "failed") for child in children)


def _built(project, **kw):
    version = create_dataset_version(project=project, kind="sft", **kw)
    build_dataset_version(version_id=version.pk)
    version.refresh_from_db()
    assert version.status == VersionStatus.READY, version.error
    return version, [json.loads(line) for line in local_rows(version).read_text(encoding="utf-8").splitlines()]


@pytest.mark.django_db(transaction=True, reset_sequences=True)  # the draws are seeded with the batch id (below)
@pytest.mark.long(30)
def test_children_of_children_and_lineage_in_versions(seeded, endpoint, client, cast, api_as):
    started = api_as("project_admin").post(
        "/api/v1/generation-batches/",
        {"project": "alpha", "endpoint": "teach", "template": "evol-instruct", "target": 6},
        format="json",
    )
    assert started.status_code == 201, started.json()
    assert started.json()["params"]["max_tokens"] == 512  # the method's decoding defaults
    from selfinstruct.models import GenerationBatch

    drive(GenerationBatch.objects.get(pk=started.json()["id"]), rounds=600)
    accepted = GeneratedInstruction.objects.filter(project=seeded, status="accepted")
    # Parents are drawn uniformly from the seeds and the children so far, by draws seeded with the batch id — which
    # depended on the tests before this one until the ids were reset for it. With all 32 seeds in the draw (batches
    # of 20), six batch ids took 10–57 s and three found no answered grandchild. With all but one seed out of the
    # draw (another language) for the next batches, almost every parent is a child: 15 of 17 batch ids took 4–15 s;
    # two (11, 53) found none — the demo teacher's evolutions of children stack prefixes and often land near a pool
    # item. With the ids reset, the first batch is id 1, which finds one.
    hidden = list(SeedTask.objects.filter(project=seeded, language="en").values_list("pk", flat=True).order_by("pk"))
    SeedTask.objects.filter(pk__in=hidden[1:]).update(language="xx")
    # A grandchild can still be a near-duplicate of its parent, or get no answer (it then has no SFT row).
    answered = Q(instances__status="accepted") | ~Q(output="")
    for _ in range(4):
        if accepted.filter(answered, evolution_depth__gte=2).exists():
            break
        drive(start_batch(project=seeded, endpoint=endpoint, template_name="evol-instruct", target=3), rounds=600)
    SeedTask.objects.filter(pk__in=hidden[1:]).update(language="en")
    assert accepted.filter(answered, evolution_depth__gte=2).exists()  # an evolved child was evolved again
    version, rows = _built(seeded, filters={"evolution": {"min_depth": 2}})
    assert rows and all(row["source"]["evolution"]["depth"] >= 2 for row in rows)  # no seeds, no shallow rows
    parents = {row["source"]["evolution"]["parent"]["type"] for row in rows}
    assert parents == {"generated"}
    assert set(version.lineage["evolved_instructions_by_depth"]) <= {str(d) for d in range(2, MAX_DEPTH + 1)}
    _, plain_rows = _built(seeded)
    seed_rows = [r for r in plain_rows if r["source"]["type"] == "seed"]
    assert seed_rows and all("evolution" not in r["source"] for r in seed_rows)
    # the console: the review card names the parent; the dataset form filters by depth
    client.force_login(cast["project_admin"])
    deep = accepted.filter(evolution_depth__gte=2).first()
    page = client.get("/console/alpha/instructions/", {"status": "accepted"}).content.decode()
    assert f"(depth {deep.evolution_depth}) from" in page and f"#{deep.parent_instruction_id}:" in page
    made = client.post(
        "/console/alpha/datasets/",
        {"kind": "sft", "test_fraction": "0.1", "split_seed": "0", "include_seeds": "on", "max_depth": "0"},
    )
    assert made.status_code == 302
    from exports.models import DatasetVersion

    assert DatasetVersion.objects.latest("id").filters["evolution"] == {"min_depth": 0, "max_depth": 0}
    for bad in ({"min_depth": -1}, {"max_depth": MAX_DEPTH + 1}, {"min_depth": 3, "max_depth": 2}, {"deep": 1}, 2):
        with pytest.raises(DatasetError, match="filters.evolution"):
            create_dataset_version(project=seeded, kind="sft", filters={"evolution": bad})


def test_elimination_rules_and_prompts():
    parent = "Write a short poem about autumn leaves."
    assert elimination_reason(parent, "write a short  poem about autumn leaves.") == Reason.EVOL_NO_GAIN
    assert elimination_reason(parent, "Sorry, I can't rewrite that instruction.") == Reason.EVOL_REFUSAL
    assert elimination_reason(parent, "抱歉，我无法完成这个改写。") == Reason.EVOL_REFUSAL
    assert elimination_reason(parent, "Here is the rewritten prompt: a poem") == Reason.EVOL_COPIES_PROMPT
    assert elimination_reason(parent, "#New instruction# Write a poem") == Reason.EVOL_COPIES_PROMPT
    assert elimination_reason(parent, "The of and, to a!") == Reason.EVOL_EMPTY
    assert elimination_reason(parent, "……。？") == Reason.EVOL_EMPTY
    assert elimination_reason(parent, "Write a haiku about autumn leaves that rhymes twice.") is None
    assert parse_evolved('#New instruction#: "Write a haiku."') == "Write a haiku."
    assert parse_evolved("新指令：写一首诗。") == "写一首诗。"
    assert says_equal("Equal") and says_equal("相同") and not says_equal("Not equal") and not says_equal("不同")
    for language in ("en", "zh"):
        texts = {
            render_evolution("{{operation_text}}", parent=parent, operation=op, language=language) for op in OPERATIONS
        }
        assert len(texts) == len(OPERATIONS) and all(parent in t for t in texts)
        assert parent in render_equality(parent=parent, child="x", language=language)


def test_type_quotas_tag_each_item_stop_a_full_type_and_steer_the_prompts(seeded, endpoint, api_as, client, cast):
    from selfinstruct.batches import check_type_quotas
    from selfinstruct.services import BatchError

    started = api_as("project_admin").post(
        "/api/v1/generation-batches/",
        {"project": "alpha", "endpoint": "teach", "template": "alpaca", "target": 12, "type_quotas": {"generation": 2}},
        format="json",
    )
    assert started.status_code == 201, started.json()
    from selfinstruct.models import GenerationBatch

    batch = drive(GenerationBatch.objects.get(pk=started.json()["id"]), rounds=400)
    assert batch.status == RunStatus.SUCCEEDED, (batch.stop_reason, batch.error)
    rows = GeneratedInstruction.objects.filter(batch=batch)
    accepted = rows.filter(status="accepted")
    assert accepted.filter(task_type="generation").count() == 2  # the quota, never more
    assert rows.filter(reason=Reason.OVER_QUOTA, task_type="generation").exists()
    assert accepted.exclude(task_type="").count() == accepted.count()  # every accepted item was tagged
    progress = api_as("project_admin").get(f"/api/v1/generation-batches/{batch.pk}/").json()["progress"]
    assert progress["types"] == [{"type": "generation", "accepted": 2, "quota": 2}]
    prompts = list(GenerationRequest.objects.filter(batch=batch, kind="tasks").values_list("prompt", flat=True))
    assert "Prefer tasks of these kinds: Generation" in prompts[0]
    assert any("Write no more tasks of these kinds: Generation" in p for p in prompts[1:])
    client.force_login(cast["project_admin"])
    page = client.get(f"/console/alpha/batches/{batch.pk}/").content.decode()
    assert 'data-quota="generation"' in page and "2 / 2" in page
    form = client.post(
        "/console/alpha/generation/new",
        {"endpoint": "teach", "template": "alpaca", "target": "5", "quotas": "poetry=3"},
    )
    assert form.status_code == 400 and "poetry" in form.content.decode()
    for bad in ({"poetry": 1}, {"code": 0}, {"code": True}, ["code"]):
        with pytest.raises(BatchError, match="type_quotas"):
            check_type_quotas(bad, keys=["code", "math"])
