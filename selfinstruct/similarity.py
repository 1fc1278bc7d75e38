"""ROUGE-L similarity between instructions, and the tokenizer the near-duplicate index (neardup.py) shares.

Tokenization matches `rouge_score`'s default tokenizer for English (lower-case, runs of [a-z0-9], no stemming), so
scores equal the reference's for English pairs. Unlike the reference — which drops every non-[a-z0-9] character
and so scores any two Chinese texts 0 — each CJK character is a token of its own, so Chinese works; mixed text
yields Latin words and CJK characters in reading order.

ROUGE-L F1 (beta 1) = 2·LCS / (|a| + |b|).
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[a-z0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def lcs_length(a: list[str], b: list[str]) -> int:
    """Longest common subsequence length, bit-parallel over a's positions (Allison–Dix / Hyyrö)."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for position, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << position)
    full = (1 << len(a)) - 1
    v = full
    for token in b:
        u = v & masks.get(token, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def rouge_l(a: list[str], b: list[str]) -> float:
    if not a or not b:
        return 0.0
    lcs = lcs_length(a, b)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(b), lcs / len(a)
    return 2 * precision * recall / (precision + recall)
