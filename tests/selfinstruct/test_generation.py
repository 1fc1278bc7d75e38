"""Generation batches driven in-process against the demo teacher: targets, filters, idempotency, budgets, states."""

import io
import re
import uuid
from unittest import mock

import pytest
from django.core.management import call_command

from core.lifecycle import RunStatus
from llm.services import create_endpoint
from selfinstruct.batches import cancel_batch, pause_batch, restart_stalled_lanes, resume_batch, start_batch
from selfinstruct.engine import run_generation_step
from selfinstruct.models import GeneratedInstruction, GenerationLane, GenerationRequest
from selfinstruct.selectors import batch_progress
from selfinstruct.services import BatchError
from tests.helpers.generation import assert_pool_is_clean, drive


@pytest.mark.parametrize(
    ("template", "language"),
    [
        ("self-instruct", "en"),
        ("self-instruct", "zh"),
        ("alpaca", "en"),
        ("alpaca", "zh"),
        ("belle", "zh"),
        ("belle", "en"),
    ],
)
def test_each_template_reaches_its_target_in_both_languages(seeded, endpoint, template, language):
    batch = drive(start_batch(project=seeded, endpoint=endpoint, template_name=template, target=25, language=language))
    assert batch.status == RunStatus.SUCCEEDED and batch.stop_reason.startswith("target reached")
    progress = batch_progress(batch=batch)
    assert progress["accepted"] >= 25
    assert assert_pool_is_clean(seeded.pk) == progress["accepted"]
    assert set(GeneratedInstruction.objects.filter(batch=batch).values_list("language", flat=True)) == {language}
    # every parsed item is stored, accepted or rejected with its reason; counts reconcile with the requests
    requests = GenerationRequest.objects.filter(batch=batch, kind="tasks")
    assert sum(r.accepted for r in requests) == progress["accepted"]
    assert sum(r.parsed for r in requests) == progress["accepted"] + progress["rejected"]
    assert not GeneratedInstruction.objects.filter(status="rejected", reason="").exists()
    first = requests.first()
    assert first.prompt and first.raw_text and first.prompt_tokens > 0 and first.demo_seed_ids
    if template in ("alpaca", "belle"):
        assert not GeneratedInstruction.objects.filter(batch=batch, status="accepted", output="").exists()


def test_self_instruct_mixes_machine_demos_once_the_pool_has_some(seeded, endpoint):
    batch = drive(start_batch(project=seeded, endpoint=endpoint, template_name="self-instruct", target=40))
    requests = list(GenerationRequest.objects.filter(batch=batch).order_by("id"))
    assert requests[0].demo_instruction_ids == [] and len(requests[0].demo_seed_ids) == 8
    later = [r for r in requests if r.demo_instruction_ids]
    assert later and all(len(r.demo_seed_ids) == 6 and len(r.demo_instruction_ids) == 2 for r in later)


def test_accepted_rows_keep_their_top_ten_most_similar(seeded, endpoint):
    drive(start_batch(project=seeded, endpoint=endpoint, template_name="self-instruct", target=20))
    row = GeneratedInstruction.objects.filter(status="accepted").last()
    assert 0 < len(row.most_similar) <= 10
    scores = [score for _, score in row.most_similar]
    assert scores == sorted(scores, reverse=True) and row.max_similarity == pytest.approx(scores[0], abs=1e-4)
    for near in GeneratedInstruction.objects.filter(reason="near_duplicate"):
        # a rejected row keeps the closest pool items above the threshold, best first
        near_scores = [score for _, score in near.most_similar]
        assert 0 < len(near_scores) <= 10 and all(score > 0.7 for score in near_scores)
        assert near_scores == sorted(near_scores, reverse=True) and near.max_similarity == near_scores[0]


def test_a_step_runs_once_even_if_delivered_twice(seeded, endpoint, teacher):
    batch = start_batch(project=seeded, endpoint=endpoint, template_name="self-instruct", target=100)
    lane = GenerationLane.objects.get(batch=batch, number=0)
    run_generation_step(batch_id=batch.pk, lane_number=0, token=str(lane.token), step=0)
    run_generation_step(batch_id=batch.pk, lane_number=0, token=str(lane.token), step=0)  # redelivered
    run_generation_step(batch_id=batch.pk, lane_number=0, token=str(uuid.uuid4()), step=1)  # superseded chain
    assert GenerationRequest.objects.filter(batch=batch, lane=0).count() == 1
    assert teacher.stats()["completed"] == 1


def test_faults_are_survived_and_recorded(seeded, endpoint, teacher):
    endpoint.max_retries = 1
    endpoint.save()
    teacher.faults(
        rates={"429": 0.2, "500": 0.2, "malformed": 0.1, "truncated": 0.1, "empty": 0.1}, retry_after=0, seed=5
    )
    batch = drive(start_batch(project=seeded, endpoint=endpoint, template_name="alpaca", target=30))
    assert batch.status == RunStatus.SUCCEEDED
    progress = batch_progress(batch=batch)
    assert progress["accepted"] >= 30 and sum(teacher.stats()["faults"].values()) > 0
    assert_pool_is_clean(seeded.pk)


def test_length_cut_replies_drop_their_last_item(seeded, endpoint, teacher):
    teacher.faults(queue=["length"])
    batch = start_batch(project=seeded, endpoint=endpoint, template_name="self-instruct", target=100)
    lane = GenerationLane.objects.get(batch=batch, number=0)
    run_generation_step(batch_id=batch.pk, lane_number=0, token=str(lane.token), step=0)
    request = GenerationRequest.objects.get(batch=batch)
    assert request.finish_reason == "length"
    assert GeneratedInstruction.objects.filter(request=request).order_by("id").last().reason == "truncated"


def test_unrecoverable_endpoint_fails_the_batch_with_a_readable_reason(seeded, teacher):
    wrong = create_endpoint(name="wrong", base_url=teacher.url.removesuffix("/v1") + "/nope", model="m")
    batch = drive(start_batch(project=seeded, endpoint=wrong, template_name="self-instruct", target=10))
    assert batch.status == RunStatus.FAILED and "client_error" in batch.stop_reason
    assert GenerationRequest.objects.get(batch=batch).error.startswith("client_error")


def test_repeated_failures_fail_the_batch(seeded, endpoint, teacher, settings):
    settings.GENERATION_MAX_CONSECUTIVE_FAILURES = 3
    endpoint.max_retries = 0
    endpoint.save()
    teacher.faults(rates={"500": 1.0})
    batch = drive(start_batch(project=seeded, endpoint=endpoint, template_name="self-instruct", target=10))
    assert batch.status == RunStatus.FAILED and "3 requests in a row failed" in batch.stop_reason


def test_token_budget_stops_before_it_could_be_exceeded(seeded, endpoint):
    batch = drive(
        start_batch(project=seeded, endpoint=endpoint, template_name="self-instruct", target=10_000, token_budget=6000)
    )
    assert batch.status == RunStatus.SUCCEEDED and batch.stop_reason.startswith("token budget")
    assert 0 < batch.tokens_used <= 6000
    assert batch.requests.count() >= 1


def test_cost_budget(seeded, endpoint):
    endpoint.price_input_per_1k = 1
    endpoint.price_output_per_1k = 1
    endpoint.save()
    batch = drive(start_batch(project=seeded, endpoint=endpoint, template_name="alpaca", target=10_000, cost_budget=10))
    assert batch.stop_reason.startswith("cost budget") and 0 < batch.cost_used <= 10


def test_pause_resume_cancel(seeded, endpoint, django_capture_on_commit_callbacks):
    batch = start_batch(project=seeded, endpoint=endpoint, template_name="self-instruct", target=100)
    pause_batch(batch=batch)
    lane = GenerationLane.objects.get(batch=batch, number=0)
    run_generation_step(batch_id=batch.pk, lane_number=0, token=str(lane.token), step=0)
    assert not GenerationRequest.objects.filter(batch=batch).exists()  # paused: the step does nothing
    with pytest.raises(BatchError, match="only a running batch can be paused"):
        pause_batch(batch=batch)
    with (
        mock.patch("selfinstruct.tasks.generation_step_task.apply_async") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        resume_batch(batch=batch)
    # every lane's step goes out at once (no countdown): nothing waits for a retry delay or the reconciler
    assert sorted(call.args[0][1] for call in sent.call_args_list) == list(range(batch.lanes))
    assert all(call.kwargs["countdown"] == 0 for call in sent.call_args_list)
    assert sent.call_args_list[0].args[0][2:] == (str(lane.token), 0)  # the lane's token kept: see below
    with pytest.raises(BatchError, match="only a paused batch can be resumed"):
        resume_batch(batch=batch)  # a second resume sends nothing more
    batch.refresh_from_db()  # the moments are recorded (for the page's status line and chart), a refused move not
    assert [(e["event"], e["by"]) for e in batch.events] == [("paused", ""), ("resumed", "")]
    assert batch.events[0]["at"] <= batch.events[1]["at"]
    status = io.StringIO()
    call_command("batch", "status", batch.pk, stdout=status)
    assert re.search(r"\n  paused [\d-]+ [\d:]+\n  resumed [\d-]+ [\d:]+\n$", status.getvalue())
    # the step sent again and the one still running from before the pause: one of them records it, once
    for _ in range(2):
        run_generation_step(batch_id=batch.pk, lane_number=0, token=str(lane.token), step=0)
    assert GenerationRequest.objects.filter(batch=batch, lane=0).count() == 1
    cancel_batch(batch=batch)
    batch.refresh_from_db()
    assert batch.status == RunStatus.CANCELLED and batch.finished_at
    with pytest.raises(BatchError, match="already cancelled"):
        cancel_batch(batch=batch)
    with pytest.raises(BatchError, match="only a paused batch can be resumed"):
        resume_batch(batch=batch)


def test_stalled_lanes_are_restarted_and_the_old_chain_stops(seeded, endpoint):
    batch = start_batch(project=seeded, endpoint=endpoint, template_name="self-instruct", target=100)
    old = GenerationLane.objects.get(batch=batch, number=0)
    assert restart_stalled_lanes(stale_seconds=3600) == 0
    assert restart_stalled_lanes(stale_seconds=0) == batch.lanes
    new = GenerationLane.objects.get(pk=old.pk)
    assert new.token != old.token and new.step == old.step
    run_generation_step(batch_id=batch.pk, lane_number=0, token=str(old.token), step=0)
    assert not GenerationRequest.objects.filter(batch=batch).exists()


def test_start_batch_validation(seeded, project, endpoint, other_project):
    with pytest.raises(BatchError, match="template: no template named 'nope'"):
        start_batch(project=seeded, endpoint=endpoint, template_name="nope", target=5)
    with pytest.raises(BatchError, match="target"):
        start_batch(project=seeded, endpoint=endpoint, template_name="alpaca", target=0)
    with pytest.raises(BatchError, match="params.logit_bias: not an allowed sampling parameter"):
        start_batch(project=seeded, endpoint=endpoint, template_name="alpaca", target=5, params={"logit_bias": 1})
    with pytest.raises(BatchError, match="has no zh seed tasks"):
        start_batch(project=other_project, endpoint=endpoint, template_name="belle", target=5)


def test_completions_api_style_generates_too(seeded, teacher):
    from core.lifecycle import RunStatus
    from llm.models import ApiStyle

    legacy = create_endpoint(name="legacy", base_url=teacher.url, model="m", api_style=ApiStyle.COMPLETIONS)
    batch = drive(start_batch(project=seeded, endpoint=legacy, template_name="alpaca", target=15))
    assert batch.status == RunStatus.SUCCEEDED and batch_progress(batch=batch)["accepted"] >= 15
    from core.lifecycle import RunStatus
    from llm.models import LLMRequest

    assert LLMRequest.objects.filter(endpoint=legacy).first().request_payload["prompt"].startswith("Please write")


def test_a_saturated_batch_stops_instead_of_paying_forever(seeded, endpoint, settings):
    settings.GENERATION_STALL_REQUESTS = 3
    first = drive(start_batch(project=seeded, endpoint=endpoint, template_name="self-instruct", target=10, seed=1))
    assert first.status == RunStatus.SUCCEEDED
    # the same demonstrations and teacher state again: every reply repeats what the pool already holds
    from selfinstruct.models import GeneratedInstruction as Row

    Row.objects.filter(status="rejected").delete()
    pool_size = Row.objects.filter(status="accepted").count()
    from unittest import mock

    with mock.patch("selfinstruct.engine.call_llm") as fake:
        fake.return_value = mock.Mock(
            text=" "
            + "\n".join(
                f"{n}. {t}" for n, t in enumerate(Row.objects.values_list("instruction", flat=True)[:5], start=10)
            ),
            finish_reason="stop",
            prompt_tokens=10,
            completion_tokens=10,
            latency_ms=1,
            attempts=1,
            cost=0,
        )
        stalled = drive(start_batch(project=seeded, endpoint=endpoint, template_name="self-instruct", target=10))
    assert stalled.status == RunStatus.FAILED and stalled.stop_reason.startswith("stalled: the last 3 replies")
    assert Row.objects.filter(status="accepted").count() == pool_size
