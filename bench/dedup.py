"""Near-duplicate filtering at 10K–1M instructions: our exact index vs the Alpaca method and rank_bm25.

Builds pools from real text first (the seed files and eval sets in ../shared/data, our demo seeds), then a seeded
generator of near-paraphrases (word edits, reorderings, insertions; English and Chinese) up to each size, and
measures in the same run:
- ours: build time, memory, p50/p99 time per candidate for the keep/reject decision (ROUGE-L > 0.7), also split
  into candidates that are near-duplicates (the probe stops at the first one) and those that are not (the whole
  probe runs), and the exact top-10 the engine stores for accepted rows;
- the Alpaca method (rouge_score against every pool item) on a sample of candidates, for the speed ratio;
- rank_bm25's get_scores (no incremental add; loops over every document);
- correctness: decisions that differ from exhaustive brute force on sampled candidates (a third near the
  threshold, 0.6–0.8), and Chinese near-duplicates that the reference tokenizer scores 0.
Writes a JSON result and a log-log plot.

    .venv/bin/python bench/dedup.py                      # 10K, 50K, 200K, 1M (about 20 minutes on 2 cores)
    .venv/bin/python bench/dedup.py --sizes 10000,50000  # quicker
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from selfinstruct.neardup import NearDuplicateIndex  # noqa: E402
from selfinstruct.similarity import tokenize  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
THRESHOLD = 0.7


def real_texts() -> list[str]:
    texts: list[str] = []
    for name in ("self_instruct_seed_tasks.jsonl", "belle_zh_seed_tasks.jsonl"):
        path = SHARED / name
        if path.exists():
            texts += [json.loads(line)["instruction"] for line in path.read_text().splitlines() if line.strip()]
    path = SHARED / "self_instruct_human_eval" / "user_oriented_instructions.jsonl"
    if path.exists():
        texts += [json.loads(line)["instruction"] for line in path.read_text().splitlines() if line.strip()]
    path = SHARED / "belle_eval_set.jsonl"
    if path.exists():
        texts += [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]
    for path in sorted((REPO / "selfinstruct" / "demo_seeds").glob("*.jsonl")):
        texts += [json.loads(line)["instruction"] for line in path.read_text().splitlines() if line.strip()]
    return [t for t in texts if t.strip()]


class Paraphraser:
    """Seeded near-paraphrases: word (or, for Chinese, character) substitutions, insertions, swaps, drops."""

    def __init__(self, texts: list[str], seed: int = 0):
        self.rng = random.Random(seed)
        self.en_vocab = sorted({w for t in texts for w in t.split() if w.isascii()})
        self.zh_vocab = sorted({c for t in texts for c in t if "\u4e00" <= c <= "\u9fff"})

    def __call__(self, text: str, edits: int) -> str:
        chinese = sum("\u4e00" <= c <= "\u9fff" for c in text) > len(text) / 4
        units = list(text) if chinese else text.split()
        vocab = self.zh_vocab if chinese else self.en_vocab
        for _ in range(edits):
            op = self.rng.random()
            if op < 0.35 and units:
                units[self.rng.randrange(len(units))] = self.rng.choice(vocab)
            elif op < 0.65:
                units.insert(self.rng.randrange(len(units) + 1), self.rng.choice(vocab))
            elif op < 0.85 and len(units) > 1:
                i, j = self.rng.randrange(len(units)), self.rng.randrange(len(units))
                units[i], units[j] = units[j], units[i]
            elif len(units) > 2:
                units.pop(self.rng.randrange(len(units)))
        return ("" if chinese else " ").join(units)


class Formulaic:
    """Seeded formulaic instructions, as a teacher that has run for a while writes them: verb + object phrase +
    topic + an optional constraint, each slot composed from small word lists (about a thousand distinct tokens in
    all), 8–20 tokens, one third Chinese (one token per character). Every token is frequent, yet two compositions
    rarely share more than the frame and a word or two."""

    EN_VERBS = (
        "summarize explain list describe compare outline draft write suggest name identify rank plan review rewrite "
        "classify estimate analyze recommend evaluate critique simplify contrast define prioritize justify sketch "
        "predict propose clarify"
    ).split()
    EN_COUNTS = "the two three four five six seven ten".split()
    EN_QUALITIES = (
        "key main hidden common practical typical first basic best worst major minor urgent surprising overlooked "
        "recurring essential useful creative cheap expensive legal ethical technical emotional social daily weekly "
        "early late simple costly risky safe quick slow frequent rare likely unlikely"
    ).split()
    EN_HEADS = (
        "dates risks costs tips steps mistakes questions lessons benefits goals roles rules tools metrics problems "
        "arguments trade-offs factors ideas examples reasons causes effects options priorities deadlines habits "
        "signs myths needs skills duties limits trends stages parts features tasks changes fears"
    ).split()
    EN_LINKS = "of in for about behind around".split()
    EN_ADJECTIVES = (
        "small large local remote online urban rural annual monthly weekly new old green digital public private "
        "quiet busy modern classic simple complex global regional student family community corporate seasonal "
        "charity outdoor indoor virtual hybrid historic creative technical medical financial cultural sports "
        "winter summer spring autumn coastal mountain budget luxury healthy organic mobile national open shared "
        "short long early late fast slow friendly formal casual weekend holiday evening morning daily "
        "affordable ambitious bilingual careful cheerful crowded elegant emergency experimental fair "
        "flexible fragile generous gentle grand humble independent informal intense joint lively minimal "
        "neighborhood nonprofit nightly noisy official ongoing peaceful popular premium quarterly rapid "
        "regular relaxed reliable rustic scenic secure silent smart social solar steady strict sunny "
        "tiny traditional trial unusual vintage visual volunteer warm wild wireless young"
    ).split()
    EN_NOUNS = (
        "product launch school trip wedding conference garden bakery library museum hospital startup festival "
        "marathon hackathon workshop webinar podcast newsletter campaign election fundraiser exhibition concert "
        "restaurant cafe hotel airport train station bridge park playground farm factory warehouse office "
        "classroom lab clinic pharmacy gym pool stadium theater cinema bookstore market mall kitchen apartment "
        "house neighborhood village city island river lake forest beach desert volcano glacier camp hike cruise "
        "flight road move renovation interview internship job search promotion retirement loan "
        "mortgage tax return insurance claim website app database server network cloud migration release "
        "update outage backup security audit code review sprint meeting retrospective onboarding training "
        "course exam thesis essay report presentation speech debate survey study experiment recipe dinner "
        "party picnic barbecue birthday anniversary reunion program donation drive cleanup recycling "
        "energy water system transport policy housing project bike lane bus route parking lot "
        "aquarium bank barbershop boutique brewery canteen castle cathedral ceremony choir circus "
        "club coffee contest court dance dentist diner dorm embassy expo ferry fire drill fishing "
        "florist gallery garage harbor harvest helpdesk hostel inn jazz kindergarten laundry lecture lighthouse "
        "lottery magazine mayor meetup mentor monastery motel mural newsroom nursery opera orchard orchestra "
        "parade pier pilgrimage planetarium pottery quiz radio raffle ranch regatta rodeo sailing salon sauna "
        "seminar shelter shipyard ski resort spa studio subway summit supermarket tailor temple tennis "
        "tournament tram tunnel university vineyard yoga zoo"
    ).split()
    EN_GROUPS = (
        "small teams,new parents,students,teachers,nurses,engineers,farmers,retirees,tourists,beginners,"
        "managers,designers,writers,volunteers,children,teenagers,seniors,researchers,shop owners,drivers,"
        "night shift workers,first year students,remote workers,local artists,city officials,small investors"
    ).split(",")
    EN_CONSTRAINTS = [
        "in under {n} words",
        "in {k} sentences",
        "as a {style} list",
        "for {g}",
        "with a {tone} tone",
        "using {tone} language",
        "in a {tone} style",
        "without jargon",
        "in a table with {k} columns",
        "with {k} examples",
        "in {k} short points",
        "for a {n} word blog post",
        "ending with a {tone} summary",
    ]
    EN_STYLES = "bulleted numbered ranked short annotated".split()
    EN_TONES = "friendly formal playful neutral warm serious simple plain".split()
    EN_NUMBERS = (50, 80, 100, 120, 150, 200, 250, 300)
    ZH_VERBS = (
        "总结 解释 列出 描述 比较 概述 起草 撰写 建议 说明 评估 分析 推荐 改写 归纳 规划 预测 列举 点评 梳理"
    ).split()
    ZH_COUNTS = "三个 五个 两条 几点 四项 主要 关键 全部".split()
    ZH_HEADS = (
        "日期 风险 成本 建议 步骤 错误 问题 教训 好处 目标 角色 规则 工具 指标 论点 因素 方案 例子 原因 影响 "
        "选项 要点 期限 习惯 误区 需求 技能 职责 限制 趋势 阶段 特点 任务 变化 顾虑"
    ).split()
    ZH_ADJECTIVES = (
        "小型 大型 本地 线上 城市 乡村 年度 每月 新 老 绿色 数字 公共 私人 安静 繁忙 现代 经典 社区 企业 户外 室内 "
        "冬季 夏季 海边 山区 健康 周末 假日 清晨 平价 高端 双语 热闹 临时 传统 智能 低碳 亲子 校园 跨国 夜间 季度 "
        "紧急 试点 免费 民间 官方 露天 环保"
    ).split()
    ZH_NOUNS = (
        "产品发布 学校旅行 婚礼 会议 花园 面包店 图书馆 博物馆 医院 创业公司 音乐节 马拉松 工作坊 讲座 播客 简报 "
        "选举 展览 音乐会 餐厅 咖啡馆 酒店 机场 车站 公园 农场 工厂 仓库 办公室 教室 实验室 诊所 健身房 剧院 书店 "
        "市场 厨房 公寓 小区 村庄 岛屿 河流 湖泊 森林 海滩 露营 徒步 航班 搬家 装修 面试 实习 求职 退休 贷款 保险 "
        "网站 应用 数据库 服务器 网络 迁移 备份 安全审计 代码评审 例会 入职 培训 课程 考试 论文 报告 演讲 "
        "辩论 调查 实验 食谱 晚宴 聚会 野餐 生日 周年庆 志愿活动 捐赠 清洁 回收 能源 交通 住房 自行车道 公交线路 "
        "停车场 水族馆 银行 理发店 酿酒厂 食堂 城堡 典礼 合唱团 马戏团 舞会 牙科 宿舍 使馆 博览会 渡轮 消防演习 "
        "钓鱼 花店 画廊 车库 港口 丰收节 客服台 旅舍 爵士乐 幼儿园 洗衣房 灯塔 杂志 市长 导师 寺庙 汽车旅馆 壁画 "
        "编辑部 托儿所 歌剧 果园 乐团 游行 码头 天文馆 陶艺 竞猜 电台 牧场 赛艇 帆船 沙龙 收容所 船厂 滑雪场 "
        "温泉 工作室 地铁 峰会 超市 裁缝店 网球赛 锦标赛 电车 隧道 大学 葡萄园 瑜伽课 动物园 茶馆 书法班 庙会 "
        "夜市 灯会 广场舞"
    ).split()
    ZH_CONSTRAINTS = (
        "不超过{n}字 用{k}句话 以列表形式 面向初学者 语言简洁 语气友好 风格正式 不用术语 用表格 附{k}个例子 分{k}点"
    ).split()
    ZH_DIGITS = "两三四五六七八"

    def __init__(self, seed: int = 0, skew: float = 0.3, extra: float = 0.6):
        self.rng = random.Random(seed)
        self.skew = skew
        self.extra = extra
        self._weights: dict[int, list[float]] = {}

    def _pick(self, options):
        # skewed: the first options of every list are chosen more often (rank^-skew)
        weights = self._weights.get(len(options))
        if weights is None:
            weights = self._weights[len(options)] = [1 / (r + 1) ** self.skew for r in range(len(options))]
        return self.rng.choices(options, weights)[0]

    def english(self) -> str:
        rng, pick = self.rng, self._pick
        topic = " ".join(
            ([pick(self.EN_ADJECTIVES)] if rng.random() < 0.7 else [])
            + [pick(self.EN_NOUNS)]
            + ([pick(self.EN_NOUNS)] if rng.random() < 0.4 else [])
        )
        article = "an" if topic[0] in "aeiou" else "a"
        verb = pick(self.EN_VERBS)
        what = [pick(self.EN_COUNTS)] + ([pick(self.EN_QUALITIES)] if rng.random() < 0.8 else [])
        what.append(pick(self.EN_HEADS))
        if rng.random() < 0.3:  # the topic first: "For a X, list the Y"
            parts = ["for", article, topic, verb, *what]
        else:
            parts = [verb, *what, pick(self.EN_LINKS), article, topic]
        if rng.random() < self.extra:
            parts += ["for", pick(self.EN_GROUPS)]
        for _ in range(1 + (rng.random() < self.extra)):
            if rng.random() > 0.7:
                continue
            # a constraint after or, as often, before
            constraint = pick(self.EN_CONSTRAINTS).format(
                n=pick(self.EN_NUMBERS),
                k=pick(self.EN_COUNTS[1:]),
                g=pick(self.EN_GROUPS),
                style=pick(self.EN_STYLES),
                tone=pick(self.EN_TONES),
            )
            parts = [constraint, *parts] if rng.random() < 0.5 else [*parts, constraint]
        text = " ".join(parts)
        return text[0].upper() + text[1:] + "."

    def chinese(self) -> str:
        rng, pick = self.rng, self._pick
        topic = (pick(self.ZH_ADJECTIVES) if rng.random() < 0.7 else "") + pick(self.ZH_NOUNS)
        determiner = rng.choice(("一次", "一个", "这次", "某个", ""))
        verb, what = pick(self.ZH_VERBS), pick(self.ZH_COUNTS) + pick(self.ZH_HEADS)
        if rng.random() < 0.3:  # the topic first: "关于X,列出Y"
            text = "关于" + determiner + topic + "," + verb + what
        else:
            text = verb + determiner + topic + "的" + what
        for _ in range(1 + (rng.random() < self.extra)):
            if rng.random() > 0.7:
                continue
            # a constraint after or, as often, before
            constraint = pick(self.ZH_CONSTRAINTS).format(n=pick(self.EN_NUMBERS), k=pick(self.ZH_DIGITS))
            text = constraint + "," + text if rng.random() < 0.5 else text + "," + constraint
        return text + "。"

    def __call__(self) -> str:
        while True:
            text = self.chinese() if self.rng.random() < 1 / 3 else self.english()
            if 8 <= len(tokenize(text)) <= 20:
                return text

    def drop_one(self, text: str) -> str:
        """The text with one token removed (a light edit: usually a near-duplicate of the original)."""
        tokens = tokenize(text)
        del tokens[self.rng.randrange(len(tokens))]
        chinese = sum("\u4e00" <= c <= "\u9fff" for c in text) > len(text) / 4
        return ("" if chinese else " ").join(tokens)


def make_pool(size: int, base: list[str], para: Paraphraser) -> list[str]:
    pool = list(base[:size])
    rng = random.Random(size)
    while len(pool) < size:
        # chains of paraphrases drift away from the originals, like a growing generated pool does
        pool.append(para(rng.choice(pool), rng.randint(1, 6)))
    return pool


class BruteForce:
    """Exhaustive exact ROUGE-L against every pool item, compiled (the correctness reference)."""

    def __init__(self, pool: list[str]):
        self.index = NearDuplicateIndex(threshold=0.99)
        self.index.build([(str(i), t) for i, t in enumerate(pool)])

    def best(self, text: str) -> float:
        scores = self.index.exhaustive_scores(text)
        return float(scores.max()) if len(scores) else 0.0


def percentile_ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.array(values) * 1000, q)), 3)


class ParaphrasePool:
    """The real texts grown by chained paraphrases; candidates are light edits (likely duplicates), medium edits
    (near the threshold) and heavy edits (likely new)."""

    name = "paraphrase"

    def __init__(self, size: int, base: list[str]):
        self.para = Paraphraser(base, seed=size)
        self.pool = make_pool(size, base, self.para)

    def candidates(self, count: int, rng: random.Random) -> list[str]:
        return [self.para(rng.choice(self.pool), (1, 3, 8)[n % 3]) for n in range(count)]

    def verify_candidate(self, rng: random.Random) -> str:
        return self.para(rng.choice(self.pool), rng.randint(1, 10))


class FormulaicPool:
    """Formulaic compositions (`Formulaic`); candidates are 60% fresh compositions and 40% pool items with one
    token removed."""

    name = "formulaic"

    def __init__(self, size: int, base: list[str]):
        self.make = Formulaic(seed=size)
        self.pool = [self.make() for _ in range(size)]

    def candidates(self, count: int, rng: random.Random) -> list[str]:
        return [self.verify_candidate(rng) for _ in range(count)]

    def verify_candidate(self, rng: random.Random) -> str:
        return self.make.drop_one(rng.choice(self.pool)) if rng.random() < 0.4 else self.make()


POOLS = {"paraphrase": ParaphrasePool, "formulaic": FormulaicPool}


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel before anything is timed: a checkout whose cache is stale
    would otherwise count compilation in the first build."""
    index = NearDuplicateIndex(THRESHOLD).build([("a", "warm up the index"), ("b", "预热一下索引")])
    index.add("c", "warm up the index once more")
    index.is_near_duplicate("warm up the index")
    index.most_similar("warm up", 2)
    index.exhaustive_scores("warm up")


def run(kind: str, size: int, base: list[str], args) -> dict:
    made = POOLS[kind](size, base)
    pool = made.pool
    rng = random.Random(7)
    result: dict = {"kind": kind, "pool": size}

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    index = NearDuplicateIndex(THRESHOLD).build([(str(i), t) for i, t in enumerate(pool)])
    result["build_s"] = round(time.perf_counter() - started, 2)
    result["index_mb"] = round(index.memory_bytes() / 2**20, 1)
    result["rss_growth_mb"] = round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024, 1)

    queries = made.candidates(args.queries, rng)
    index.is_near_duplicate(queries[0])  # compiled code loaded before timing
    times, decisions = [], []
    for query in queries:
        t = time.perf_counter()
        decisions.append(index.is_near_duplicate(query))
        times.append(time.perf_counter() - t)
    result["ours_p50_ms"] = percentile_ms(times, 50)
    result["ours_p99_ms"] = percentile_ms(times, 99)
    result["ours_duplicates"] = int(sum(decisions))
    kept = [t for t, duplicate in zip(times, decisions, strict=True) if not duplicate]
    rejected = [t for t, duplicate in zip(times, decisions, strict=True) if duplicate]
    result["ours_new_p50_ms"] = percentile_ms(kept, 50) if kept else None
    result["ours_new_p99_ms"] = percentile_ms(kept, 99) if kept else None
    result["ours_duplicate_p50_ms"] = percentile_ms(rejected, 50) if rejected else None
    top = []
    for query in queries[: args.top_k]:
        t = time.perf_counter()
        index.most_similar(query, 10)
        top.append(time.perf_counter() - t)
    result["top10_p50_ms"] = percentile_ms(top, 50)
    incremental = []
    for n, query in enumerate(queries[:200]):
        t = time.perf_counter()
        index.add(f"new{n}", query)
        incremental.append(time.perf_counter() - t)
    result["add_p50_ms"] = percentile_ms(incremental, 50)
    result["add_p99_ms"] = percentile_ms(incremental, 99)

    # correctness against exhaustive brute force, a third of the sample near the threshold (0.6-0.8)
    if args.verify:
        result.update(verify(made, rng, args.verify if size <= args.verify_max_pool else args.verify_large))

    # the Alpaca method: rouge_score against the whole pool, on a few candidates (above --alpaca-max-pool: its
    # time per pair on the first 20,000 pool items, times the pool size)
    if args.alpaca:
        from rouge_score import rouge_scorer

        scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
        sample = queries[: args.alpaca]
        others = pool if size <= args.alpaca_max_pool else pool[:20_000]
        started = time.perf_counter()
        for query in sample:
            [scorer.score(query, other) for other in others]
        per_pair = (time.perf_counter() - started) / (len(sample) * len(others))
        result["alpaca_per_candidate_ms"] = round(per_pair * size * 1000, 1)
        result["alpaca_estimated"] = size > args.alpaca_max_pool
        result["speedup_vs_alpaca_p50"] = round(result["alpaca_per_candidate_ms"] / max(result["ours_p50_ms"], 1e-6))

    if args.bm25 and size <= args.bm25_max_pool:
        from rank_bm25 import BM25Okapi

        started = time.perf_counter()
        bm25 = BM25Okapi([tokenize(t) or ["<empty>"] for t in pool])
        result["bm25_build_s"] = round(time.perf_counter() - started, 2)
        bm25_times = []
        for query in queries[:20]:
            t = time.perf_counter()
            bm25.get_scores(tokenize(query))
            bm25_times.append(time.perf_counter() - t)
        result["bm25_p50_ms"] = percentile_ms(bm25_times, 50)
        result["speedup_vs_bm25_p50"] = round(result["bm25_p50_ms"] / max(result["ours_p50_ms"], 1e-6), 1)
    print(json.dumps(result), flush=True)
    return result


def verify(made, rng: random.Random, count: int) -> dict:
    """Draw candidates until a third of `count` score 0.6-0.8 against the pool (by brute force) and the other
    two thirds do not, then count the decisions of a fresh index that differ from brute force's."""
    brute = BruteForce(made.pool)
    index = NearDuplicateIndex(THRESHOLD).build([(str(i), t) for i, t in enumerate(made.pool)])
    near_wanted, far_wanted = count // 3, count - count // 3
    near, far, drawn = [], [], 0
    while (len(near) < near_wanted or len(far) < far_wanted) and drawn < 50 * count:
        drawn += 1
        query = made.verify_candidate(rng)
        best = brute.best(query)
        bucket = near if 0.6 <= best <= 0.8 else far
        if len(bucket) < (near_wanted if bucket is near else far_wanted):
            bucket.append((query, best))
    sample = near + far
    return {
        "verified": len(sample),
        "verified_near_threshold": len(near),
        "verified_duplicates": sum(best > THRESHOLD for _, best in sample),
        "verified_drawn": drawn,
        "disagreements": sum(index.is_near_duplicate(q) != (best > THRESHOLD) for q, best in sample),
    }


def chinese_demo() -> dict:
    from rouge_score import rouge_scorer

    pairs = [
        ("把下面的会议记录整理成三条要点。", "把下面的会议纪要整理成三个要点。"),
        ("为一家主打手工面条的小面馆起五个名字。", "为一家主打手工面条的面馆起五个店名。"),
        ("用小学生能听懂的话解释下面这个概念。", "用小学生听得懂的话解释一下这个概念。"),
    ]
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rows = []
    for a, b in pairs:
        index = NearDuplicateIndex()
        index.add("b", b)
        ours = index.most_similar(a, 1)
        rows.append(
            {
                "a": a,
                "b": b,
                "rouge_score": scorer.score(a, b)["rougeL"].fmeasure,
                "ours": round(ours[0][1], 3) if ours else 0.0,
                "ours_duplicate": index.is_near_duplicate(a),
            }
        )
    return {"pairs": rows}


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for kind, color in (("paraphrase", "tab:blue"), ("formulaic", "tab:orange")):
        rows = [r for r in results if r["kind"] == kind]
        if not rows:
            continue
        sizes = [r["pool"] for r in rows]
        ax.plot(sizes, [r["ours_p50_ms"] for r in rows], "o-", color=color, label=f"{kind}: ours p50")
        ax.plot(sizes, [r["ours_p99_ms"] for r in rows], "o--", color=color, label=f"{kind}: ours p99")
        alpaca = [(r["pool"], r["alpaca_per_candidate_ms"]) for r in rows if "alpaca_per_candidate_ms" in r]
        if alpaca:
            ax.plot(*zip(*alpaca, strict=True), "s:", color=color, label=f"{kind}: Alpaca (rouge_score, exhaustive)")
    bm25 = [(r["pool"], r["bm25_p50_ms"]) for r in results if "bm25_p50_ms" in r and r["kind"] == "paraphrase"]
    if bm25:
        ax.plot(*zip(*bm25, strict=True), "^-", color="gray", label="paraphrase: rank_bm25 get_scores p50")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("pool size (instructions)")
    ax.set_ylabel("time per candidate (ms)")
    ax.set_title("Near-duplicate check per candidate (ROUGE-L > 0.7)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,50000,200000,1000000")
    parser.add_argument("--pools", default="paraphrase,formulaic", help="pool kinds: paraphrase, formulaic")
    parser.add_argument("--queries", type=int, default=600)
    parser.add_argument("--top-k", type=int, default=100, help="candidates timed for the exact top-10")
    parser.add_argument("--verify", type=int, default=2000, help="candidates checked against brute force")
    parser.add_argument("--verify-max-pool", type=int, default=50_000, help="larger pools verify --verify-large")
    parser.add_argument("--verify-large", type=int, default=300)
    parser.add_argument("--alpaca", type=int, default=5, help="candidates timed with the Alpaca method")
    parser.add_argument("--alpaca-max-pool", type=int, default=50_000)
    parser.add_argument("--bm25", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--bm25-max-pool", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "dedup.json")
    # the plot goes beside the page that shows it (mkdocs serves only files under docs/)
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "dedup.png")
    args = parser.parse_args()
    base = real_texts()
    print(f"{len(base)} real texts as the base", flush=True)
    warm_up()
    results = [run(kind, int(size), base, args) for kind in args.pools.split(",") for size in args.sizes.split(",")]
    report = {"threshold": THRESHOLD, "results": results, "chinese": chinese_demo(), "machine": "2-core CPU"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    plot(results, args.plot)
    print(f"wrote {args.out} and {args.plot}")


if __name__ == "__main__":
    main()
