"""The task-type taxonomy accepted instructions are tagged with (by the rating run's tagger, llm/tagging.py):
BELLE's categories, each with its key (what is stored), its English and Chinese names and the one-line definition
the tagger is given. An instruction gets exactly one type; `other` takes what fits none.
"""

from __future__ import annotations

TASK_TYPES: dict[str, tuple[str, str, str]] = {
    "brainstorming": ("Brainstorming", "头脑风暴", "produce several ideas, names, options or suggestions"),
    "open_qa": ("Open QA", "开放式问答", "answer a question from general knowledge, with no passage given"),
    "closed_qa": ("Closed QA", "封闭式问答", "answer a question from a passage or data that the task gives"),
    "rewrite": ("Rewrite", "改写", "rewrite, edit, paraphrase, correct or change the style of a given text"),
    "extraction": ("Extraction", "信息抽取", "pull specific items (names, dates, fields) out of a given text"),
    "generation": ("Generation", "生成", "write new text: a story, poem, letter, description, plan or essay"),
    "classification": ("Classification", "分类", "choose a label from a small, fixed set for the given input"),
    "math": ("Math", "数学", "compute or reason with numbers, equations or quantities"),
    "code": ("Code", "代码", "write, explain, fix or translate program code or queries"),
    "summarization": ("Summarization", "摘要", "shorten a given text or say its main points"),
    "translation": ("Translation", "翻译", "translate a text from one language to another"),
    "other": ("Other", "其他", "none of the above"),
}


def type_name(key: str, language: str = "en") -> str:
    names = TASK_TYPES.get(key)
    if names is None:
        return key
    return names[1] if language.startswith("zh") else names[0]


def tagger_types() -> list[tuple[str, str]]:
    """(key, definition) pairs in the order the tagger is shown them."""
    return [(key, definition) for key, (_, _, definition) in TASK_TYPES.items()]


def steering_line(language: str, counts: dict[str, int], quotas: dict[str, int]) -> str:
    """The prompt line of a batch with quotas: the types still under their quota to prefer, those at it to avoid."""
    zh = language.startswith("zh")
    under = [key for key, quota in quotas.items() if counts.get(key, 0) < quota]
    full = [key for key, quota in quotas.items() if counts.get(key, 0) >= quota]
    parts = []
    if under:
        kinds = ("、" if zh else ", ").join(f"{type_name(k, language)}({TASK_TYPES[k][2]})" for k in under)
        parts.append(f"优先写这些类型的任务：{kinds}。" if zh else f"Prefer tasks of these kinds: {kinds}.")
    if full:
        kinds = ("、" if zh else ", ").join(type_name(k, language) for k in full)
        parts.append(f"不要再写这些类型的任务：{kinds}。" if zh else f"Write no more tasks of these kinds: {kinds}.")
    return " ".join(parts)
