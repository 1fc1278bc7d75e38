"""Evol-Instruct, pure parts: the evolution operations, their prompts (our own wording, English and Chinese), the
reply parser and the elimination rules. The engine (selfinstruct/engine.py) picks a parent from the pool and an
operation, asks the teacher, asks it again whether the child gains anything over its parent, and then runs the
usual filters and the near-duplicate check; an accepted child records its parent, its depth and the operation.

Operations (the method's in-depth and in-breadth evolution):
- constraints: add one more requirement or limit;
- deepen: ask for more depth or breadth on the same question;
- concretize: replace general ideas with specific ones;
- reasoning: make it need several explicit steps of reasoning;
- complicate-input: add a concrete input (a table, code, data, a passage) that the task must work on;
- breadth: a new instruction of the same domain and kind, rarer in topic, about as long and as hard.

Elimination rules (a child is dropped when any holds): it gains no information over its parent (the teacher is
asked; an identical text counts without asking); it is a refusal or an apology instead of an instruction; it is
only punctuation and stop words; it copies the evolving prompt's own words (its labels or its description of the
task) instead of being a task.
"""

from __future__ import annotations

import re

from selfinstruct.filters import Reason
from selfinstruct.similarity import tokenize

OPERATIONS = ("constraints", "deepen", "concretize", "reasoning", "complicate-input", "breadth")
MAX_DEPTH = 4  # a child of a child … at most this many evolutions from a seed

_IN_DEPTH = {
    "en": (
        "Your job is to rewrite the instruction below into a harder version that a strong assistant such as "
        "ChatGPT or GPT-4 would find more demanding, while a person still finds it sensible and answerable. "
        "Keep any input or table in it. Change it this way: {how} Add no more than 10 to 20 words, and write "
        "only the new instruction, with no label or comment."
    ),
    "zh": (
        "请把下面这条指令改写成一个更难的版本：让 ChatGPT、GPT-4 这样的助手更费力，但人读来仍然通顺、可以回答。"
        "保留其中原有的输入或表格。改写方式：{how}新增内容不超过二三十个字，只写出新的指令，不要标签，也不要解释。"
    ),
}
_HOW = {
    "en": {
        "constraints": "add one more constraint or requirement the answer must meet.",
        "deepen": "ask about the same subject in more depth or breadth.",
        "concretize": "replace general concepts with more specific ones.",
        "reasoning": "make it explicitly need several steps of reasoning, if it can be solved with a few simple "
        "thoughts.",
        "complicate-input": "add a concrete input the task must work on (a short table, a code snippet, a list "
        "of numbers or a passage of text) and refer to it.",
    },
    "zh": {
        "constraints": "增加一条回答必须满足的限制或要求。",
        "deepen": "就同一主题提出更有深度或更广的问题。",
        "concretize": "把笼统的概念换成更具体的概念。",
        "reasoning": "如果原题只需简单思考就能解决，改成明确需要多步推理才能完成。",
        "complicate-input": "加入任务必须处理的具体输入（一个小表格、一段代码、一组数字或一段文字）并在指令中引用它。",
    },
}
_BREADTH = {
    "en": (
        "Your job is to write a brand-new instruction inspired by the one below: the same domain and the same "
        "kind of task, but a rarer topic. Make it about as long and as hard, sensible and answerable by a "
        "person. Write only the new instruction, with no label or comment."
    ),
    "zh": (
        "请参考下面这条指令，写一条全新的指令：属于同一领域、同一类任务，但话题更少见。长度和难度与原指令相当，"
        "人读来通顺、可以回答。只写出新的指令，不要标签，也不要解释。"
    ),
}
_LABELS = {"en": ("#Instruction#", "#New instruction#"), "zh": ("#原指令#", "#新指令#")}
_EQUALITY = {
    "en": (
        "Here are two instructions. Do they ask for the same thing, with the same requirements and the same depth "
        "and breadth of inquiry? Answer Equal or Not equal, and nothing else.\n\nFirst: {parent}\n\nSecond: {child}"
        "\n\nAnswer:"
    ),
    "zh": (
        "下面有两条指令。它们要求的是不是同一件事，要求、深度和广度都一样？只回答“相同”或“不同”，不要写别的。"
        "\n\n第一条：{parent}\n\n第二条：{child}\n\n回答："
    ),
}

_REFUSAL = re.compile(
    r"\b(sorry|i apologi[sz]e|i can(?:no|')t|i am unable|i'm unable|as an ai\b|i cannot)"
    r"|抱歉|对不起|无法(?:完成|提供|回答)|作为(?:一个)?(?:AI|人工智能)",
    re.I,
)
_PROMPT_WORDS = re.compile(
    r"#\s*(?:new\s+)?instruction\s*#|#(?:原|新)指令#|rewritten (?:prompt|instruction)|given prompt|new instruction:"
    r"|改写后的指令|新的指令[:：]",
    re.I,
)
STOP_WORDS = frozenset(
    "a an the of to in on at for and or but is are was were be been it this that these those with by as from "
    "please 的 了 和 是 在 也 就 都 而 及 与 或 一 个 这 那 请".split()
)


def render_evolution(body: str, *, parent: str, operation: str, language: str) -> str:
    """The evolving prompt: the template's body (a header that may hold {{operation_text}}), then the parent."""
    if operation == "breadth":
        text = _BREADTH[language]
    else:
        text = _IN_DEPTH[language].format(how=_HOW[language][operation])
    before, after = _LABELS[language]
    header = body.replace("{{operation_text}}", text) if "{{operation_text}}" in body else f"{body}\n{text}".strip()
    return f"{header}\n\n{before}\n{' '.join(parent.split())}\n\n{after}\n"


def render_equality(*, parent: str, child: str, language: str) -> str:
    return _EQUALITY[language].format(parent=" ".join(parent.split()), child=" ".join(child.split()))


def says_equal(reply: str) -> bool:
    """The teacher's answer to the equality prompt: True for Equal / 相同 (a reply it cannot read counts as not
    equal: the child still has to pass every other filter)."""
    text = reply.strip().lower()
    return text.startswith("equal") or text.startswith("相同") or text.startswith("“相同")


def parse_evolved(text: str) -> str:
    """The new instruction from the teacher's reply: the labels the prompt used and wrapping quotes removed."""
    text = text.strip()
    text = re.sub(r"^(?:#\s*new\s+instruction\s*#|#新指令#|new instruction|新指令)\s*[:：]?\s*", "", text, flags=re.I)
    text = text.strip().strip('"“”「」').strip()
    return text


def elimination_reason(parent: str, child: str) -> str | None:
    """The rule-based elimination reasons (the equality question is asked by the engine): None if none holds."""
    if " ".join(child.split()).lower() == " ".join(parent.split()).lower():
        return Reason.EVOL_NO_GAIN
    if _REFUSAL.search(child):
        return Reason.EVOL_REFUSAL
    if _PROMPT_WORDS.search(child):
        return Reason.EVOL_COPIES_PROMPT
    if not [token for token in tokenize(child) if token not in STOP_WORDS]:
        return Reason.EVOL_EMPTY
    return None
