"""The demo teacher's reply modes, each recognised by the shape of the project's own prompt: judge (llm/judge.py),
rating (llm/rating.py), tagging (llm/tagging.py), and Evol-Instruct's evolving and equality prompts
(selfinstruct/evolution.py). See the package docstring (demo/teacher/__init__.py) for what each replies."""

from __future__ import annotations

import hashlib
import random
import re

from demo.teacher.text import WORD, is_chinese

JUDGE_REQUEST = re.compile(r"### Request\n(.*?)\n### Answer 1\n(.*?)\n### Answer 2\n(.*?)\n+Reply with", re.S)
JUDGE_FIRST_BIAS = 0.3  # how often the demo judge favours the answer shown first (so position bias shows)


def _content_words(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


def _demo_grade(question: str, answer: str) -> float:
    """A stand-in for judgement: how much of the request the answer mentions, and how developed it is."""
    asked = _content_words(question)
    covered = len(asked & _content_words(answer)) / max(1, len(asked))
    developed = min(1.0, len(answer.strip()) / 240)
    return 1 + 9 * (0.55 * min(1.0, 2 * covered) + 0.45 * developed)


EVOLVE_REQUEST = re.compile(r"\n(?:#Instruction#|#原指令#)\n(.*?)\n\n(?:#New instruction#|#新指令#)\n?$", re.S)
EQUALITY_REQUEST = re.compile(
    r"(?:First: (.*?)\n\nSecond: (.*?)\n\nAnswer:|第一条：(.*?)\n\n第二条：(.*?)\n\n回答：)\s*$", re.S
)
_EVOLVE_FRAMES = {
    "en": ("For a reader who is new to the subject,", "In a realistic workplace setting,", "As a short exercise,"),
    "zh": ("面向刚接触这个领域的读者，", "放在真实的工作场景里，", "作为一道小练习，"),
}
_EVOLVE_REQUIREMENTS = {
    "en": (
        "Give two concrete examples and explain how each one supports your answer step by step.",
        "Keep the answer under 150 words and end with a one-sentence summary of the main trade-off.",
        "Compare at least two different approaches and say which one you would choose and why.",
        "List the assumptions you make first, then reason through the problem in numbered steps.",
    ),
    "zh": (
        "请给出两个具体例子，并逐步说明每个例子如何支持你的结论。",
        "回答控制在一百五十字以内，最后用一句话总结最主要的取舍。",
        "至少比较两种不同的做法，并说明你会选择哪一种以及原因。",
        "先列出你所做的假设，再分步骤推理出最终答案。",
    ),
}


TAG_LISTED = re.compile(r"(?m)^- ([a-z][a-z0-9_]*): (.+)$")
TAG_REQUEST = re.compile(r"### Instruction to label\n(.*?)\n\nReply with exactly these three lines", re.S)
_TAG_KEYWORDS = (
    ("translation", ("translate", "翻译", "译成")),
    ("summarization", ("summar", "总结", "概括", "摘要")),
    ("code", ("code", "python", "function", "sql", "program", "代码", "函数", "程序")),
    ("math", ("calculate", "compute", "how many", "equation", "计算", "多少", "方程")),
    ("classification", ("classify", "categor", "whether", "positive or negative", "分类", "判断")),
    ("rewrite", ("rewrite", "paraphrase", "edit", "correct", "改写", "润色", "修改")),
    ("extraction", ("extract", "find all", "list the names", "提取", "抽取", "找出")),
    ("brainstorming", ("ideas", "suggest", "brainstorm", "names for", "建议", "想法", "起名", "列举")),
    ("generation", ("write", "compose", "draft", "create", "写", "撰写", "创作")),
)
_FUNCTION_WORDS = frozenset("a an the of to for in on at with and or me us this that these those some my your".split())


def tag_reply(prompt: str) -> str:
    """The demo teacher's tagging mode (see the module docstring). Deterministic."""
    instruction = TAG_REQUEST.search(prompt).group(1).strip()
    lowered = instruction.lower()
    listed = dict(TAG_LISTED.findall(prompt))  # the taxonomy the prompt gives: {key: definition}
    task_type = next((k for k, words in _TAG_KEYWORDS if k in listed and any(w in lowered for w in words)), None)
    if task_type is None:  # a project's own types: the one whose definition shares the most words
        words = set(WORD.findall(lowered))
        overlap = {k: len(words & set(WORD.findall(d.lower())) - _FUNCTION_WORDS) for k, d in listed.items()}
        best = max(overlap.values(), default=0)
        task_type = next((k for k, n in overlap.items() if n == best), None) if best else None
    if task_type is None:
        fallback = "open_qa" if instruction.rstrip().endswith(("?", "？")) else "generation"
        task_type = next((k for k in (fallback, "other") if k in listed), next(iter(listed), fallback))
    if is_chinese(instruction):
        chars = [c for c in instruction if "\u4e00" <= c <= "\u9fff"]
        verb = "".join(chars[:2])
        after = instruction.split("的", 1)[1] if "的" in instruction else "".join(chars[2:])
        obj = "".join(c for c in after if "\u4e00" <= c <= "\u9fff")[:2]
    else:
        words = WORD.findall(lowered)
        verb = words[0] if words else "-"
        obj = next((w for w in words[1:] if w not in _FUNCTION_WORDS and not w.isdigit()), "-")
    return f"Type: {task_type}\nVerb: {verb or '-'}\nObject: {obj or '-'}"


def evolve_reply(prompt: str) -> str:
    """The demo teacher's evolution mode (see the module docstring). Deterministic per prompt."""
    parent = EVOLVE_REQUEST.search(prompt).group(1).strip()
    chinese = is_chinese(parent)
    language = "zh" if chinese else "en"
    pick = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)
    if pick % 16 == 0:
        return "抱歉，我无法改写这条指令。" if chinese else "Sorry, I can't rewrite this instruction."
    if pick % 8 == 1:
        return parent
    frame = _EVOLVE_FRAMES[language][pick % 3]
    requirement = _EVOLVE_REQUIREMENTS[language][(pick >> 4) % 4]
    body = parent if chinese else parent[:1].lower() + parent[1:]
    return f"{frame}{body}{requirement}" if chinese else f"{frame} {body} {requirement}"


def equality_reply(prompt: str) -> str:
    groups = [g for g in EQUALITY_REQUEST.search(prompt).groups() if g is not None]
    first, second = (set(WORD.findall(text.lower())) for text in groups[:2])
    chinese = is_chinese(groups[0])
    if first == second:
        return "相同" if chinese else "Equal"
    return "不同" if chinese else "Not equal"


def judge_reply(prompt: str) -> str:
    """The demo teacher's judge mode: scores both answers of the project's judge prompt. Deterministic per
    prompt; in JUDGE_FIRST_BIAS of prompts it adds 2 to the first answer, like a judge with a position bias."""
    question, first, second = (part.strip() for part in JUDGE_REQUEST.search(prompt).groups())
    rng = random.Random(hashlib.sha256(prompt.encode("utf-8")).digest())
    one, two = _demo_grade(question, first), _demo_grade(question, second)
    if rng.random() < JUDGE_FIRST_BIAS:
        one += 2
    one, two = (max(1, min(10, round(x))) for x in (one, two))
    if one == two:
        reason = "Both answers address the request about equally well."
    else:
        better = 1 if one > two else 2
        reason = f"Answer {better} covers more of what the request asks for and develops it further."
    return f"Score 1: {one}\nScore 2: {two}\nReason: {reason}"


RATING_REQUEST = re.compile(
    r"### Instruction to rate\n(.*?)\n(?:\n### Response to rate\n(.*?)\n)?\nReply with exactly one line and nothing "
    r"else:\n(Complexity|Quality):",
    re.S,
)


def rating_reply(prompt: str) -> str:
    """The demo teacher's rating mode (llm/rating.py's prompts): complexity grows with the instruction's length and
    its clauses; quality is the judge mode's grade on 1–6. Deterministic."""
    instruction, response, what = RATING_REQUEST.search(prompt).groups()
    if what == "Complexity":
        words = len(WORD.findall(instruction)) + len(re.findall(r"[，。；,;:：]", instruction))
        return f"Complexity: {1 + min(5, words // 6)}"
    grade = _demo_grade(instruction, response or "")
    return f"Quality: {max(1, min(6, round(1 + 5 * (grade - 1) / 9)))}"
