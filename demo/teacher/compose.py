"""Composes the demo teacher's replies: a numbered task list continued or written from the phrase grammar, an
instruction's examples, a classification answer, or an answer taken from the seed pool; prompts of the project's
judge, rating, tagging and evolution forms go to their modes."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from demo.teacher.modes import (
    EQUALITY_REQUEST,
    EVOLVE_REQUEST,
    JUDGE_REQUEST,
    RATING_REQUEST,
    TAG_REQUEST,
    equality_reply,
    evolve_reply,
    judge_reply,
    rating_reply,
    tag_reply,
)
from demo.teacher.text import (
    EN_AUDIENCES,
    EN_CONSTRAINTS,
    EN_SUBJECTS,
    EN_VERBS,
    WORD,
    ZH_AUDIENCES,
    ZH_CONSTRAINTS,
    ZH_SUBJECTS,
    ZH_VERBS,
    is_chinese,
)

CLASSIFY_HINTS = (
    "classify",
    "decide whether",
    "decide if",
    "whether",
    "which of",
    "fact or opinion",
    "spam",
    "sentiment",
    "identify the language",
    "判断",
    "是否",
    "哪个",
    "分类",
    "属于",
    "哪种",
)


def load_seed_pool(paths: list[Path]) -> list[dict]:
    pool: list[dict] = []
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                pool.append({"instruction": row["instruction"], "instances": row.get("instances") or []})
    return pool


class Composer:
    """Composes instruction lists and answers. Deterministic for a given seed and request sequence."""

    def __init__(self, seed_pool: list[dict], rng: random.Random):
        self.pool = seed_pool
        self.rng = rng
        self._index = [(set(WORD.findall(row["instruction"].lower())), row) for row in seed_pool]

    def instruction(self, chinese: bool) -> str:
        pick = self.rng.choice
        if chinese:
            return f"{pick(ZH_AUDIENCES)}{pick(ZH_VERBS)}{pick(ZH_SUBJECTS)}{pick(ZH_CONSTRAINTS)}。"
        return f"{pick(EN_VERBS)} {pick(EN_SUBJECTS)}{pick(EN_AUDIENCES)}{pick(EN_CONSTRAINTS)}."

    def answer(self, question: str, chinese: bool) -> str:
        words = set(WORD.findall(question.lower()))
        scored = sorted(self._index, key=lambda item: (-len(words & item[0]), self.rng.random()))
        candidates = [row for _, row in scored[:5] if row["instances"]] or [r for r in self.pool if r["instances"]]
        if not candidates:
            return "这是演示教师的回答。" if chinese else "This is the demo teacher's answer."
        row = self.rng.choice(candidates)
        return self.rng.choice(row["instances"])["output"] or ("（无内容）" if chinese else "(no content)")

    def classify(self, task: str, chinese: bool) -> str:
        yes = any(k in task.lower() for k in CLASSIFY_HINTS)
        return ("是" if yes else "否") if chinese else ("Yes" if yes else "No")

    def instances(self, task: str, chinese: bool, output_first: bool) -> str:
        """Examples for a task: 'Class label:'/'Input:' blocks (output-first) or 'Example n' blocks."""
        inputs = [i["input"] for row in self.pool for i in row["instances"] if i.get("input")]
        inputs = [x for x in inputs if is_chinese(x) == chinese] or inputs or ["…"]
        chosen = self.rng.sample(inputs, min(3, len(inputs)))
        colon = "：" if chinese else ": "
        if output_first:
            labels = ["是", "否"] if chinese else ["Yes", "No"]
            word_label, word_input = ("类别", "输入") if chinese else ("Class label", "Input")
            return "\n".join(
                f"{word_label}{colon}{label}\n{word_input}{colon}{text}"
                for label, text in zip(labels, chosen, strict=False)
            )
        word_example, word_input, word_output = ("示例", "输入", "输出") if chinese else ("Example", "Input", "Output")
        blocks = []
        for n, text in enumerate(chosen, start=1):
            answer = self.answer(task + " " + text, chinese)
            blocks.append(f"{word_example} {n}\n{word_input}{colon}{text}\n{word_output}{colon}{answer}")
        return "\n\n".join(blocks)

    def reply(self, prompt: str) -> str:
        """Continue a numbered task list if the prompt holds one; otherwise answer the question.

        - the prompt ends with an opened item ("9."): continue from there (the number is not repeated);
        - the prompt asks for N tasks in instruction/input/output form: write the items after the demos, up to N;
        - the prompt asks for N tasks: write N numbered instructions.
        """
        if JUDGE_REQUEST.search(prompt):
            return judge_reply(prompt)
        if RATING_REQUEST.search(prompt):
            return rating_reply(prompt)
        if TAG_REQUEST.search(prompt):
            return tag_reply(prompt)
        if EVOLVE_REQUEST.search(prompt):
            return evolve_reply(prompt)
        if EQUALITY_REQUEST.search(prompt):
            return equality_reply(prompt)
        lines = prompt.rstrip().splitlines()
        last = lines[-1] if lines else ""
        if re.match(r"^\s*(Classification|是否分类任务)\s*[:：]\s*$", last):
            task = re.sub(r"^\s*(Task|任务)\s*[:：]\s*", "", lines[-2] if len(lines) > 1 else "")
            return self.classify(task, is_chinese(task))
        if re.match(r"^\s*(Task|任务)\s*[:：]", last) and re.search(r"(Input|输入)", prompt):
            task = re.sub(r"^\s*(Task|任务)\s*[:：]\s*", "", last)
            return self.instances(task, is_chinese(task), output_first=bool(re.search(r"Class label|类别：", prompt)))
        triples = ("指令" in prompt and "输出" in prompt) or ("Instruction:" in prompt and "Output:" in prompt)
        field = r"(?:Instruction|指令)\s*[:：]\s*(.+)$" if triples else "(.+)$"
        item_pattern = r"(?m)^\s*(\d{1,3})\s*[.、．]\s*" + field
        demo_items = re.findall(item_pattern, prompt)
        chinese = is_chinese(" ".join(text for _, text in demo_items)) if demo_items else is_chinese(prompt)
        opened = re.search(r"(?:^|\n)\s*(\d{1,3})\s*[.、．]\s*$", prompt)
        asked = re.search(r"(\d{1,3})\s*(?:个|条|道)?[^\d\n]{0,12}?(?:tasks|instructions|任务|指令)", prompt, re.I)
        numbers = [int(number) for number, _ in demo_items]
        if opened:
            start, end = int(opened.group(1)), int(opened.group(1)) + 11
        elif asked and triples:
            start, end = (max(numbers) + 1 if numbers else 1), int(asked.group(1))
        elif asked:
            start, end = 1, int(asked.group(1))
        else:
            return self.answer(prompt, chinese)
        items = []
        for number in range(start, min(end, start + 40) + 1):
            instruction = self.instruction(chinese)
            if triples:
                noinput = "<无输入>" if chinese else "<noinput>"
                answer = self.answer(instruction, chinese)
                if chinese:
                    items.append(
                        f"{number}. 指令：{instruction}\n{number}. 输入：\n{noinput}\n{number}. 输出：\n{answer}"
                    )
                else:
                    items.append(
                        f"{number}. Instruction: {instruction}\n{number}. Input:\n{noinput}\n"
                        f"{number}. Output:\n{answer}"
                    )
            else:
                items.append(f"{number}. {instruction}")
        text = ("\n###\n" if triples else "\n").join(items)
        if triples:
            text = "\n" + text
        if opened:
            text = " " + text[len(f"{start}.") :].lstrip()  # the prompt already holds the number
        return text
