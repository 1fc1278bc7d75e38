"""Quality filters for generated instructions, each with a reason code. Pure functions; thresholds live here.

Figures follow the methods (see FIELD_NOTES): Self-Instruct drops instructions of <= 3 or > 150 words, a keyword
blacklist (image, graph, picture, file, map, draw, plot, go to), bad starts (punctuation, "Write a program",
non-ASCII for English) and ROUGE-L > 0.7 near-duplicates; Alpaca adds video/audio/music/flowchart/diagram; BELLE
filters Chinese by characters and blacklists 图片/链接/http/ChatGPT/GPT… over the whole item.
"""

from __future__ import annotations

import re
import string

from selfinstruct.parsing import ParsedItem
from selfinstruct.text import detect_language

NEAR_DUPLICATE_THRESHOLD = 0.7
EN_MIN_WORDS, EN_MAX_WORDS = 4, 150  # keep > 3 and <= 150 words
ZH_MIN_CHARS, ZH_MAX_CHARS = 5, 300

EN_BLACKLIST = [
    "image",
    "images",
    "graph",
    "graphs",
    "picture",
    "pictures",
    "file",
    "files",
    "map",
    "maps",
    "draw",
    "plot",
    "plots",
    "go to",
    "video",
    "videos",
    "audio",
    "music",
    "flowchart",
    "diagram",
    "diagrams",
    "photo",
    "photos",
    "chatgpt",
    "gpt",
    "openai",
    "http",
    "url",
    "link",
]
ZH_BLACKLIST = [
    "图片",
    "图像",
    "照片",
    "图表",
    "画图",
    "绘制",
    "画一",
    "视频",
    "音频",
    "音乐",
    "录音",
    "链接",
    "网址",
    "http",
    "文件",
    "附件",
    "地图",
    "流程图",
    "chatgpt",
    "gpt",
    "openai",
    "人工智能助手",
    "语言模型",
]
_EN_BLACKLIST_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w in EN_BLACKLIST) + r")\b", re.IGNORECASE)
_PUNCTUATION = set(string.punctuation) | set("，。、；：？！「」『』（）《》【】…—·")


class Reason:
    TRUNCATED = "truncated"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    BLACKLIST = "blacklist"
    BAD_START = "bad_start"
    EMPTY_OUTPUT = "empty_output"
    INPUT_EQUALS_OUTPUT = "input_equals_output"
    DUPLICATE = "duplicate"
    NEAR_DUPLICATE = "near_duplicate"
    WRONG_LANGUAGE = "wrong_language"
    REVIEWER = "reviewer"
    CONFLICTING_OUTPUTS = "conflicting_outputs"
    OVER_LIMIT = "over_limit"
    NO_INSTANCES = "no_instances"
    OVER_QUOTA = "over_quota"  # its task type already has the batch's quota of accepted instructions
    # Evol-Instruct's elimination rules (selfinstruct/evolution.py)
    EVOL_NO_GAIN = "evol_no_gain"
    EVOL_REFUSAL = "evol_refusal"
    EVOL_EMPTY = "evol_empty"
    EVOL_COPIES_PROMPT = "evol_copies_prompt"

    ALL = (
        TRUNCATED,
        TOO_SHORT,
        TOO_LONG,
        BLACKLIST,
        BAD_START,
        EMPTY_OUTPUT,
        INPUT_EQUALS_OUTPUT,
        DUPLICATE,
        NEAR_DUPLICATE,
        WRONG_LANGUAGE,
        REVIEWER,
        OVER_QUOTA,
        EVOL_NO_GAIN,
        EVOL_REFUSAL,
        EVOL_EMPTY,
        EVOL_COPIES_PROMPT,
    )


def blacklisted_word(text: str, language: str) -> str | None:
    if language == "zh":
        lowered = text.lower()
        return next((word for word in ZH_BLACKLIST if word in lowered), None)
    match = _EN_BLACKLIST_RE.search(text)
    return match.group(1).lower() if match else None


def check_item(item: ParsedItem, *, language: str, expects_output: bool) -> str | None:
    """The first reason to reject the item on its own (before the pool comparison), or None."""
    if item.truncated:
        return Reason.TRUNCATED
    text = item.instruction
    if detect_language(text) != language:
        return Reason.WRONG_LANGUAGE
    if language == "zh":
        size = len(re.sub(r"\s", "", text))
        if size < ZH_MIN_CHARS:
            return Reason.TOO_SHORT
        if size > ZH_MAX_CHARS:
            return Reason.TOO_LONG
        whole = " ".join([item.instruction, item.input, item.output])  # BELLE checks the whole item
        if blacklisted_word(whole, "zh") or blacklisted_word(whole, "en"):
            return Reason.BLACKLIST
        if text[0] in _PUNCTUATION:
            return Reason.BAD_START
    else:
        words = len(text.split())
        if words < EN_MIN_WORDS:
            return Reason.TOO_SHORT
        if words > EN_MAX_WORDS:
            return Reason.TOO_LONG
        if blacklisted_word(text, "en") or blacklisted_word(item.input, "en"):
            return Reason.BLACKLIST
        if text[0] in _PUNCTUATION or not text[0].isascii() or text.lower().startswith("write a program"):
            return Reason.BAD_START
    if expects_output:
        if not item.output.strip():
            return Reason.EMPTY_OUTPUT
        if item.input.strip() and item.input.strip() == item.output.strip():
            return Reason.INPUT_EQUALS_OUTPUT
    return None


MAX_INSTANCES_PER_TASK = 5


def judge_instances(pairs: list[tuple[str, str]]) -> list[str | None]:
    """Self-Instruct's final instance filters, one reason (or None) per pair: empty output, input == output,
    the same input with different outputs (all of them go), exact repeats, and at most five per task."""
    outputs_by_input: dict[str, set[str]] = {}
    for input_text, output in pairs:
        outputs_by_input.setdefault(input_text.strip(), set()).add(output.strip())
    reasons: list[str | None] = []
    seen: set[tuple[str, str]] = set()
    kept = 0
    for input_text, output in pairs:
        key = (input_text.strip(), output.strip())
        if not key[1]:
            reasons.append(Reason.EMPTY_OUTPUT)
        elif key[0] and key[0] == key[1]:
            reasons.append(Reason.INPUT_EQUALS_OUTPUT)
        elif len(outputs_by_input[key[0]]) > 1:
            reasons.append(Reason.CONFLICTING_OUTPUTS)
        elif key in seen:
            reasons.append(Reason.DUPLICATE)
        elif kept >= MAX_INSTANCES_PER_TASK:
            reasons.append(Reason.OVER_LIMIT)
        else:
            reasons.append(None)
            kept += 1
        seen.add(key)
    return reasons
