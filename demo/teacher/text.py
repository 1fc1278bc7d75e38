"""The demo teacher's words: the phrase grammar its instructions are composed from, its model id and disclaimer,
and the helpers every reply mode uses (language detection, a rough token count, stop sequences)."""

from __future__ import annotations

import re

MODEL_ID = "demo-teacher"
DISCLAIMER = "demo teacher: replies are composed from a phrase grammar and the seed pool, not by a language model"
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


def apply_stop(text: str, stop) -> str:
    """Cut the text at the first stop sequence, as an OpenAI-compatible server does."""
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    cut = min((text.find(s) for s in stops if s and s in text), default=-1)
    return text if cut < 0 else text[:cut]
