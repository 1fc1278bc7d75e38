"""The demo teacher: honest about what it is, useful replies in both languages, faults on request."""

import json
import random
import sys
import urllib.error
import urllib.request

import pytest

from demo.teacher import Composer, apply_stop, default_seed_files, is_chinese, load_seed_pool
from tests.helpers.processes import REPO, free_port, process_env, spawn


@pytest.fixture(scope="module")
def composer():
    return Composer(load_seed_pool(default_seed_files()), random.Random(3))


def test_models_endpoint_says_it_is_not_a_language_model(teacher):
    with urllib.request.urlopen(teacher.url + "/models") as resp:
        body = json.loads(resp.read())
    assert body["data"][0]["id"] == "demo-teacher"
    assert "not by a language model" in body["data"][0]["owned_by"]


def test_continues_a_numbered_list_from_the_next_number_and_honours_stop(composer):
    prompt = "Come up with tasks.\n1. Name a fruit.\n2. Sum two numbers.\n3."
    lines = composer.reply(prompt).splitlines()
    assert not lines[0].lstrip().startswith("3.")  # the prompt already opened item 3
    assert [line.split(".")[0] for line in lines[1:3]] == ["4", "5"]
    stopped = apply_stop(composer.reply(prompt), ["\n\n", "\n8", "8."]).splitlines()
    assert len(stopped) == 5 and stopped[-1].startswith("7.")  # items 3..7, cut where item 8 would start


def test_chinese_prompt_gets_chinese_triples(composer):
    prompt = "请生成10个任务，每个任务包含指令、输入和输出。\n"
    reply = composer.reply(prompt)
    items = reply.split("\n###\n")
    assert len(items) == 10
    assert all("指令：" in item and "输出：" in item for item in items)
    assert is_chinese(items[0])


def test_english_alpaca_style_triples(composer):
    reply = composer.reply("Generate 5 tasks. Use the format Instruction: / Input: / Output:")
    items = reply.split("\n###\n")
    assert len(items) == 5 and all("<noinput>" in item for item in items)


def test_plain_question_gets_an_answer_from_the_seed_pool(composer):
    pool_outputs = {inst["output"] for row in load_seed_pool(default_seed_files()) for inst in row["instances"]}
    assert composer.reply("How do I convert 98.6 Fahrenheit to Celsius?") in pool_outputs


def test_unknown_fault_is_refused(teacher):
    with pytest.raises(urllib.error.HTTPError) as info:
        teacher.faults(queue=["explode"])
    assert info.value.code == 400 and "explode" in info.value.read().decode()


def test_random_fault_rates_are_counted(teacher, endpoint):
    from llm.client import call_llm

    teacher.faults(rates={"500": 0.5}, seed=1)
    for i in range(6):
        call_llm(endpoint, purpose="test", prompt=f"q{i}", sleep=lambda s: None)
    stats = teacher.stats()
    assert stats["faults"].get("500", 0) > 0
    assert stats["completed"] == 6 and stats["requests"] == 6 + stats["faults"]["500"]


@pytest.mark.django_db
def test_demo_teacher_command_serves_and_validates_flags():
    port = free_port()
    cmd = [sys.executable, str(REPO / "manage.py"), "demo_teacher", "--port", str(port), "--faults", "429=0.0"]
    with spawn(cmd, ready="demo teacher listening", env=process_env()) as proc:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models") as resp:
            assert resp.status == 200
        assert "not by a language model" in proc.output()
    from tests.helpers.processes import manage

    bad = manage("demo_teacher", "--port", str(port), "--faults", "boom=0.1")
    assert bad.returncode != 0 and "unknown fault 'boom'" in bad.stderr
