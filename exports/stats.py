"""A dataset version's statistics, gathered while its rows stream past: splits, languages, categories, group
sizes, lengths (mean, max, median of a seeded reservoir sample, and a histogram for the console's charts) and, for
preference pairs, how many pairs each rank distance (margin) gave."""

from __future__ import annotations

import bisect
import random
import statistics
from collections import Counter

LENGTH_BINS = (0, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)  # characters: lower edges


class Stats:
    """Streaming statistics: counts, mixes, and lengths (mean, max, median of a seeded reservoir sample)."""

    def __init__(self):
        self.splits = Counter()
        self.languages = Counter()
        self.categories = Counter()
        self.groups = Counter()
        self.lengths: dict[str, dict] = {}
        self.histograms: dict[str, Counter] = {}
        self.margins = Counter()
        self.rng = random.Random(0)

    def length(self, field: str, text: str) -> None:
        entry = self.lengths.setdefault(field, {"n": 0, "total": 0, "max": 0, "sample": []})
        size = len(text)
        entry["n"] += 1
        entry["total"] += size
        entry["max"] = max(entry["max"], size)
        self.histograms.setdefault(field, Counter())[bisect.bisect_right(LENGTH_BINS, size) - 1] += 1
        if len(entry["sample"]) < 10_000:
            entry["sample"].append(size)
        else:
            slot = self.rng.randrange(entry["n"])
            if slot < 10_000:
                entry["sample"][slot] = size

    def summary(self) -> dict:
        lengths = {
            field: {"mean": round(e["total"] / e["n"], 1), "median": statistics.median(e["sample"]), "max": e["max"]}
            for field, e in self.lengths.items()
            if e["n"]
        }
        per_group = list(self.groups.values())
        return {
            "splits": dict(self.splits),
            "languages": dict(self.languages),
            "categories": dict(self.categories),
            "groups": len(self.groups),
            "rows_per_group": {"mean": round(statistics.fmean(per_group), 2), "max": max(per_group)}
            if per_group
            else {},
            "lengths_chars": lengths,
            # for the console's charts: rows per length bin (LENGTH_BINS lower edges), and pairs per margin
            "length_bins": list(LENGTH_BINS),
            "length_histograms": {
                field: [counts.get(i, 0) for i in range(len(LENGTH_BINS))] for field, counts in self.histograms.items()
            },
            "margins": {str(m): n for m, n in sorted(self.margins.items())},
        }
