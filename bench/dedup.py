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


def candidates(pool: list[str], para: Paraphraser, count: int, rng: random.Random) -> list[str]:
    """Light edits (likely duplicates), medium edits (near the threshold) and heavy edits (likely new)."""
    out = []
    for n in range(count):
        edits = (1, 3, 8)[n % 3]
        out.append(para(rng.choice(pool), edits))
    return out


def run(size: int, base: list[str], args) -> dict:
    para = Paraphraser(base, seed=size)
    pool = make_pool(size, base, para)
    rng = random.Random(7)
    result: dict = {"pool": size}

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    index = NearDuplicateIndex(THRESHOLD).build([(str(i), t) for i, t in enumerate(pool)])
    result["build_s"] = round(time.perf_counter() - started, 2)
    result["index_mb"] = round(index.memory_bytes() / 2**20, 1)
    result["rss_growth_mb"] = round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024, 1)

    queries = candidates(pool, para, args.queries, rng)
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
        result.update(verify(pool, para, rng, args.verify if size <= args.verify_max_pool else args.verify_large))

    # the Alpaca method: rouge_score against the whole pool, on a few candidates
    if args.alpaca and size <= args.alpaca_max_pool:
        from rouge_score import rouge_scorer

        scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
        sample = queries[: args.alpaca]
        started = time.perf_counter()
        for query in sample:
            [scorer.score(query, other) for other in pool]
        result["alpaca_per_candidate_ms"] = round((time.perf_counter() - started) / len(sample) * 1000, 1)
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


def verify(pool: list[str], para: Paraphraser, rng: random.Random, count: int) -> dict:
    """Draw candidates until a third of `count` score 0.6-0.8 against the pool (by brute force) and the other
    two thirds do not, then count the decisions of a fresh index that differ from brute force's."""
    brute = BruteForce(pool)
    index = NearDuplicateIndex(THRESHOLD).build([(str(i), t) for i, t in enumerate(pool)])
    near_wanted, far_wanted = count // 3, count - count // 3
    near, far, drawn = [], [], 0
    while (len(near) < near_wanted or len(far) < far_wanted) and drawn < 50 * count:
        drawn += 1
        query = para(rng.choice(pool), rng.randint(1, 10))
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

    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = [r["pool"] for r in results]
    ax.plot(sizes, [r["ours_p50_ms"] for r in results], "o-", label="ours p50")
    ax.plot(sizes, [r["ours_p99_ms"] for r in results], "o--", label="ours p99")
    ax.plot(sizes, [r["ours_new_p50_ms"] for r in results], "o:", label="ours p50, candidates kept (no duplicate)")
    alpaca = [(r["pool"], r["alpaca_per_candidate_ms"]) for r in results if "alpaca_per_candidate_ms" in r]
    if alpaca:
        ax.plot(*zip(*alpaca, strict=True), "s-", label="Alpaca (rouge_score, exhaustive)")
    bm25 = [(r["pool"], r["bm25_p50_ms"]) for r in results if "bm25_p50_ms" in r]
    if bm25:
        ax.plot(*zip(*bm25, strict=True), "^-", label="rank_bm25 get_scores p50")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("pool size (instructions)")
    ax.set_ylabel("time per candidate (ms)")
    ax.set_title("Near-duplicate check per candidate (ROUGE-L > 0.7)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,50000,200000,1000000")
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
    args = parser.parse_args()
    base = real_texts()
    print(f"{len(base)} real texts as the base", flush=True)
    results = [run(int(size), base, args) for size in args.sizes.split(",")]
    report = {"threshold": THRESHOLD, "results": results, "chinese": chinese_demo(), "machine": "2-core CPU"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    plot(results, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
