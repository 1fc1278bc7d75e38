"""Parse a model's numbered task list into items, in English and Chinese. Pure functions.

Two shapes: instruction-only lists ("9. Do this.") as Self-Instruct asks for, and instruction/input/output triples
as Alpaca ("Instruction:/Input:/Output:", <noinput>) and BELLE ("指令：/输入：/输出：", <无输入>) ask for.
Numbers may be missing or out of order, colons may be full-width, and the last item of a reply cut off for
length is dropped, as the methods do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NO_INPUT_MARKERS = {"<noinput>", "<no input>", "<无输入>", "无输入", "<无>", "无", "none", "n/a", "<none>"}

_ITEM_START = re.compile(
    r"(?m)^\s*(?:#{1,3}\s*)?(?:\(?(\d{1,3})\s*[.、．)）:：]|第\s*(\d{1,3})\s*[条个题项]\s*[.、:：]?)\s*"
)
_FIELD = re.compile(
    r"(?im)^\s*(?:\d{1,3}\s*[.、．)）]\s*)?(instruction|input|output|指令|输入|输出)\s*[:：]\s*",
)
_FIELD_NAMES = {
    "instruction": "instruction",
    "指令": "instruction",
    "input": "input",
    "输入": "input",
    "output": "output",
    "输出": "output",
}


@dataclass(frozen=True)
class ParsedItem:
    instruction: str
    input: str = ""
    output: str = ""
    truncated: bool = False  # the last item of a reply cut off for length


def _clean(text: str) -> str:
    text = re.sub(r"[ \t]+", " ", text.strip())
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _split_items(text: str) -> list[str]:
    """Split on '###' separators or on numbered item starts; text before the first number is one item."""
    if "###" in text:
        parts = [p for p in re.split(r"(?m)^\s*###\s*$|\n?###\n?", text) if p.strip()]
        if len(parts) > 1:
            return parts
    starts = list(_ITEM_START.finditer(text))
    if not starts:
        return [text] if text.strip() else []
    items = []
    if text[: starts[0].start()].strip():
        items.append(text[: starts[0].start()])
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        items.append(text[match.end() : end])
    return items


def parse_instruction_list(text: str, *, finish_reason: str = "stop") -> list[ParsedItem]:
    """Instruction-only items. A reply that opens mid-item (the prompt gave the number) keeps that first item."""
    items = []
    for raw in _split_items(text):
        instruction = _clean(re.sub(r"\s*\n\s*", " ", raw.strip()))
        if instruction:
            items.append(ParsedItem(instruction=instruction))
    return _mark_truncated(items, finish_reason)


def parse_triples(text: str, *, finish_reason: str = "stop") -> list[ParsedItem]:
    """Instruction/input/output items; an item without an instruction field is skipped."""
    items = []
    for raw in _split_items(text):
        fields: dict[str, str] = {}
        matches = list(_FIELD.finditer(raw))
        for index, match in enumerate(matches):
            end = matches[index + 1].start() if index + 1 < len(matches) else len(raw)
            name = _FIELD_NAMES[match.group(1).lower()]
            fields.setdefault(name, raw[match.end() : end])
        instruction = _clean(re.sub(r"\s*\n\s*", " ", fields.get("instruction", "")))
        if not instruction:
            continue
        input_text = _clean(fields.get("input", ""))
        if input_text.lower() in NO_INPUT_MARKERS:
            input_text = ""
        items.append(ParsedItem(instruction=instruction, input=input_text, output=_clean(fields.get("output", ""))))
    return _mark_truncated(items, finish_reason)


def _mark_truncated(items: list[ParsedItem], finish_reason: str) -> list[ParsedItem]:
    if finish_reason == "length" and items:
        last = items[-1]
        items[-1] = ParsedItem(last.instruction, last.input, last.output, truncated=True)
    return items


_YES = {"yes", "true", "是", "是的", "对"}
_NO = {"no", "false", "否", "不是", "不"}


def parse_yes_no(text: str) -> bool | None:
    """The first word of a classification-identification reply as True/False; None when it is neither."""
    stripped = text.strip().strip("\"'“”「」.。!！").strip()
    first = re.split(r"[\s,，.。:：!！]", stripped, maxsplit=1)[0].lower() if stripped else ""
    if first in _YES or stripped[:1] == "是":
        return True
    if first in _NO or stripped[:1] == "否" or stripped.startswith("不是"):
        return False
    return None


_EXAMPLE = re.compile(r"(?im)^\s*(?:example|示例|例子)\s*\d*\s*[:：.]?\s*$")
_LABEL = re.compile(r"(?im)^\s*(?:class\s*label|label|类别|标签)\s*[:：]\s*")
_INPUT = re.compile(r"(?im)^\s*(?:input|输入)\s*[:：]\s*")
_OUTPUT = re.compile(r"(?im)^\s*(?:output|输出)\s*[:：]\s*")


def _field(block: str, start: re.Pattern, *stops: re.Pattern) -> str:
    match = start.search(block)
    if not match:
        return ""
    rest = block[match.end() :]
    ends = [m.start() for p in stops if (m := p.search(rest))]
    return _clean(rest[: min(ends)] if ends else rest)


def parse_instances(text: str, *, classification: bool) -> list[tuple[str, str]]:
    """(input, output) pairs. Output-first replies give (input, label) for each 'Class label:' block."""
    if classification:
        starts = [m.start() for m in _LABEL.finditer(text)]
        pairs = []
        for index, start in enumerate(starts):
            block = text[start : starts[index + 1] if index + 1 < len(starts) else len(text)]
            label_match = _LABEL.match(block)
            label = _clean(block[label_match.end() :].split("\n", 1)[0])
            pairs.append((_field(block, _INPUT, _LABEL), label))
        return pairs
    blocks = [b for b in _EXAMPLE.split(text) if b.strip()] if _EXAMPLE.search(text) else [text]
    pairs = []
    for block in blocks:
        if not _OUTPUT.search(block):
            continue
        pairs.append((_field(block, _INPUT, _OUTPUT), _field(block, _OUTPUT, _EXAMPLE, _INPUT)))
    return pairs
