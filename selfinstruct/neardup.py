"""An exact, incremental near-duplicate index for ROUGE-L: same decisions as comparing with every item.

ROUGE-L F = 2PR/(P+R) with P = LCS/|b|, R = LCS/|a|, i.e. 2·LCS/(|a|+|b|). Since LCS <= the multiset overlap O of
the two token bags, F > t needs O > t(|a|+|b|)/2, which gives two filters that can never drop a true match:

- length: min(|a|,|b|) >= O forces t|a|/(2-t) < |b| < (2-t)|a|/t;
- prefix: order every token occurrence by a fixed global order (rarest first); if O >= alpha then the first
  |a|-alpha+1 elements of a and the first |b|-alpha+1 elements of b share one. Each item is indexed under its
  prefix for the smallest alpha any partner could need (alpha_min(x) = floor(t|x|/(2-t)) + 1), queries probe theirs.

Candidates that survive both (and a positional bound) get the exact LCS, bit-parallel and vectorized over all of
them at once with numpy. Adding an item is O(its length): nothing is ever rebuilt. The token order is fixed when a
token is first seen (by its document frequency in the corpus given to `build`, new tokens count as rare), so it
never changes under an item already indexed.

`most_similar(text, k)` is exact for any k (top-k by score, ties by insertion order): it walks the query's tokens
rarest first over a full inverted index and stops once no unseen item could beat the current k-th score.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable

import numpy as np

from selfinstruct.similarity import tokenize

_EPS = 1e-9


def _alpha_min(length: int, threshold: float) -> int:
    """Smallest overlap any partner with F > threshold must share with an item of this length (conservative)."""
    return max(1, int(np.floor(threshold * length / (2 - threshold) - _EPS)) + 1)


def rouge_f(lcs: np.ndarray, len_a: int, len_b: np.ndarray) -> np.ndarray:
    """ROUGE-L F exactly as rouge_score computes it (same float operations, so the same decisions)."""
    lcs = lcs.astype(np.float64)
    precision = lcs / len_b
    recall = lcs / len_a
    total = precision + recall
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(total > 0, 2 * precision * recall / np.where(total > 0, total, 1), 0.0)
    return f


class _Postings:
    """Growable int32 lists keyed by element id: (item index, position of the element in the item's order)."""

    def __init__(self) -> None:
        self.items: dict[int, array] = {}
        self.positions: dict[int, array] = {}

    def add(self, element: int, item: int, position: int) -> None:
        lst = self.items.get(element)
        if lst is None:
            lst = self.items[element] = array("i")
            self.positions[element] = array("h")
        lst.append(item)
        self.positions[element].append(min(position, 32767))

    def get(self, element: int) -> tuple[np.ndarray, np.ndarray] | None:
        lst = self.items.get(element)
        if lst is None:
            return None
        return np.frombuffer(lst, dtype=np.int32), np.frombuffer(self.positions[element], dtype=np.int16)

    def size(self) -> int:
        return sum(len(v) for v in self.items.values())


class NearDuplicateIndex:
    """add(item_id, text); most_similar(text, k); is_near_duplicate(text, threshold). Exact; incremental."""

    def __init__(self, threshold: float = 0.7) -> None:
        if not 0 < threshold < 1:
            raise ValueError("threshold must be within (0, 1)")
        self.threshold = threshold
        self._token_ids: dict[str, int] = {}
        self._order_key: array = array("q")  # token id -> fixed order key (rarest first)
        self._element_ids: dict[tuple[int, int], int] = {}
        self._ids: list[str] = []
        self._tokens = array("i")  # all items' token ids, concatenated
        self._offsets = array("q", [0])
        self._lengths = array("i")
        self._prefix = _Postings()  # each item under its threshold prefix
        self._full = _Postings()  # each item under every element (for exact top-k at any score)

    def __len__(self) -> int:
        return len(self._ids)

    # --- building ---------------------------------------------------------------------------------------------

    def build(self, items: Iterable[tuple[str, str]]) -> NearDuplicateIndex:
        """Add many items, first fixing the token order by their document frequencies (rarest first)."""
        items = list(items)
        tokenized = [tokenize(text) for _, text in items]
        df = Counter(token for tokens in tokenized for token in set(tokens))
        for token, count in sorted(df.items(), key=lambda kv: (kv[1], kv[0])):
            if token not in self._token_ids:
                self._new_token(token, count)
        for (item_id, _), tokens in zip(items, tokenized, strict=True):
            self._add_tokens(item_id, tokens)
        return self

    def _new_token(self, token: str, frequency: int = 1) -> int:
        token_id = len(self._order_key)
        self._token_ids[token] = token_id
        self._order_key.append(frequency * (1 << 32) + token_id)
        return token_id

    def _elements(self, token_ids: list[int], *, create: bool = True) -> list[tuple[int, int]]:
        """(element id, token id) pairs in the global order; the k-th repeat of a token is its own element.
        With create=False (queries), elements never indexed come back as -1."""
        seen: Counter = Counter()
        keyed = []
        for token_id in token_ids:
            occurrence = seen[token_id]
            seen[token_id] += 1
            keyed.append((self._order_key[token_id], occurrence, token_id))
        keyed.sort()
        out = []
        for _, occurrence, token_id in keyed:
            element = self._element_ids.get((token_id, occurrence), -1)
            if element < 0 and create:
                element = self._element_ids[(token_id, occurrence)] = len(self._element_ids)
            out.append((element, token_id))
        return out

    def add(self, item_id: str, text: str) -> None:
        self._add_tokens(item_id, tokenize(text))

    def _add_tokens(self, item_id: str, tokens: list[str]) -> None:
        token_ids = [self._token_ids.get(t) if t in self._token_ids else self._new_token(t) for t in tokens]
        index = len(self._ids)
        self._ids.append(item_id)
        self._tokens.extend(token_ids)
        self._offsets.append(len(self._tokens))
        self._lengths.append(len(token_ids))
        if not token_ids:
            return
        elements = self._elements(token_ids)
        prefix = len(token_ids) - _alpha_min(len(token_ids), self.threshold) + 1
        for position, (element, _) in enumerate(elements):
            self._full.add(element, index, position)
            if position < prefix:
                self._prefix.add(element, index, position)

    # --- querying ---------------------------------------------------------------------------------------------

    def _query(self, text: str) -> tuple[list[int], list[int]]:
        """Query token ids (unknown tokens: -1, they match nothing) and element ids in order (-1 if unseen)."""
        tokens = tokenize(text)
        token_ids = [self._token_ids.get(t, -1) for t in tokens]
        known = [t for t in token_ids if t >= 0]
        elements = [e for e, _ in self._elements(known, create=False)]
        unknown = len(token_ids) - len(known)
        return token_ids, [-1] * unknown + elements  # unseen tokens are the rarest of all

    def _exact_f(self, query_ids: list[int], candidates: np.ndarray) -> np.ndarray:
        """ROUGE-L F between the query and each candidate item, exact: bit-parallel LCS (Allison-Dix/Hyyro) over
        the query's positions, one 64-bit word per 64 positions, vectorized across every candidate."""
        len_a = len(query_ids)
        if len(candidates) == 0 or len_a == 0:
            return np.zeros(len(candidates))
        lengths = np.frombuffer(self._lengths, dtype=np.int32)[candidates]
        words = (len_a + 63) // 64
        masks: dict[int, int] = {}
        for position, token_id in enumerate(query_ids):
            if token_id >= 0:
                masks[token_id] = masks.get(token_id, 0) | (1 << position)
        if words > 1 and len(candidates) <= 256:
            # Long query, few candidates: Python's big integers beat per-column numpy overhead here.
            return self._exact_f_python(masks, len_a, candidates, lengths)
        query_tokens = np.array(sorted(masks), dtype=np.int64)
        query_masks = np.array(
            [[(masks[t] >> (64 * w)) & 0xFFFFFFFFFFFFFFFF for w in range(words)] for t in sorted(masks)],
            dtype=np.uint64,
        ).reshape(len(query_tokens), words)
        full_value = (1 << len_a) - 1
        full = np.array([(full_value >> (64 * w)) & 0xFFFFFFFFFFFFFFFF for w in range(words)], dtype=np.uint64)
        offsets = np.frombuffer(self._offsets, dtype=np.int64)[candidates]
        all_tokens = np.frombuffer(self._tokens, dtype=np.int32)
        width = int(lengths.max())
        v = np.broadcast_to(full, (len(candidates), words)).copy()
        zero = np.uint64(0)
        for start in range(0, width, 256):  # columns in blocks keep the gathered grid small
            columns = np.arange(start, min(width, start + 256))
            index = offsets[:, None] + columns[None, :]
            valid = columns[None, :] < lengths[:, None]
            grid = np.where(valid, all_tokens[np.minimum(index, len(all_tokens) - 1)], -1).astype(np.int64)
            if len(query_tokens):
                slot = np.clip(np.searchsorted(query_tokens, grid), 0, len(query_tokens) - 1)
                hit = query_tokens[slot] == grid
            else:
                slot, hit = np.zeros(grid.shape, dtype=np.int64), np.zeros(grid.shape, dtype=bool)
            if words == 1:
                match = np.where(hit, query_masks[slot, 0], zero)
                column_v = v[:, 0]
                for c in range(len(columns)):
                    u = column_v & match[:, c]
                    column_v = ((column_v + u) | (column_v - u)) & full[0]
                v[:, 0] = column_v
                continue
            for c in range(len(columns)):
                match = np.where(hit[:, c, None], query_masks[slot[:, c]], zero)
                u = v & match
                total = np.empty_like(v)
                carry = np.zeros(len(candidates), dtype=bool)
                for w in range(words):  # v + u, the carry running across words
                    partial = v[:, w] + u[:, w]
                    overflow = partial < v[:, w]
                    with_carry = partial + carry.astype(np.uint64)
                    overflow |= carry & (with_carry == 0)
                    total[:, w] = with_carry
                    carry = overflow
                v = (total | (v & ~u)) & full  # v - u == v & ~u, because u is a subset of v
        lcs = len_a - np.bitwise_count(v).sum(axis=1).astype(np.int64)
        return rouge_f(lcs, len_a, lengths.astype(np.float64))

    def _exact_f_python(self, masks: dict[int, int], len_a: int, candidates: np.ndarray, lengths) -> np.ndarray:
        full = (1 << len_a) - 1
        lcs = np.empty(len(candidates), dtype=np.int64)
        tokens = self._tokens
        for n, (item, length) in enumerate(zip(candidates.tolist(), lengths.tolist(), strict=True)):
            start = self._offsets[item]
            v = full
            for token_id in tokens[start : start + length]:
                u = v & masks.get(token_id, 0)
                v = ((v + u) | (v - u)) & full
            lcs[n] = len_a - v.bit_count()
        return rouge_f(lcs, len_a, lengths.astype(np.float64))

    def _gather(self, candidates: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The candidates' token ids as an (n, max length) grid padded with -1."""
        offsets = np.frombuffer(self._offsets, dtype=np.int64)[candidates]
        all_tokens = np.frombuffer(self._tokens, dtype=np.int32)
        columns = np.arange(int(lengths.max()) if len(lengths) else 0)
        index = offsets[:, None] + columns[None, :]
        valid = columns[None, :] < lengths[:, None]
        return np.where(valid, all_tokens[np.minimum(index, len(all_tokens) - 1)], -1)

    def _overlaps(self, query_ids: list[int], candidates: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Exact multiset overlap |a ∩ b| per candidate (an upper bound on the LCS), vectorized."""
        counts_a = Counter(t for t in query_ids if t >= 0)
        if not counts_a or not len(candidates):
            return np.zeros(len(candidates), dtype=np.int64)
        query_tokens = np.array(sorted(counts_a), dtype=np.int64)
        query_counts = np.array([counts_a[t] for t in sorted(counts_a)], dtype=np.int64)
        out = np.empty(len(candidates), dtype=np.int64)
        for start in range(0, len(candidates), 4096):
            chunk, chunk_lengths = candidates[start : start + 4096], lengths[start : start + 4096]
            grid = self._gather(chunk, chunk_lengths).astype(np.int64)
            slot = np.clip(np.searchsorted(query_tokens, grid), 0, len(query_tokens) - 1)
            rows, columns = np.nonzero(query_tokens[slot] == grid)
            cells = np.bincount(
                rows * len(query_tokens) + slot[rows, columns], minlength=len(chunk) * len(query_tokens)
            ).reshape(len(chunk), len(query_tokens))
            out[start : start + len(chunk)] = np.minimum(cells, query_counts[None, :]).sum(axis=1)
        return out

    def candidates_above(self, text: str, threshold: float | None = None, *, first: bool = False):
        """(item indexes, F) of every item with F > threshold (default: the index's), exact. With first=True it
        stops at the first item found (enough for a keep/reject decision)."""
        threshold = self.threshold if threshold is None else threshold
        if threshold < self.threshold:
            raise ValueError(f"this index prunes for F > {self.threshold}; use most_similar for lower scores")
        empty = (np.array([], dtype=np.int64), np.array([]))
        query_ids, elements = self._query(text)
        len_a = len(query_ids)
        if len_a == 0 or not self._ids:
            return empty
        alpha = _alpha_min(len_a, threshold)
        found_items, found_query_pos, found_item_pos = [], [], []
        for position, element in enumerate(elements[: len_a - alpha + 1]):
            hit = self._prefix.get(element) if element >= 0 else None
            if hit is not None:
                found_items.append(hit[0])
                found_query_pos.append(np.full(len(hit[0]), position, dtype=np.int32))
                found_item_pos.append(hit[1])
        if not found_items:
            return empty
        items = np.concatenate(found_items)
        query_pos = np.concatenate(found_query_pos)
        item_pos = np.concatenate(found_item_pos).astype(np.int32)
        unique, first_hit = np.unique(items, return_index=True)  # first shared element of each candidate
        lengths = np.frombuffer(self._lengths, dtype=np.int32)[unique]
        float_lengths = lengths.astype(np.float64)
        low = threshold * len_a / (2 - threshold) - _EPS
        high = (2 - threshold) * len_a / threshold + _EPS
        needed = threshold * (len_a + float_lengths) / 2 - _EPS  # the overlap (and the LCS) must exceed this
        bound = np.minimum(len_a - query_pos[first_hit], float_lengths - item_pos[first_hit])  # positional filter
        keep = (float_lengths > low) & (float_lengths < high) & (bound > needed)
        survivors, lengths, needed = unique[keep].astype(np.int64), lengths[keep], needed[keep]
        if len(survivors) > 64 or len_a > 63:
            overlap = self._overlaps(query_ids, survivors, lengths)
            keep = overlap > needed
            survivors, lengths, overlap = survivors[keep], lengths[keep], overlap[keep]
            order = np.argsort(-(overlap / (len_a + lengths)), kind="stable")  # likeliest duplicates first
            survivors = survivors[order]
        chunk = 4 if first else max(len(survivors), 1)  # with first=True: 4, 8, 16, … likeliest first
        found, scores, start = [], [], 0
        while start < len(survivors):
            part = survivors[start : start + chunk]
            start += len(part)
            f = self._exact_f(query_ids, part)
            above = f > threshold
            found.append(part[above])
            scores.append(f[above])
            if first and above.any():
                break
            chunk *= 2
        if not found:
            return empty
        return np.concatenate(found), np.concatenate(scores)

    def is_near_duplicate(self, text: str, threshold: float | None = None) -> bool:
        return len(self.candidates_above(text, threshold, first=True)[0]) > 0

    def add_many(self, items: Iterable[tuple[str, str]]) -> None:
        for item_id, text in items:
            self.add(item_id, text)

    def most_similar(self, text: str, k: int = 10) -> list[tuple[str, float]]:
        """Exact top-k by F (ties: earlier-added first); items scoring 0 are left out."""
        query_ids, elements = self._query(text)
        len_a = len(query_ids)
        if len_a == 0 or not self._ids or k <= 0:
            return []
        seen = np.zeros(0, dtype=np.int64)
        best_items = np.zeros(0, dtype=np.int64)
        best_scores = np.zeros(0)
        for position, element in enumerate(elements):
            hit = self._full.get(element) if element >= 0 else None
            if hit is not None:
                new = np.setdiff1d(hit[0].astype(np.int64), seen, assume_unique=False)
                if len(new):
                    seen = np.union1d(seen, new)
                    scores = self._exact_f(query_ids, new)
                    items = np.concatenate([best_items, new])
                    all_scores = np.concatenate([best_scores, scores])
                    order = np.lexsort((items, -all_scores))[:k]
                    best_items, best_scores = items[order], all_scores[order]
            # Items not seen yet share none of the first position+1 elements: LCS <= len_a - position - 1.
            remaining = len_a - position - 1
            ceiling = 2 * remaining / (len_a + remaining) if remaining > 0 else 0.0
            if len(best_scores) == k and best_scores[-1] > ceiling + _EPS:
                break
        keep = best_scores > 0
        return [(self._ids[i], float(s)) for i, s in zip(best_items[keep], best_scores[keep], strict=True)]

    def memory_bytes(self) -> int:
        postings = (self._prefix.size() + self._full.size()) * 6
        return postings + len(self._tokens) * 4 + len(self._offsets) * 8 + len(self._lengths) * 4
