"""Active selection for ranking: does labeling the prompts the reward model is least sure about first (the
platform's `uncertainty` task order) make the RM accurate with fewer labels than labeling them at random?

A small simulation with synthetic labelers, using the platform's own rules (annotation.rankings: the C(K,2) pairs of
a ranking, and the smallest reward margin among the K completions that orders tasks under `uncertainty`):
- a pool of prompts with K completions each; a completion is a feature vector x and its true quality is w*·x;
- synthetic labelers rank by quality plus Gaussian noise (so they disagree, like people, most on close pairs);
- the reward model is Bradley–Terry on features (r(x) = w·x, L2-regularized logistic regression on the pairs);
- a held-out set of prompts ranked by the synthetic labelers measures RM accuracy (share of its human pairs the RM
  orders the same way), as RM training reports accuracy on held-out preference pairs;
- random: label prompts in a random order. uncertainty: after every batch, retrain the RM, score the unlabeled
  prompts, label next the batch with the smallest margins. Both start from the same random seed batch.

Run at two labeler-noise levels. Prints the curves, the paired gain (uncertainty − random, same world and seed
batch, ± standard error over runs) and, as the headline ratio, how many labels uncertainty first needs to reach the
accuracy random reaches with the full budget. Writes bench/results/active_selection.json and
docs/active_selection.png (the plot in docs/benchmarks.md).

    .venv/bin/python bench/active_selection.py            # about 3 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from annotation.rankings import ordered_pairs, smallest_margin  # noqa: E402 - pure functions, no Django


def make_world(rng, *, prompts: int, k: int, dim: int):
    truth = rng.normal(size=dim)
    truth /= np.linalg.norm(truth)
    features = rng.normal(size=(prompts, k, dim))
    return truth, features


def label(rng, features, truth, noise: float) -> list[list[int]]:
    """A synthetic labeler's ranking of one prompt's K completions (groups of one, best first)."""
    seen = features @ truth + rng.normal(scale=noise, size=len(features))
    return [[int(i)] for i in np.argsort(-seen)]


def pairs_of(features, ranking) -> np.ndarray:
    """Feature differences chosen − rejected for the C(K,2) pairs of a ranking."""
    return np.array([features[c] - features[r] for c, r, _ in ordered_pairs(ranking)])


def fit(diffs: np.ndarray, dim: int, l2: float = 1.0, steps: int = 25) -> np.ndarray:
    """Bradley–Terry: maximize Σ log σ(w·(x_chosen − x_rejected)) − l2/2 ‖w‖², by Newton's method."""
    w = np.zeros(dim)
    for _ in range(steps):
        z = diffs @ w
        p = 1 / (1 + np.exp(-z))
        grad = diffs.T @ (1 - p) - l2 * w
        hess = -(diffs.T * (p * (1 - p))) @ diffs - l2 * np.eye(dim)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def accuracy(w, held_diffs: np.ndarray) -> float:
    return float((held_diffs @ w > 0).mean())


def simulate(seed: int, args) -> dict[str, list[float]]:
    rng = np.random.default_rng(seed)
    truth, features = make_world(rng, prompts=args.pool + args.held_out, k=args.k, dim=args.dim)
    pool, held = features[: args.pool], features[args.pool :]
    held_diffs = np.concatenate([pairs_of(f, label(rng, f, truth, args.noise)) for f in held])
    answers = [label(rng, f, truth, args.noise) for f in pool]  # what a labeler would answer, asked once
    start = rng.choice(args.pool, size=args.batch, replace=False).tolist()
    curves = {}
    for strategy in ("random", "uncertainty"):
        order = rng.permutation([i for i in range(args.pool) if i not in start]).tolist()
        labeled, curve = list(start), []
        while True:
            diffs = np.concatenate([pairs_of(pool[i], answers[i]) for i in labeled])
            w = fit(diffs, args.dim)
            curve.append(accuracy(w, held_diffs))
            if len(labeled) >= args.budget:
                break
            taken = set(labeled)
            if strategy == "random":
                nxt = [i for i in order if i not in taken][: args.batch]
            else:
                rewards = pool @ w
                margins = [(smallest_margin(rewards[i]), i) for i in range(args.pool) if i not in taken]
                nxt = [i for _, i in sorted(margins)[: args.batch]]
            labeled += nxt
        curves[strategy] = curve
    return curves


def labels_to_reach(curve: list[float], labels: list[int], target: float) -> int | None:
    return next((n for n, a in zip(labels, curve, strict=True) if a >= target), None)


def plot(labels, results: dict, path: Path, args) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, len(results), figsize=(5.2 * len(results), 3.8), squeeze=False, sharey=True)
    for ax, (noise, summary) in zip(axes[0], results.items(), strict=True):
        for strategy, colour in (("random", "tab:gray"), ("uncertainty", "tab:blue")):
            mean, sd = np.array(summary[strategy]["mean"]), np.array(summary[strategy]["sd"])
            name = "uncertainty first (smallest RM margin)" if strategy == "uncertainty" else "random"
            ax.plot(labels, mean, color=colour, label=name)
            ax.fill_between(labels, mean - sd, mean + sd, color=colour, alpha=0.15)
        ax.set_xlabel(f"prompts ranked (K = {args.k}, {args.k * (args.k - 1) // 2} pairs each)")
        ax.set_title(f"labeler noise sd {noise} ({args.seeds} runs, mean ± sd)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    axes[0][0].set_ylabel("RM accuracy on held-out human pairs")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def summarize(runs: list[dict], labels: list[int], budget: int) -> dict:
    summary = {}
    for strategy in ("random", "uncertainty"):
        curves = np.array([run[strategy] for run in runs])
        summary[strategy] = {"mean": curves.mean(axis=0).round(4).tolist(), "sd": curves.std(axis=0).round(4).tolist()}
    gain = np.array([run["uncertainty"] for run in runs]) - np.array([run["random"] for run in runs])
    summary["paired_gain"] = {
        "mean": gain.mean(axis=0).round(4).tolist(),
        "se": (gain.std(axis=0, ddof=1) / np.sqrt(len(runs))).round(4).tolist(),
    }
    target = summary["random"]["mean"][-1]
    needed = labels_to_reach(summary["uncertainty"]["mean"], labels, target)
    summary["random_final"] = target
    summary["uncertainty_labels_to_reach_random_final"] = needed
    summary["label_saving_ratio"] = round(budget / needed, 3) if needed else None
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", type=int, default=2000, help="unlabeled prompts")
    parser.add_argument("--held-out", type=int, default=300)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument(
        "--noise",
        type=float,
        nargs="+",
        default=[0.1, 0.5],
        help="labeler noise levels (sd, in units of the quality's sd)",
    )
    parser.add_argument("--batch", type=int, default=10, help="prompts labeled between RM retrains")
    parser.add_argument("--budget", type=int, default=400, help="prompts labeled in all")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "active_selection.json")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "active_selection.png")
    args = parser.parse_args()
    started = time.monotonic()
    labels = list(range(args.batch, args.budget + 1, args.batch))
    results = {}
    for noise in args.noise:
        run_args = argparse.Namespace(**{**vars(args), "noise": noise})
        summary = summarize([simulate(seed, run_args) for seed in range(args.seeds)], labels, args.budget)
        results[noise] = summary
        print(f"labeler noise {noise}:")
        print(f"{'labels':>8}  {'random':>8}  {'uncertainty':>11}  {'gain (± se)':>16}")
        rows = zip(
            labels,
            summary["random"]["mean"],
            summary["uncertainty"]["mean"],
            summary["paired_gain"]["mean"],
            summary["paired_gain"]["se"],
            strict=True,
        )
        for n, r, u, g, se in rows:
            if n in (20, 50, 100, 200, 300) or n == args.budget:
                print(f"{n:>8}  {r:>8.4f}  {u:>11.4f}  {g:>+8.4f} ± {se:.4f}")
        needed = summary["uncertainty_labels_to_reach_random_final"]
        if needed:
            print(
                f"  random reaches {summary['random_final']:.4f} with {args.budget} prompts ranked; uncertainty "
                f"first with {needed}: {summary['label_saving_ratio']:.2f}x fewer labels"
            )
        else:
            print(f"  uncertainty first does not reach random's {summary['random_final']:.4f} within {args.budget}")
    result = {
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "labels": labels,
        "by_noise": {str(k): v for k, v in results.items()},
        "seconds": round(time.monotonic() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    if plot(labels, results, args.plot, args):
        print(f"plot: {args.plot}")
    print(f"{result['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
