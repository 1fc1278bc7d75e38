"""Building one generation request: choosing demonstrations and rendering the template. Pure functions."""

from __future__ import annotations

import random
from dataclasses import dataclass

from rank_bm25 import BM25Okapi

from selfinstruct.similarity import tokenize
from selfinstruct.templates_builtin import (
    CLASSIFY_EXAMPLES,
    CLASSIFY_HEADER,
    CLASSIFY_LABELS,
    INPUT_FIRST_HEADER,
    INSTANCE_WORDS,
    OUTPUT_FIRST_HEADER,
)

LANGUAGE_NAMES = {"en": ("English", "英文"), "zh": ("Chinese", "中文")}
TRIPLE_METHODS = ("alpaca", "belle")


@dataclass(frozen=True)
class Demo:
    source: str  # "seed" or "machine"
    id: int
    instruction: str
    input: str = ""
    output: str = ""


@dataclass(frozen=True)
class BuiltPrompt:
    text: str
    demos: list[Demo]
    stop: list[str]
    first_number: int  # the number of the first item the model is asked to write
    evolution: str = ""  # Evol-Instruct: the operation applied to the one demo (the parent)


def choose_human_demos(seeds: list[Demo], n: int, rng: random.Random, topic: str = "") -> list[Demo]:
    """n seeds: at random, or — with a topic — half by BM25 relevance to the topic and half at random."""
    if len(seeds) <= n:
        return list(seeds)
    if not topic.strip():
        return rng.sample(seeds, n)
    corpus = [tokenize(f"{s.instruction} {s.input}") or ["<empty>"] for s in seeds]
    scores = BM25Okapi(corpus).get_scores(tokenize(topic))
    ranked = sorted(range(len(seeds)), key=lambda i: (-scores[i], i))
    relevant_pool = [i for i in ranked[: max(n * 2, n)] if scores[i] > 0]
    n_relevant = min(len(relevant_pool), (n + 1) // 2)
    chosen = rng.sample(relevant_pool, n_relevant) if n_relevant else []
    rest = [i for i in range(len(seeds)) if i not in set(chosen)]
    chosen += rng.sample(rest, n - n_relevant)
    return [seeds[i] for i in chosen]


def _format_demo(number: int, demo: Demo, method: str, language: str) -> str:
    if method not in TRIPLE_METHODS:
        return f"{number}. {' '.join(demo.instruction.split())}"
    if method == "belle":
        return (
            f"{number}. 指令：{demo.instruction}\n{number}. 输入：\n{demo.input or '<无输入>'}\n"
            f"{number}. 输出：\n{demo.output}"
        )
    return (
        f"{number}. Instruction: {demo.instruction}\n{number}. Input:\n{demo.input or '<noinput>'}\n"
        f"{number}. Output:\n{demo.output}"
    )


def render(template: dict, *, demos: list[Demo], language: str, topic: str = "", steer: str = "") -> BuiltPrompt:
    """Fill the template snapshot ({method, body, topic_line, num_tasks}) with numbered demonstrations; `steer` (a
    line about which task types to write, for batches with quotas) goes right before them."""
    method = template["method"]
    separator = "\n###\n" if method in TRIPLE_METHODS else "\n"
    blocks = [_format_demo(i, d, method, language) for i, d in enumerate(demos, start=1)]
    demo_text = ("###\n" if method in TRIPLE_METHODS else "") + separator.join(blocks)
    if steer:
        demo_text = f"{steer}\n{demo_text}"
    next_number = len(demos) + 1
    if method in TRIPLE_METHODS:
        last_number = template["num_tasks"]
    else:
        last_number = len(demos) + template["num_tasks"] - 1
    stop_number = last_number + 1
    stop = ["\n\n", f"\n{stop_number}", f"{stop_number}."] if method not in TRIPLE_METHODS else [f"\n{stop_number}."]
    en, zh = LANGUAGE_NAMES[language]
    topic_line = template.get("topic_line", "").format(topic=topic) if topic.strip() else ""
    text = template["body"]
    for key, value in {
        "{{demos}}": demo_text,
        "{{num_tasks}}": str(template["num_tasks"]),
        "{{next_number}}": str(next_number),
        "{{last_number}}": str(last_number),
        "{{topic}}": topic_line,
        "{{language_name}}": en,
        "{{language_name_zh}}": zh,
    }.items():
        text = text.replace(key, value)
    text = text.replace("\n\n\n", "\n\n")
    return BuiltPrompt(text=text, demos=demos, stop=stop, first_number=next_number)


def render_classify(instruction: str, language: str) -> tuple[str, list[str]]:
    """Few-shot classification identification; the reply is one word (Yes/No, 是/否)."""
    task_word, answer_word = CLASSIFY_LABELS[language]
    colon = "：" if language == "zh" else ": "
    lines = [CLASSIFY_HEADER[language], ""]
    for task, answer in CLASSIFY_EXAMPLES[language]:
        lines += [f"{task_word}{colon}{task}", f"{answer_word}{colon}{answer}", ""]
    lines += [f"{task_word}{colon}{' '.join(instruction.split())}", f"{answer_word}{colon}".rstrip()]
    return "\n".join(lines), ["\n"]


def render_instances(instruction: str, language: str, *, classification: bool, demos: list[Demo]) -> str:
    """Output-first prompt (label, then input) for classification tasks, input-first otherwise; demos are seeds
    of the same kind with their real instances."""
    words = INSTANCE_WORDS[language]
    colon = "：" if language == "zh" else ": "
    header = OUTPUT_FIRST_HEADER[language] if classification else INPUT_FIRST_HEADER[language]
    blocks = [header, ""]
    for demo in demos:
        blocks.append(f"{words['task']}{colon}{demo.instruction}")
        if classification:
            blocks += [f"{words['label']}{colon}{demo.output}", f"{words['input']}{colon}{demo.input}"]
        else:
            blocks += [
                f"{words['example']} 1",
                f"{words['input']}{colon}{demo.input}",
                f"{words['output']}{colon}{demo.output}",
            ]
        blocks.append("")
    blocks.append(f"{words['task']}{colon}{' '.join(instruction.split())}")
    return "\n".join(blocks)
