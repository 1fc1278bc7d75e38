"""Reliability and the weighted consensus: do they find the bad labelers, and does weighting by reliability recover
the true order better than today's consensus? And how long does α take over 100,000 rankings?

Synthetic labelers of known reliability rank prompts whose true order is known:
- careful (three of them): each answer's true quality (K−1 for the best … 0 for the worst) plus Gaussian noise
  (`--noise`), ranked by what they perceive, so they disagree, like people, most on close pairs;
- random: a uniformly random order;
- adversarial: the careful labeler's perceived order, reversed.
Each task is ranked by `--overlap` of the five, drawn at random (the project's overlap), so some tasks have the
random or the adversarial labeler among their few rankings.

The platform's own functions do the rest (annotation/agreement.py, annotation/rankings.py):
- reliability: each ranking's agreement with the leave-one-out consensus of its task (`leave_one_out_agreements`),
  averaged per labeler and shrunk toward the prior (`combined_reliability`); the weight is `reliability_weight`;
- consensus per task, today's (`ranked_pairs`, every labeler counts the same) and the reliability-weighted one
  (`weighted_consensus`, Bradley–Terry with those weights), in the same run on the same rankings;
- pair accuracy: over every task's C(K,2) answer pairs, the share the consensus orders as the truth does (a tie
  counts one half);
- α: `rankings_alpha` (Krippendorff's ordinal α through the `krippendorff` package) over `--alpha-rankings`
  rankings (K=4, four labelers per task), timed (best and median of `--repeats`; target ≤ 2 s), with the
  leave-one-out agreements of the same rankings timed beside it.

Writes bench/results/reliability.json.

    .venv/bin/python bench/reliability.py            # about half a minute on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="idp-bench-reliability-")
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from annotation.agreement import (  # noqa: E402 - after django.setup(): the module reads models and the cache
    combined_reliability,
    leave_one_out_agreements,
    rankings_alpha,
    reliability_weight,
    weighted_consensus,
)
from annotation.rankings import positions, ranked_pairs  # noqa: E402

LABELERS = ("careful_1", "careful_2", "careful_3", "random", "adversarial")


def rank(rng, kind: str, truth: np.ndarray, noise: float) -> list[list[int]]:
    """One labeler's ranking of a task's answers (ids 0..K−1; `truth` holds each answer's quality)."""
    if kind == "random":
        order = rng.permutation(len(truth))
    else:
        seen = truth + rng.normal(scale=noise, size=len(truth))
        order = np.argsort(-seen)
        if kind == "adversarial":
            order = order[::-1]
    return [[int(i)] for i in order]


def pair_accuracy(consensus: list[list[int]], truth: np.ndarray) -> tuple[float, int]:
    """(right pairs, pairs): a pair ordered as the truth orders it counts 1, a tie one half."""
    pos = positions(consensus)
    right = 0.0
    pairs = 0
    for a, b in combinations(range(len(truth)), 2):
        pairs += 1
        if pos[a] == pos[b]:
            right += 0.5
        elif (pos[a] < pos[b]) == (truth[a] > truth[b]):
            right += 1
    return right, pairs


def simulate(args) -> dict:
    rng = np.random.default_rng(args.seed)
    tasks = []  # (truth, [(labeler, ranking)])
    for _ in range(args.tasks):
        truth = rng.permutation(args.k).astype(float)  # answer i's quality; K−1 is the best
        who = rng.choice(len(LABELERS), size=args.overlap, replace=False)
        tasks.append((truth, [(LABELERS[w], rank(rng, LABELERS[w].split("_")[0], truth, args.noise)) for w in who]))

    started = time.perf_counter()
    agreements = leave_one_out_agreements([[r for _, r in rankings] for _, rankings in tasks])
    per_labeler: dict[str, list[float]] = {name: [] for name in LABELERS}
    for (_, rankings), values in zip(tasks, agreements, strict=True):
        for (name, _), value in zip(rankings, values, strict=True):
            if value is not None:
                per_labeler[name].append(value)
    reliability = {}
    for name, values in per_labeler.items():
        mean = statistics.fmean(values) if values else None
        score = combined_reliability(mean, len(values))
        reliability[name] = {
            "consensus_agreement": round(mean, 4) if mean is not None else None,
            "rankings": len(values),
            "reliability": round(score, 4),
            "weight": round(reliability_weight(score), 4),
        }
    reliability_s = time.perf_counter() - started
    weights = {name: reliability_weight(row["reliability"]) for name, row in reliability.items()}

    totals = {"ranked_pairs": [0.0, 0], "weighted_bt": [0.0, 0]}
    exact = {"ranked_pairs": 0, "weighted_bt": 0}
    timings = {"ranked_pairs": 0.0, "weighted_bt": 0.0}
    items = list(range(args.k))
    for truth, rankings in tasks:
        true_order = [[int(i)] for i in np.argsort(-truth)]
        orders = [r for _, r in rankings]
        started = time.perf_counter()
        plain = ranked_pairs(orders, items=items)
        timings["ranked_pairs"] += time.perf_counter() - started
        started = time.perf_counter()
        weighted = weighted_consensus(orders, [weights[name] for name, _ in rankings], items)
        timings["weighted_bt"] += time.perf_counter() - started
        for method, consensus in (("ranked_pairs", plain), ("weighted_bt", weighted)):
            right, pairs = pair_accuracy(consensus, truth)
            totals[method][0] += right
            totals[method][1] += pairs
            exact[method] += consensus == true_order
    order = sorted(LABELERS, key=lambda name: -reliability[name]["reliability"])
    return {
        "reliability": reliability,
        "reliability_order": order,
        "random_and_adversarial_last": set(order[-2:]) == {"random", "adversarial"},
        "reliability_seconds": round(reliability_s, 3),
        "pair_accuracy": {m: round(right / pairs, 4) for m, (right, pairs) in totals.items()},
        "tasks_exactly_right": {m: round(n / args.tasks, 4) for m, n in exact.items()},
        "consensus_ms_per_task": {m: round(1000 * s / args.tasks, 3) for m, s in timings.items()},
    }


def alpha_timing(args) -> dict:
    """α over `--alpha-rankings` rankings of K answers, four careful labelers per task."""
    rng = np.random.default_rng(args.seed + 1)
    per_task = 4
    n_tasks = -(-args.alpha_rankings // per_task)
    truth = rng.permutation(args.k)
    rows = []
    for task in range(n_tasks):
        for _ in range(per_task):
            seen = truth + rng.normal(scale=args.noise, size=args.k)
            # answer ids unique per task, as stored: completion ids
            rows.append((task, [[int(task * args.k + i)] for i in np.argsort(-seen)]))
        truth = rng.permutation(args.k)
    times, result = [], None
    for _ in range(args.repeats):
        started = time.perf_counter()
        result = rankings_alpha(rows)
        times.append(time.perf_counter() - started)
    grouped = [[r for _, r in rows[i : i + per_task]] for i in range(0, len(rows), per_task)]
    started = time.perf_counter()
    leave_one_out_agreements(grouped)
    loo = time.perf_counter() - started
    return {
        "rankings": len(rows),
        "k": args.k,
        "alpha": round(result["alpha"], 4),
        "units": result["units"],
        "seconds_best": round(min(times), 3),
        "seconds_median": round(statistics.median(times), 3),
        "seconds_first": round(times[0], 3),
        "target_seconds": 2.0,
        "leave_one_out_seconds": round(loo, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--overlap", type=int, default=3, help="labelers per task, of the five")
    parser.add_argument("--noise", type=float, default=0.8, help="careful labelers' noise (qualities 1 apart)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--alpha-rankings", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "reliability.json")
    args = parser.parse_args()
    load = [round(v, 2) for v in os.getloadavg()]  # other work on the machine slows every figure

    consensus = simulate(args)
    print("reliability, most reliable first:")
    for name in consensus["reliability_order"]:
        row = consensus["reliability"][name]
        print(
            f"  {name:12} reliability {row['reliability']:.3f}  weight {row['weight']:.3f}  "
            f"(agreement with the leave-one-out consensus {row['consensus_agreement']}, {row['rankings']} rankings)"
        )
    print(f"random and adversarial last: {consensus['random_and_adversarial_last']}")
    for method in ("ranked_pairs", "weighted_bt"):
        print(
            f"{method:13} pair accuracy {consensus['pair_accuracy'][method]:.4f}  "
            f"tasks exactly right {consensus['tasks_exactly_right'][method]:.4f}  "
            f"{consensus['consensus_ms_per_task'][method]} ms/task"
        )
    alpha = alpha_timing(args)
    print(
        f"α over {alpha['rankings']:,} rankings (K={alpha['k']}): {alpha['alpha']} in {alpha['seconds_best']} s best, "
        f"{alpha['seconds_median']} s median of {args.repeats} (target ≤ 2 s); leave-one-out agreements "
        f"{alpha['leave_one_out_seconds']} s"
    )
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_at_start": load,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "consensus": consensus,
        "alpha": alpha,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
