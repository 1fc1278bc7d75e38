"""Parsing, filters, ROUGE-L and prompt building: the pure parts of generation."""

import random

import pytest
from rouge_score import rouge_scorer

from selfinstruct.filters import Reason, check_item
from selfinstruct.parsing import ParsedItem, parse_instruction_list, parse_triples
from selfinstruct.prompts import Demo, choose_human_demos, render
from selfinstruct.similarity import rouge_l, tokenize
from selfinstruct.templates_builtin import BUILTINS
from tests.helpers.pool import ExhaustiveIndex

# --- parsing ---


def test_instruction_list_continuing_an_opened_item():
    reply = " Explain tides to a child.\n10. List three uses of vinegar.\n11 . Rewrite this sentence politely.\n12."
    items = parse_instruction_list(reply)
    assert [i.instruction for i in items] == [
        "Explain tides to a child.",
        "List three uses of vinegar.",
        "Rewrite this sentence politely.",
    ]


def test_chinese_list_with_fullwidth_numbering_and_missing_numbers():
    reply = "9．解释潮汐现象。\n10、列出醋的三种用途。\n把这句话改写得更礼貌。\n第12条：总结这段话的要点。"
    items = parse_instruction_list(reply)
    assert [i.instruction for i in items] == [
        "解释潮汐现象。",
        "列出醋的三种用途。 把这句话改写得更礼貌。",
        "总结这段话的要点。",
    ]


def test_truncated_reply_marks_the_last_item():
    items = parse_instruction_list("1. Name a fruit.\n2. Describe the water cy", finish_reason="length")
    assert [i.truncated for i in items] == [False, True]


def test_alpaca_triples_with_noinput_and_multiline_output():
    reply = (
        "\n4. Instruction: Sort the numbers.\n4. Input:\n3, 1, 2\n4. Output:\n1, 2, 3\n###\n"
        "5. Instruction: Give two tips for sleep.\n5. Input:\n<noinput>\n5. Output:\n1. Dim lights.\n2. No coffee.\n###\n"
        "6. Instruction：Missing output here\n6. Input:\n<noinput>"
    )
    items = parse_triples(reply)
    assert items[0] == ParsedItem("Sort the numbers.", "3, 1, 2", "1, 2, 3")
    assert items[1].input == "" and items[1].output == "1. Dim lights.\n2. No coffee."
    assert items[2].instruction == "Missing output here" and items[2].output == ""


def test_belle_triples_fullwidth_colons():
    reply = "4. 指令：把句子翻译成英文。\n4. 输入：\n今天天气很好。\n4. 输出：\nThe weather is nice today.\n###\n5. 指令: 写一句祝福语。\n输入:<无输入>\n输出:新年快乐！"
    items = parse_triples(reply, finish_reason="length")
    assert items[0] == ParsedItem("把句子翻译成英文。", "今天天气很好。", "The weather is nice today.")
    assert items[1].instruction == "写一句祝福语。" and items[1].input == "" and items[1].truncated


# --- filters ---


@pytest.mark.parametrize(
    ("item", "language", "triples", "reason"),
    [
        (ParsedItem("Do it."), "en", False, Reason.TOO_SHORT),
        (ParsedItem("word " * 151), "en", False, Reason.TOO_LONG),
        (ParsedItem("Describe the picture of a cat in detail."), "en", False, Reason.BLACKLIST),
        (ParsedItem("Plot the sales numbers for each month."), "en", False, Reason.BLACKLIST),
        (ParsedItem("Tell me how to go to the station from here."), "en", False, Reason.BLACKLIST),
        (ParsedItem("Write a program that sorts a list of names."), "en", False, Reason.BAD_START),
        (ParsedItem("- List the planets of the solar system."), "en", False, Reason.BAD_START),
        (ParsedItem("描述这张图片里的内容和颜色。"), "zh", False, Reason.BLACKLIST),
        (ParsedItem("总结下面的文章。", "", "详见链接"), "zh", True, Reason.BLACKLIST),  # BELLE: whole item
        (ParsedItem("问ChatGPT一个问题并记录回答。"), "zh", False, Reason.BLACKLIST),
        (ParsedItem("解释。"), "zh", False, Reason.TOO_SHORT),
        (ParsedItem("Explain what compound interest is."), "zh", False, Reason.WRONG_LANGUAGE),
        (
            ParsedItem("Repeat the input sentence back.", "hello there", "hello there"),
            "en",
            True,
            Reason.INPUT_EQUALS_OUTPUT,
        ),
        (ParsedItem("Summarize the following paragraph.", "text", ""), "en", True, Reason.EMPTY_OUTPUT),
        (ParsedItem("Name the capital of France please.", truncated=True), "en", False, Reason.TRUNCATED),
        (ParsedItem("Explain how vaccines train the immune system."), "en", False, None),
        (ParsedItem("用三句话解释疫苗如何训练免疫系统。"), "zh", False, None),
    ],
)
def test_filters(item, language, triples, reason):
    assert check_item(item, language=language, expects_output=triples) == reason


# --- ROUGE-L ---

PAIRS = [
    ("Give three tips for staying healthy.", "Give me three tips to stay healthy and fit."),
    ("Explain compound interest to a child.", "Explain compound interest to a ten-year-old child."),
    ("What is the capital of France?", "Name a fruit."),
    ("Sort: the the the a a b", "a the b the a the"),
    ("C'est la vie! Ünïcödé words — and ASCII", "c est LA vie unicode words and ascii"),
]


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_rouge_l_equals_rouge_score_for_english(a, b):
    reference = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False).score(a, b)["rougeL"].fmeasure
    assert rouge_l(tokenize(a), tokenize(b)) == pytest.approx(reference, abs=1e-12)


def test_chinese_scores_where_the_reference_scores_zero():
    a, b = "把下面的会议记录整理成三条要点。", "把下面的会议纪要整理成三个要点。"
    assert rouge_scorer.RougeScorer(["rougeL"]).score(a, b)["rougeL"].fmeasure == 0.0
    assert rouge_l(tokenize(a), tokenize(b)) > 0.7


def test_exhaustive_index_most_similar_and_threshold():
    index = ExhaustiveIndex()
    index.add("a", "Explain compound interest to a child.")
    index.add("b", "Name a fruit that is red.")
    index.add("c", "完全不同的中文句子。")
    top = index.most_similar("Explain compound interest to a young child.", k=2)
    assert top[0][0] == "a" and top[0][1] > 0.7 and len(top) <= 2
    assert index.is_near_duplicate("Explain compound interest to a young child.")
    assert not index.is_near_duplicate("Describe the water cycle in two sentences.")
    assert index.most_similar("") == []


# --- prompts ---


def seeds(n):
    return [Demo("seed", i, f"Seed task number {i} about topic {i % 5}.", "", f"out {i}") for i in range(n)]


def test_self_instruct_prompt_has_eight_numbered_demos_and_opens_item_nine():
    snapshot = {**BUILTINS["self-instruct"], "name": "self-instruct"}
    built = render(snapshot, demos=seeds(8), language="en")
    assert built.text.rstrip().endswith("\n9.") and "up to number 15" in built.text
    assert all(f"\n{n}. Seed task" in built.text for n in range(1, 9))
    assert built.stop == ["\n\n", "\n16", "16."]


@pytest.mark.parametrize(("name", "marker", "count"), [("alpaca", "<noinput>", "20"), ("belle", "<无输入>", "10")])
def test_triple_templates_format_demos(name, marker, count):
    snapshot = {**BUILTINS[name], "name": name}
    built = render(snapshot, demos=seeds(3), language="zh" if name == "belle" else "en", topic="cooking")
    assert marker in built.text and count in built.text and "cooking" in built.text
    assert built.text.rstrip().endswith("###") and built.first_number == 4


def test_topic_steers_half_the_demonstrations():
    pool = seeds(40) + [
        Demo("seed", 100, "Suggest a recipe that uses leftover rice.", "", "x"),
        Demo("seed", 101, "Plan a weekly menu of rice dishes.", "", "y"),
    ]
    chosen = choose_human_demos(pool, 4, random.Random(1), topic="rice recipes")
    assert {100, 101} <= {d.id for d in chosen} and len(chosen) == 4
    plain = choose_human_demos(pool, 4, random.Random(1))
    assert len({d.id for d in plain}) == 4
