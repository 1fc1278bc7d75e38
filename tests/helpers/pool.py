"""Test-only pool tools: the brute-force near-duplicate index the exact one (selfinstruct.neardup) is checked
against, and dropping the pools this process has cached."""

from __future__ import annotations

from selfinstruct.similarity import rouge_l, tokenize


class ExhaustiveIndex:
    """Compares a candidate with every item: correct by construction, O(pool) per candidate. The brute-force
    reference the exact index (selfinstruct.neardup) is tested against."""

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._tokens: list[list[str]] = []

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, item_id: str, text: str) -> None:
        self._ids.append(item_id)
        self._tokens.append(tokenize(text))

    def scores(self, text: str) -> list[tuple[str, float]]:
        query = tokenize(text)
        return [(item_id, rouge_l(query, tokens)) for item_id, tokens in zip(self._ids, self._tokens, strict=True)]

    def most_similar(self, text: str, k: int = 10) -> list[tuple[str, float]]:
        """Top k by score (ties: earlier-added first); items scoring 0 are left out."""
        scored = [(item_id, score, n) for n, (item_id, score) in enumerate(self.scores(text)) if score > 0]
        scored.sort(key=lambda item: (-item[1], item[2]))
        return [(item_id, score) for item_id, score, _ in scored[:k]]

    def is_near_duplicate(self, text: str, threshold: float = 0.7) -> bool:
        query = tokenize(text)
        return any(rouge_l(query, tokens) > threshold for tokens in self._tokens)


def forget_pools() -> None:
    """Drop every pool this process has cached: rolled-back test transactions can reuse ids a cached pool has
    already seen (and a benchmark times a cold load)."""
    from selfinstruct import pool

    pool._pools.clear()
