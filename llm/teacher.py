"""The offline demo teacher: an OpenAI-compatible HTTP server for demos and tests on machines with no network.

It is NOT a language model. Replies are composed from a small phrase grammar written for this project and from
the seed pool (answers are the outputs of the seed task nearest the question), so the platform's real client
path — HTTP, timeouts, retries, 429s, token accounting — runs end to end without a model or a network.
It can inject faults on request: a queue of faults for the next requests and/or random fault rates.

Control API (JSON): POST /_teacher/faults {"queue": [...], "rates": {...}, "retry_after": s, "slow_seconds": s,
"seed": n}; GET /_teacher/stats; POST /_teacher/reset.
Faults: 429, 500, 503, slow, truncated, malformed, empty, reset, length.
Rating mode: llm/rating.py's complexity and quality prompts get a "Complexity: n" / "Quality: n" line (1–6).
Judge mode: a prompt in the form of llm/judge.py's judge prompt gets "Score 1/Score 2/Reason" lines from a
word-coverage heuristic, with a deliberate first-position bias in some replies.
Tagging mode: llm/tagging.py's prompt gets "Type/Verb/Object" lines: the type from keywords among the types the
prompt lists (else the listed type whose definition shares the most words with the instruction), the first words
(the verb: an English instruction's first word, a Chinese one's first two characters; the object: the next word
that is not a function word, or the two characters after 的).
Evolution mode: selfinstruct/evolution.py's evolving prompt gets the instruction back with a framing phrase and a
requirement added (long enough to pass the near-duplicate check); one reply in eight is the parent unchanged and
one in sixteen an apology, so the elimination rules run too. Its equality prompt gets "Equal" when the two texts
have the same words, else "Not equal".
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from llm.httpserver import JSONHandler, LocalServer

MODEL_ID = "demo-teacher"
DISCLAIMER = "demo teacher: replies are composed from a phrase grammar and the seed pool, not by a language model"
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
FAULTS = ("429", "500", "503", "slow", "truncated", "malformed", "empty", "reset", "length")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
WORD = re.compile(r"[a-z0-9]+|[\u3400-\u4dbf\u4e00-\u9fff]", re.IGNORECASE)

# --- phrase grammar ---------------------------------------------------------------------------------------------
# An instruction is verb + subject + audience + constraint, every part drawn independently, so that two composed
# instructions rarely share enough words to be near-duplicates (ROUGE-L > 0.7): thousands of distinct ones.
EN_VERBS = [
    "Explain",
    "Summarize the key facts about",
    "Write a short guide to",
    "List the pros and cons of",
    "Give practical advice about",
    "Compare two approaches to",
    "Describe common misconceptions about",
    "Draft a short speech about",
    "Create a checklist for",
    "Suggest five questions to ask about",
    "Tell a short story involving",
    "Write a haiku about",
    "Propose a weekend plan around",
    "Identify the main risks of",
    "Outline a lesson plan on",
    "Write a product description for a course on",
    "Argue for and against",
    "Invent a catchy slogan for",
    "Draft a polite email asking for help with",
    "Classify these statements about",
    "Design a quiz about",
    "Recommend three resources for learning",
    "Describe a typical day of someone working in",
    "Rewrite a dull sentence about",
]
EN_SUBJECTS = [
    "compound interest",
    "sourdough baking",
    "solar panels",
    "remote work",
    "password managers",
    "urban gardening",
    "electric bicycles",
    "public libraries",
    "sleep hygiene",
    "volunteering",
    "recycling plastics",
    "learning a second language",
    "board games",
    "marathon training",
    "coral reefs",
    "budget travel",
    "open-source software",
    "houseplants",
    "job interviews",
    "rainwater harvesting",
    "chess openings",
    "meal prepping",
    "time zones",
    "noise-cancelling headphones",
    "bird watching",
    "credit scores",
    "3D printing",
    "first aid",
    "composting",
    "public speaking",
    "jazz improvisation",
    "carpooling",
    "tea ceremonies",
    "mountain hiking",
    "spreadsheet formulas",
    "museum visits",
    "the causes of inflation",
    "how vaccines work",
    "renting your first flat",
    "negotiating a salary",
    "caring for an elderly dog",
    "writing a cover letter",
    "the water cycle",
    "basic car maintenance",
    "saving for retirement",
    "reducing food waste",
    "choosing a laptop",
    "the history of printing",
]
EN_AUDIENCES = [
    "",
    "",
    " for a busy parent",
    " for first-year university students",
    " for a retired engineer",
    " for a small bakery owner",
    " for a ten-year-old",
    " for a nervous beginner",
    " for a team of nurses",
    " for someone moving abroad",
    " for a sceptical teenager",
    " for a rural book club",
]
EN_CONSTRAINTS = [
    "",
    "",
    " in under 60 words",
    " as a numbered list",
    " using one vivid analogy",
    " with a concrete example",
    " in a cheerful tone",
    " without any jargon",
    " in exactly three sentences",
    " ending with a question",
    " in the style of a radio announcer",
    " with a short summary at the end",
]

ZH_VERBS = [
    "解释",
    "概括一下关于",
    "写一份简短的入门指南，主题是",
    "列出优点和缺点：",
    "给出实用建议，关于",
    "比较两种做法，主题是",
    "指出常见的误解，关于",
    "写一段简短的演讲稿，谈谈",
    "做一份清单，用于",
    "提出五个值得思考的问题，关于",
    "讲一个小故事，情节涉及",
    "写一首小诗，描写",
    "安排一个周末计划，围绕",
    "说明主要风险，关于",
    "设计一节课的教案，讲授",
    "为一门课程写简介，课程内容是",
    "分别论证支持和反对",
    "为下面的主题想一句口号：",
    "写一封礼貌的求助邮件，请教",
    "出一套小测验，考查",
    "推荐三个学习资源，用于学习",
]
ZH_SUBJECTS = [
    "复利",
    "家庭烘焙",
    "太阳能板",
    "远程办公",
    "密码管理",
    "城市种菜",
    "电动自行车",
    "公共图书馆",
    "睡眠习惯",
    "志愿服务",
    "垃圾分类",
    "学习外语",
    "桌游",
    "马拉松训练",
    "珊瑚礁保护",
    "穷游",
    "开源软件",
    "养绿植",
    "求职面试",
    "雨水收集",
    "下围棋",
    "备餐",
    "时区换算",
    "观鸟",
    "信用记录",
    "3D打印",
    "急救知识",
    "堆肥",
    "公开演讲",
    "拼车出行",
    "茶艺",
    "登山",
    "电子表格公式",
    "逛博物馆",
    "通货膨胀的成因",
    "疫苗的原理",
    "第一次租房",
    "谈薪水",
    "照顾老年犬",
    "写求职信",
    "水循环",
    "汽车日常保养",
    "养老储蓄",
    "减少食物浪费",
]
ZH_AUDIENCES = [
    "",
    "",
    "面向忙碌的父母，",
    "面向大一新生，",
    "面向退休工程师，",
    "面向小店老板，",
    "面向十岁的孩子，",
    "面向紧张的新手，",
    "面向护士团队，",
    "面向准备出国的人，",
    "面向乡村读书会，",
]
ZH_CONSTRAINTS = [
    "",
    "",
    "，不超过六十字",
    "，用编号列表的形式",
    "，用一个生动的比喻",
    "，并举一个具体例子",
    "，语气轻松活泼",
    "，不要使用专业术语",
    "，恰好用三句话",
    "，最后以一个问题结尾",
    "，结尾附一句总结",
]


def is_chinese(text: str) -> bool:
    cjk = len(CJK.findall(text))
    letters = sum(ch.isalpha() for ch in text)
    return cjk > 0 and cjk >= 0.3 * max(letters, 1)


def count_tokens(text: str) -> int:
    """A rough, deterministic token count (words and CJK characters) for usage reporting."""
    return len(WORD.findall(text)) + sum(1 for ch in text if not ch.isalnum() and not ch.isspace()) // 2


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


def apply_stop(text: str, stop) -> str:
    """Cut the text at the first stop sequence, as an OpenAI-compatible server does."""
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    cut = min((text.find(s) for s in stops if s and s in text), default=-1)
    return text if cut < 0 else text[:cut]


@dataclass
class FaultPlan:
    queue: list[str] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)
    retry_after: float = 1.0
    slow_seconds: float = 5.0
    latency_ms: int = 0


class TeacherState:
    def __init__(self, seed_pool: list[dict], seed: int = 0, plan: FaultPlan | None = None):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.composer = Composer(seed_pool, random.Random(seed + 1))
        self.plan = plan or FaultPlan()
        self.reset_stats()

    def reset_stats(self) -> None:
        with self.lock:
            self.requests = 0
            self.completed = 0
            self.faults: dict[str, int] = {}
            self.inflight = 0
            self.max_inflight = 0

    def next_fault(self) -> str | None:
        with self.lock:
            self.requests += 1
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
            fault = self.plan.queue.pop(0) if self.plan.queue else None
            if fault is None:
                for name, rate in self.plan.rates.items():
                    if self.rng.random() < rate:
                        fault = name
                        break
            if fault:
                self.faults[fault] = self.faults.get(fault, 0) + 1
            return fault

    def leave(self) -> None:
        """The request stops counting as in flight (called as its answer starts, before the client can see it)."""
        with self.lock:
            self.inflight -= 1

    def done(self, completed: bool) -> None:
        with self.lock:
            self.completed += int(completed)

    def stats(self) -> dict:
        with self.lock:
            return {
                "requests": self.requests,
                "completed": self.completed,
                "faults": dict(self.faults),
                "inflight": self.inflight,
                "max_inflight": self.max_inflight,
                "queued_faults": list(self.plan.queue),
            }

    def configure(self, body: dict) -> None:
        unknown = [f for f in list(body.get("queue", [])) + list(body.get("rates", {})) if f not in FAULTS]
        if unknown:
            raise ValueError(f"unknown fault(s) {unknown}; known: {list(FAULTS)}")
        with self.lock:
            if "queue" in body:
                self.plan.queue = list(body["queue"])
            if "rates" in body:
                self.plan.rates = {k: float(v) for k, v in body["rates"].items()}
            for key in ("retry_after", "slow_seconds"):
                if key in body:
                    setattr(self.plan, key, float(body[key]))
            if "latency_ms" in body:
                self.plan.latency_ms = int(body["latency_ms"])
            if "seed" in body:
                self.rng.seed(int(body["seed"]))


class _Handler(JSONHandler):
    server: TeacherServer

    # -- routes --
    def do_GET(self):
        state = self.server.state
        if self.path.rstrip("/") == "/v1/models":
            self._json(
                200,
                {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": DISCLAIMER}]},
            )
        elif self.path == "/_teacher/stats":
            self._json(200, state.stats())
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self):
        state = self.server.state
        try:
            body = self._body()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self._json(400, {"error": {"message": f"request body is not JSON: {exc}", "type": "invalid_request"}})
            return
        if self.path == "/_teacher/faults":
            try:
                state.configure(body)
            except (ValueError, TypeError) as exc:
                self._json(400, {"error": {"message": str(exc), "type": "invalid_request"}})
                return
            self._json(200, state.stats())
            return
        if self.path == "/_teacher/reset":
            state.reset_stats()
            self._json(200, state.stats())
            return
        route = self.path.rstrip("/")
        if route == "/v1/chat/completions":
            self._complete(body, chat=True)
        elif route == "/v1/completions":
            self._complete(body, chat=False)
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def send_response(self, code, message=None):
        # A completion stops being in flight before its first byte is sent: otherwise a client that got its answer
        # (and released its concurrency slot) could start the next call while this thread still counts the last one.
        if getattr(self, "_in_flight", False):
            self._in_flight = False
            self.server.state.leave()
        super().send_response(code, message)

    def _complete(self, body: dict, *, chat: bool) -> None:
        state = self.server.state
        fault = state.next_fault()
        self._in_flight = True
        completed = False
        try:
            if chat:
                messages = body.get("messages")
                if not isinstance(messages, list) or not messages:
                    self._json(400, {"error": {"message": "messages must be a non-empty list", "type": "invalid"}})
                    return
                prompt = "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
            else:
                prompt = body.get("prompt")
                if isinstance(prompt, list):
                    prompt = "\n".join(map(str, prompt))
                if not isinstance(prompt, str):
                    self._json(400, {"error": {"message": "prompt must be a string", "type": "invalid"}})
                    return
            if state.plan.latency_ms:
                time.sleep(state.plan.latency_ms / 1000 * random.uniform(0.5, 1.5))
            if self._inject(fault):
                return
            n = max(1, min(int(body.get("n") or 1), 16))
            max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 1024)
            with state.lock:
                texts = [apply_stop(state.composer.reply(prompt), body.get("stop")) for _ in range(n)]
            choices = []
            for index, text in enumerate(texts):
                finish = "stop"
                if fault == "length" or count_tokens(text) > max_tokens:
                    text, finish = (
                        _truncate(text, max_tokens if fault != "length" else count_tokens(text) // 2),
                        "length",
                    )
                if chat:
                    choices.append(
                        {"index": index, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
                    )
                else:
                    choices.append({"index": index, "text": text, "finish_reason": finish, "logprobs": None})
            prompt_tokens = count_tokens(prompt)
            completion_tokens = sum(count_tokens(t) for t in texts)
            self._json(
                200,
                {
                    "id": f"teacher-{uuid.uuid4().hex[:12]}",
                    "object": "chat.completion" if chat else "text_completion",
                    "created": int(time.time()),
                    "model": body.get("model") or MODEL_ID,
                    "system_fingerprint": MODEL_ID,
                    "choices": choices,
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "total_tokens": prompt_tokens + completion_tokens,
                    },
                },
            )
            completed = True
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout); nothing to answer
        finally:
            if self._in_flight:  # dropped without an answer
                self._in_flight = False
                state.leave()
            state.done(completed)

    def _inject(self, fault: str | None) -> bool:
        """Play the fault; True when the request has been answered (or dropped) by it."""
        plan = self.server.state.plan
        if fault in ("429", "500", "503"):
            headers = {"Retry-After": f"{plan.retry_after:g}"} if fault in ("429", "503") else {}
            kind = {"429": "rate_limit_exceeded", "500": "server_error", "503": "overloaded"}[fault]
            self._json(int(fault), {"error": {"message": f"injected {fault} ({DISCLAIMER})", "type": kind}}, headers)
            return True
        if fault == "slow":
            time.sleep(plan.slow_seconds)
            return False
        if fault == "malformed":
            data = b'{"id": "teacher", "choices": [{"index": 0, "message": {"content": "unterminated'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return True
        if fault == "truncated":
            data = b'{"id": "teacher", "object": "chat.completion", "choices": ['
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data) + 500))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if fault == "empty":
            self._json(
                200,
                {
                    "id": "teacher",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": MODEL_ID,
                    "choices": [],
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                },
            )
            return True
        if fault == "reset":
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.close()
            return True
        return False


def _truncate(text: str, max_tokens: int) -> str:
    out, used = [], 0
    for piece in re.findall(r"\S+\s*", text):
        used += count_tokens(piece)
        if used > max_tokens:
            break
        out.append(piece)
    return "".join(out)


class TeacherServer(LocalServer):
    thread_name = "demo-teacher"

    def __init__(self, host: str, port: int, state: TeacherState, verbose: bool = False):
        self.state = state
        self.verbose = verbose
        super().__init__((host, port), _Handler)


def default_seed_files() -> list[Path]:
    folder = Path(__file__).resolve().parent.parent / "selfinstruct" / "demo_seeds"
    return sorted(folder.glob("*.jsonl"))


def make_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    seed: int = 0,
    seed_files: list[Path] | None = None,
    plan: FaultPlan | None = None,
    verbose: bool = False,
) -> TeacherServer:
    pool = load_seed_pool(seed_files or default_seed_files())
    return TeacherServer(host, port, TeacherState(pool, seed=seed, plan=plan), verbose=verbose)
