"""Self-Instruct's second stage: classification identification, then output-first or input-first instances."""

import io

import pytest
from django.core.management import call_command

from core.lifecycle import RunStatus
from selfinstruct.batches import start_batch
from selfinstruct.filters import Reason, judge_instances
from selfinstruct.management.commands.generate import stage_text
from selfinstruct.models import GeneratedInstance, GeneratedInstruction, GenerationRequest, InstancesStatus, Stage
from selfinstruct.parsing import parse_instances, parse_yes_no
from selfinstruct.prompts import Demo, render_classify, render_instances
from tests.helpers.generation import drive


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Yes", True), (" no.", False), ("是", True), ("否", False), ("不是分类任务", False), ("Maybe", None), ("", None)],
)
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) is expected


def test_parse_input_first_examples():
    text = "Example 1\nInput: 3 + 4\nOutput: 7\n\nExample 2\nInput:\nOutput: A short poem.\n\n示例 3\n输入：你好\n输出：Hello"
    assert parse_instances(text, classification=False) == [("3 + 4", "7"), ("", "A short poem."), ("你好", "Hello")]
    assert parse_instances("Input: x\nOutput: y", classification=False) == [("x", "y")]


def test_parse_output_first_labels():
    text = "Class label: Positive\nInput: I loved it.\nClass label: Negative\nInput: Broken on arrival.\n类别：中性\n输入：还行吧。"
    assert parse_instances(text, classification=True) == [
        ("I loved it.", "Positive"),
        ("Broken on arrival.", "Negative"),
        ("还行吧。", "中性"),
    ]


def test_instance_filters():
    pairs = [
        ("a", "1"),
        ("b", ""),
        ("c", "c"),
        ("d", "1"),
        ("d", "2"),
        ("a", "1"),
        ("e", "5"),
        ("f", "6"),
        ("g", "7"),
        ("h", "8"),
    ]
    assert (
        judge_instances(pairs)
        == [
            None,
            Reason.EMPTY_OUTPUT,
            Reason.INPUT_EQUALS_OUTPUT,
            Reason.CONFLICTING_OUTPUTS,
            Reason.CONFLICTING_OUTPUTS,
            Reason.DUPLICATE,
            None,
            None,
            None,
            None,
        ]
        or judge_instances(pairs)[-1] == Reason.OVER_LIMIT
    )
    six = [(str(i), f"out {i}") for i in range(7)]
    assert judge_instances(six).count(None) == 5 and judge_instances(six)[5:] == [Reason.OVER_LIMIT] * 2


def test_prompts_put_the_task_last():
    text, stop = render_classify("Is this email spam?", "en")
    assert text.endswith("Task: Is this email spam?\nClassification:") and stop == ["\n"]
    zh, _ = render_classify("判断这句话的情感。", "zh")
    assert zh.endswith("任务：判断这句话的情感。\n是否分类任务：")
    out_first = render_instances(
        "Is this email spam?", "en", classification=True, demos=[Demo("seed", 1, "Is it a fruit?", "apple", "Yes")]
    )
    assert "Class label: Yes\nInput: apple" in out_first and out_first.endswith("Task: Is this email spam?")
    in_first = render_instances(
        "Explain tides.", "en", classification=False, demos=[Demo("seed", 1, "Add the numbers.", "1, 2", "3")]
    )
    assert "Example 1\nInput: 1, 2\nOutput: 3" in in_first


@pytest.mark.parametrize("language", ["en", "zh"])
def test_self_instruct_batch_writes_instances_after_its_target(seeded, endpoint, language):
    batch = drive(
        start_batch(project=seeded, endpoint=endpoint, template_name="self-instruct", target=15, language=language)
    )
    assert batch.status == RunStatus.SUCCEEDED and batch.stage == Stage.INSTANCES
    assert batch.stop_reason == "target reached; instances written"
    accepted = GeneratedInstruction.objects.filter(batch=batch, status="accepted")
    assert not accepted.exclude(instances_status__in=[InstancesStatus.DONE, InstancesStatus.FAILED]).exists()
    done = accepted.filter(instances_status=InstancesStatus.DONE)
    assert done.count() >= 0.8 * accepted.count()
    assert not accepted.filter(is_classification=None, instances_status=InstancesStatus.DONE).exists()
    for instruction in done:
        good = GeneratedInstance.objects.filter(instruction=instruction, status="accepted")
        assert 1 <= good.count() <= 5
        assert all(i.output and i.output != i.input for i in good)
    assert GenerationRequest.objects.filter(batch=batch, kind="classify").count() == accepted.count()
    classification = done.filter(is_classification=True).first()
    if classification:
        labels = set(GeneratedInstance.objects.filter(instruction=classification).values_list("output", flat=True))
        assert labels <= {"Yes", "No", "是", "否"}
    if language == "en":  # `batch wait`'s bar names the stage it counts (it sat at 100% through the instances)
        out, err = io.StringIO(), io.StringIO()
        call_command("batch", "wait", batch.pk, stdout=out, stderr=err)
        assert f"generation {batch.pk} · instances" in err.getvalue() and f"{accepted.count()}/" in err.getvalue()
        call_command("batch", "status", batch.pk, stdout=out)
        assert f"stage: instances {accepted.count()}/{accepted.count()}" in out.getvalue()


def test_the_cli_bar_names_the_stage_it_counts():
    progress = {"stage": "instructions", "accepted": 152, "target": 150, "instances": {}}
    assert stage_text(progress) == "instructions 150/150"
    progress |= {"stage": "instances", "instances": {"pending": 130, "working": 10, "done": 11, "failed": 1}}
    assert stage_text(progress) == "instances 12/152"


def test_instances_can_be_turned_off_and_other_methods_skip_them(seeded, endpoint):
    batch = start_batch(project=seeded, endpoint=endpoint, template_name="self-instruct", target=10)
    batch.generate_instances = False
    batch.save()
    assert drive(batch).stage == Stage.INSTRUCTIONS
    alpaca = drive(start_batch(project=seeded, endpoint=endpoint, template_name="alpaca", target=10))
    assert alpaca.stage == Stage.INSTRUCTIONS and not GeneratedInstance.objects.exists()


def test_instance_failures_are_retried_then_given_up(seeded, endpoint, teacher, settings):
    settings.GENERATION_MAX_CONSECUTIVE_FAILURES = 100
    batch = start_batch(project=seeded, endpoint=endpoint, template_name="self-instruct", target=5)
    endpoint.max_retries = 0
    endpoint.save()
    drive_until_stage = 0
    while batch.stage != Stage.INSTANCES and drive_until_stage < 20:
        from core.lifecycle import RunStatus
        from selfinstruct.engine import run_generation_step
        from selfinstruct.models import GenerationLane

        for lane in GenerationLane.objects.filter(batch=batch):
            run_generation_step(batch_id=batch.pk, lane_number=lane.number, token=str(lane.token), step=lane.step)
        batch.refresh_from_db()
        drive_until_stage += 1
    teacher.faults(rates={"500": 1.0})  # every stage-two request now fails
    batch = drive(batch)
    assert batch.status == RunStatus.SUCCEEDED
    assert (
        not GeneratedInstruction.objects.filter(batch=batch, status="accepted")
        .exclude(instances_status=InstancesStatus.FAILED)
        .exists()
    )
    assert GeneratedInstruction.objects.filter(batch=batch, status="accepted").first().instance_attempts == 3
