"""Instruction difficulty by perplexity (Cherry-LLM's IFD and the perplexity filters of data-juicer): the metrics
and the pure arithmetic of percentile bands. Scores are written by `selfinstruct.services.store_difficulty_scores`
and read by `selfinstruct.difficulty_selectors` (`difficulty_band_ids`, `difficulty_histogram`)."""

from __future__ import annotations

import math

# What a band or a chart can be computed on; `ifd` and the response perplexities exist only for instructions with
# a response (the instruction's own output, else its first accepted instance's). `complexity` and `quality` are an
# LLM judge's 1–6 ratings (scorer "judge:<endpoint>"); for quality, "easiest" in a band means the lowest rated.
METRICS = ("ifd", "ppl_instruction", "ppl_response_given", "ppl_response", "complexity", "quality")
RATINGS = ("complexity", "quality")


def band_bounds(values: list[float], *, drop_lowest: float, drop_highest: float) -> tuple[float, float] | None:
    """The (low, high) values between which an item is kept when the lowest `drop_lowest` percent and the highest
    `drop_highest` percent of `values` are dropped (nearest-rank percentiles); None when nothing is left."""
    if not values or drop_lowest + drop_highest >= 100:
        return None
    ordered = sorted(values)
    n = len(ordered)
    first = math.floor(n * drop_lowest / 100)
    last = n - 1 - math.floor(n * drop_highest / 100)
    if first > last:
        return None
    return ordered[first], ordered[last]
