"""An exact, incremental near-duplicate index for ROUGE-L: the same decisions as comparing with every item.

ROUGE-L F = 2PR/(P+R) with P = LCS/|b|, R = LCS/|a|, i.e. 2·LCS/(|a|+|b|). Since LCS <= the multiset overlap O of
the two token bags, F > t needs O > t(|a|+|b|)/2, which gives filters that can never drop a true match:

- length: min(|a|,|b|) >= O forces t|a|/(2-t) < |b| < (2-t)|a|/t;
- prefix: order every token occurrence ("element": the k-th copy of a token is its own element) by one global
  order, rarest first; if O >= alpha, the first |a|-alpha+1 elements of a and the first |b|-alpha+1 elements of b
  share one. Each item is indexed twice, keyed by (element, length bucket): in the `short` table under its prefix
  for partners at least as long (alpha >= floor(t|b|) + 1) and in the `long` table under its prefix for shorter
  partners (alpha_min(b) = floor(t|b|/(2-t)) + 1). A query visits only the buckets its partners can be in, and
  probes each with the prefix for that bucket's shortest length;
- positional (PPJoin): on a shared element at positions i (query) and j (item), the overlap is at most the shared
  elements met so far + 1 + min(|a|-i-1, |b|-j-1); a candidate whose bound falls to the needed overlap is dropped;
- signature: each prefix-table entry is one int64 — the item's index, which of 30 hash buckets its tokens fall in,
  and its position — and the sum of the query's token counts over those buckets bounds the overlap. It is read
  with the entry itself (no random access), so when every token is common (formulaic pools: each query element's
  list holds thousands of items) the entries that cannot reach the needed overlap are dropped while scanning,
  without touching the item's per-item state;
- sketch: per item, token counts in 64 hash buckets (2 bits each, 3 = "3 or more"); the sum over buckets of the
  smaller count bounds the overlap, from one cache line, before the item's tokens are read.

Survivors get the exact LCS (bit-parallel, Allison-Dix/Hyyrö, 64 query positions per word) and F computed with the
same float operations as `rouge_score`, so decisions equal brute force. Buckets are probed nearest to the query's
length first and each bucket's survivors are verified at once (an item lives in one bucket), so a duplicate usually
ends the check early. The loops are compiled with numba (`cache=True`: compiled once per checkout).

Adding an item is O(its length): each element's posting list is contiguous in an arena and moves to a block twice
its size when full (amortized O(1)); a full arena grows by a quarter, and is compacted when more than half of it is
moved-out garbage (and after `build`, leaving each list 1/8 room, at least 4 entries). Nothing is ever rebuilt.
Memory: 8 bytes per prefix-table entry, 4 per full-table entry, 2 per stored token while the vocabulary fits 16
bits (4 after). The token order is fixed when a token is first seen (by its document frequency in the corpus given
to `build`; tokens first seen later count as rare), so it never changes under an item already indexed.

`most_similar(text, k)` is exact for any k (top-k by score, ties by insertion order): it walks the query's elements
rarest first over a second, full inverted index and stops once no unseen item could beat the current k-th score.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

import numpy as np
from numba import njit, types
from numba.typed import Dict

from selfinstruct.similarity import tokenize

_EPS = 1e-9
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True)
def _alpha_min(length, threshold):
    """Smallest overlap any partner with F > threshold must share with an item of this length (conservative)."""
    return max(1, int(np.floor(threshold * length / (2 - threshold) - 1e-9)) + 1)


@njit(cache=True)
def _rouge_f(lcs, len_a, len_b):
    """ROUGE-L F exactly as rouge_score computes it (same float operations, so the same decisions)."""
    if lcs == 0:
        return 0.0
    precision = lcs / len_b
    recall = lcs / len_a
    return 2 * precision * recall / (precision + recall)


@njit(cache=True)
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True)
def _sketch_bucket(token):
    return ((np.int64(token) * 2654435761) >> 16) & 63


@njit(cache=True)
def _sketch(tokens, out):
    """Token counts in 64 hash buckets, 2 bits each (3 means "3 or more"), in two words. Overlap never exceeds
    the sum over buckets of the smaller count, so one cache line per item bounds it before the LCS is read."""
    out[0] = 0
    out[1] = 0
    for t in tokens:
        b = _sketch_bucket(t)
        w, shift = b >> 5, np.uint64((b & 31) * 2)
        c = (out[w] >> shift) & np.uint64(3)
        if c < 3:
            out[w] += np.uint64(1) << shift


@njit(cache=True)
def _sketch_bound(query_counts, sketch):
    """Upper bound on the multiset overlap of the query (exact bucket counts) and an item (its sketch)."""
    bound = 0
    for b in range(64):
        q = query_counts[b]
        if q:
            c = int((sketch[b >> 5] >> np.uint64((b & 31) * 2)) & np.uint64(3))
            bound += q if c == 3 or q < c else c
    return bound


# A prefix-table entry (int64): the item's position in its element order (clipped) in the low bits, its token
# signature above them, the item's index above that (the sign bit stays 0).
_POSITION_BITS = 6
_SIGNATURE_BITS = 30
_ITEM_SHIFT = _POSITION_BITS + _SIGNATURE_BITS
_POSITION_MASK = (1 << _POSITION_BITS) - 1
_SIGNATURE_MASK = ((1 << _SIGNATURE_BITS) - 1) << _POSITION_BITS
MAX_ITEMS = 1 << (63 - _ITEM_SHIFT)  # 134,217,728


@njit(cache=True)
def _signature_bucket(token):
    return ((np.int64(token) * 0x9E3779B1) >> 13) % _SIGNATURE_BITS


@njit(cache=True)
def _signature(tokens):
    """Which of the hash buckets the tokens fall in, as the bits above the position bits of an entry."""
    bits = np.int64(0)
    for t in tokens:
        bits |= np.int64(1) << (_POSITION_BITS + _signature_bucket(t))
    return bits


_SIGNATURE_LEVELS = 3  # query token counts per bucket above this are added to every bound (a constant)
_SIGNATURE_FILLED = 23  # a query filling more buckets than this (a long text) skips the signature check


@njit(cache=True)
def _signature_levels(query_tokens):
    """(levels, tail, useful): levels[c] = the buckets (as signature bits) holding more than c of the query's
    tokens, for c below _SIGNATURE_LEVELS; tail = the query's tokens beyond that many in a bucket. The overlap with
    an item is at most tail + the sum over levels of popcount(levels[c] & item signature). `useful` is False when
    the query fills nearly every bucket, so the check would only cost time (long texts)."""
    counts = np.zeros(_SIGNATURE_BITS, np.int64)
    for t in query_tokens:
        if t >= 0:
            counts[_signature_bucket(t)] += 1
    levels = np.zeros(_SIGNATURE_LEVELS, np.uint64)
    tail = 0
    for b in range(_SIGNATURE_BITS):
        for c in range(min(counts[b], _SIGNATURE_LEVELS)):
            levels[c] |= np.uint64(1) << np.uint64(_POSITION_BITS + b)
        tail += max(0, counts[b] - _SIGNATURE_LEVELS)
    return levels, tail, _popcount(levels[0]) <= _SIGNATURE_FILLED


@njit(cache=True)
def _signature_bound(levels, tail, entry):
    signature = np.uint64(entry & _SIGNATURE_MASK)
    bound = tail
    for c in range(_SIGNATURE_LEVELS):
        bound += _popcount(levels[c] & signature)
    return bound


@njit(cache=True)
def _sorted_elements(tokens, order_key, element_ids, create, next_id):
    """The elements of a token sequence in the global order (order key of the token, then occurrence number).
    Returns (element ids, next free id); with create=False an element never indexed comes back as -1."""
    n = tokens.shape[0]
    keys = np.empty(n, np.int64)
    for i in range(n):
        keys[i] = order_key[tokens[i]]
    order = np.argsort(keys, kind="mergesort")
    elements = np.empty(n, np.int64)
    occurrence = 0
    previous = -1
    for j in range(n):
        token = tokens[order[j]]
        occurrence = occurrence + 1 if token == previous else 0
        previous = token
        elements[j], next_id = _id_of((np.int64(token) << 32) | occurrence, element_ids, next_id, create)
    return elements, next_id


@njit(cache=True)
def _id_of(key, ids, next_id, create):
    """(id of key, next free id); a key not there gets next_id when create is True, else -1."""
    found = ids.get(key, -1)
    if found < 0 and create:
        found = next_id
        ids[key] = found
        next_id += 1
    return found, next_id


@njit(cache=True)
def _bucket(length):
    """Lengths below 64 have a bucket each; longer ones share buckets 1/16 of an octave wide."""
    if length < 64:
        return length
    e = 63 - _leading_zeros(length)
    return 64 + (e - 6) * 16 + ((length >> (e - 4)) & 15)


@njit(cache=True)
def _bucket_bounds(bucket):
    if bucket < 64:
        return bucket, bucket
    e = (bucket - 64) // 16 + 6
    sub = (bucket - 64) % 16
    return (16 + sub) << (e - 4), ((17 + sub) << (e - 4)) - 1


@njit(cache=True)
def _leading_zeros(x):
    n = 0
    bit = np.int64(1) << 62
    while bit and not (x & bit):
        n += 1
        bit >>= 1
    return n + 1


@njit(cache=True)
def _needed_overlap(threshold, n, m):
    """Smallest overlap that can give F > threshold for lengths n and m (conservative by 1e-9)."""
    return int(np.floor(threshold * (n + m) / 2 - 1e-9)) + 1


@njit(cache=True)
def _list_ids(elements, count, bucket, keys, next_list, create):
    """Ids of the (element, length bucket) lists of elements[:count]; -1 where absent and create is False."""
    ids = np.empty(count, np.int64)
    for j in range(count):
        ids[j], next_list = _id_of((elements[j] << 16) | bucket, keys, next_list, create)
    return ids, next_list


@njit(cache=True)
def _room(lists, size, cap):
    """Arena entries that appending to these lists may need (lists that are full move to twice their size)."""
    need = 0
    for e in lists:
        if size[e] == cap[e]:
            need += max(4, 2 * cap[e])
    return need


@njit(cache=True)
def _copy_list(source, count, items, target, new_items):
    """Copy one list's entries from source to target."""
    for x in range(count):
        new_items[target + x] = items[source + x]


@njit(cache=True)
def _append(lists, item, table, signature, packed):
    """Append item to each list: in the prefix tables (packed) as one entry with its signature and its position in
    the item's element order (clipped: a smaller position only loosens the positional bound); in the full table as
    the bare index."""
    start, size, cap, items, used = table
    for j in range(lists.shape[0]):
        e = lists[j]
        if size[e] == cap[e]:
            new_cap = max(4, 2 * cap[e])
            s = used[0]
            _copy_list(start[e], size[e], items, s, items)
            start[e] = s
            cap[e] = new_cap
            used[0] = s + new_cap
        k = start[e] + size[e]
        items[k] = (np.int64(item) << _ITEM_SHIFT) | signature | min(j, _POSITION_MASK) if packed else item
        size[e] += 1
    used[1] += lists.shape[0]


@njit(cache=True)
def _compact(n_lists, start, size, cap, items, new_items, slack_shift):
    """Copy every list into a fresh arena with a little room to grow (size >> slack_shift, at least 1); returns
    the arena's fill."""
    s = 0
    for e in range(n_lists):
        new_cap = size[e] + max(4, size[e] >> slack_shift)
        _copy_list(start[e], size[e], items, s, new_items)
        start[e] = s
        cap[e] = new_cap
        s += new_cap
    return s


@njit(cache=True)
def _document_frequencies(tokens, offsets, df):
    last = np.full(df.shape[0], -1, np.int64)
    for i in range(offsets.shape[0] - 1):
        for x in range(offsets[i], offsets[i + 1]):
            t = tokens[x]
            if last[t] != i:
                last[t] = i
                df[t] += 1


@njit(cache=True)
def _add_items(
    batch_tokens,
    batch_offsets,
    resume,
    first_item,
    threshold,
    order_key,
    element_ids,
    counters,
    all_tokens,
    item_offsets,
    item_lengths,
    sketches,
    s0,
    s1,
    s2,
    s3,
    s4,
    short_keys,
    l0,
    l1,
    l2,
    l3,
    l4,
    long_keys,
    f0,
    f1,
    f2,
    f3,
    f4,
):
    """Index batch items resume.. (token ids in text order); stops early when a table is out of room.

    Each item goes into three tables: `short` under its prefix for partners at least as long (alpha >= t|b|),
    `long` under its prefix for shorter partners (alpha >= alpha_min), both keyed by (element, length bucket), and
    `full` under every element. counters = [next element id, next short list, next long list].
    Returns (items done, arena entries needed by short, long, full: nonzero when it stopped for room).
    (Arrays come one by one: numba types a tuple argument in Python on every call, which costs more than the
    work for one item.)"""
    short, long, full = (s0, s1, s2, s3, s4), (l0, l1, l2, l3, l4), (f0, f1, f2, f3, f4)
    for b in range(resume, batch_offsets.shape[0] - 1):
        tokens = batch_tokens[batch_offsets[b] : batch_offsets[b + 1]]
        n = tokens.shape[0]
        elements, next_element = _sorted_elements(tokens, order_key, element_ids, True, counters[0])
        bucket = _bucket(n)
        short_prefix = n - _needed_overlap(threshold, n, n) + 1 if n else 0
        long_prefix = n - _alpha_min(n, threshold) + 1 if n else 0
        short_lists, next_short = _list_ids(elements, short_prefix, bucket, short_keys, counters[1], True)
        long_lists, next_long = _list_ids(elements, long_prefix, bucket, long_keys, counters[2], True)
        counters[0], counters[1], counters[2] = next_element, next_short, next_long
        if next_element > full[0].shape[0] or next_short > short[0].shape[0] or next_long > long[0].shape[0]:
            return b, 0, 0, 0
        need_s = _room(short_lists, short[1], short[2])
        need_l = _room(long_lists, long[1], long[2])
        need_f = _room(elements, full[1], full[2])
        if (
            short[4][0] + need_s > short[3].shape[0]
            or long[4][0] + need_l > long[3].shape[0]
            or full[4][0] + need_f > full[3].shape[0]
        ):
            return b, need_s, need_l, need_f
        item = first_item + b
        start = item_offsets[item]
        all_tokens[start : start + n] = tokens
        item_offsets[item + 1] = start + n
        item_lengths[item] = n
        _sketch(tokens, sketches[item])
        signature = _signature(tokens)
        _append(short_lists, item, short, signature, True)
        _append(long_lists, item, long, signature, True)
        _append(elements, item, full, signature, False)
    return batch_offsets.shape[0] - 1, 0, 0, 0


@njit(cache=True)
def _prepare_query(query_tokens, slot, masks):
    """Bit masks of the query's positions per distinct token: slot[token] = its row in masks (reset afterwards)."""
    distinct = 0
    for position in range(query_tokens.shape[0]):
        t = query_tokens[position]
        if t < 0:
            continue
        if slot[t] < 0:
            slot[t] = distinct
            masks[distinct, :] = 0
            distinct += 1
        masks[slot[t], position >> 6] |= np.uint64(1) << np.uint64(position & 63)
    return distinct


@njit(cache=True)
def _reset_query(query_tokens, slot):
    for t in query_tokens:
        if t >= 0:
            slot[t] = -1


@njit(cache=True)
def _lcs(n, words, slot, masks, all_tokens, start, length, v):
    """LCS length of the prepared query and one item, bit-parallel; v is a scratch row of `words` words."""
    for w in range(words):
        v[w] = _M64
    tail = n & 63
    last = (np.uint64(1) << np.uint64(tail)) - np.uint64(1) if tail else _M64
    v[words - 1] = last
    if words == 1:
        x = v[0]
        for k in range(start, start + length):
            s = slot[all_tokens[k]]
            if s >= 0:
                u = x & masks[s, 0]
                x = ((x + u) | (x - u)) & last
        return n - _popcount(x)
    for k in range(start, start + length):
        s = slot[all_tokens[k]]
        if s < 0:
            continue
        carry = np.uint64(0)
        for w in range(words):
            vw = v[w]
            u = vw & masks[s, w]
            total = vw + u
            c1 = total < vw
            total2 = total + carry
            c2 = total2 < total
            carry = np.uint64(1) if (c1 or c2) else np.uint64(0)
            v[w] = total2 | (vw & ~u)  # v - u == v & ~u, because u is a subset of v
        v[words - 1] &= last
    count = 0
    for w in range(words):
        count += _popcount(v[w])
    return n - count


@njit(cache=True)
def _probe(
    query_elements,
    n,
    threshold,
    bucket,
    m_low,
    m_high,
    longer,
    keys,
    table,
    item_lengths,
    hits,
    touched,
    n_touched,
    levels,
    tail,
    signed,
):
    """Scan one length bucket of the short (longer=False: items no longer than the query) or long table (items
    longer than the query) with the length, prefix, signature and positional filters; returns the new touched
    count."""
    start, size, _, entries, _ = table
    low, high = _bucket_bounds(bucket)
    exact = low == high
    low, high = max(low, m_low), min(high, m_high)
    if longer:
        low = max(low, n + 1)
    else:
        high = min(high, n)
    if low > high:
        return n_touched
    prefix = n - _needed_overlap(threshold, n, low) + 1  # the shortest partner needs the longest prefix
    least = _needed_overlap(threshold, n, low)  # the overlap any item of this bucket needs, at the least
    for i in range(prefix):
        e = query_elements[i]
        if e < 0:
            continue
        key = (e << 16) | bucket
        if key not in keys:
            continue
        list_id = keys[key]
        for x in range(start[list_id], start[list_id] + size[list_id]):
            entry = entries[x]
            if signed and _signature_bound(levels, tail, entry) < least:
                continue  # dropped from the entry alone: the item's own state is never read
            item = entry >> _ITEM_SHIFT
            h = hits[item]
            if h < 0:
                continue
            m = low if exact else item_lengths[item]
            if m < low or m > high:
                continue
            bound = h + 1 + min(n - i - 1, m - (entry & _POSITION_MASK) - 1)
            if h == 0:
                touched[n_touched] = item
                n_touched += 1
            hits[item] = h + 1 if bound >= _needed_overlap(threshold, n, m) else -1
    return n_touched


@njit(cache=True)
def _query_elements(query_tokens, order_key, element_ids):
    """The query's elements in the global order, -1 for elements never indexed; unknown tokens (-1) come first,
    as the rarest of all (they match nothing)."""
    known = query_tokens[query_tokens >= 0]
    elements, _ = _sorted_elements(known, order_key, element_ids, False, 0)
    out = np.full(query_tokens.shape[0], -1, np.int64)
    out[query_tokens.shape[0] - known.shape[0] :] = elements
    return out


@njit(cache=True)
def _candidates_above(
    query_tokens,
    threshold,
    first,
    order_key,
    element_ids,
    slot,
    masks,
    hits,
    touched,
    all_tokens,
    item_offsets,
    item_lengths,
    sketches,
    s0,
    s1,
    s2,
    s3,
    s4,
    short_keys,
    l0,
    l1,
    l2,
    l3,
    l4,
    long_keys,
):
    """Every item with F > threshold (or the first found, with first=True). Length buckets are probed nearest to
    the query's length first; an item lives in one bucket, so each bucket's survivors are final once it is probed
    and get their exact LCS right away, likeliest (most shared prefix elements) first."""
    short, long = (s0, s1, s2, s3, s4), (l0, l1, l2, l3, l4)
    n = query_tokens.shape[0]
    query_elements = _query_elements(query_tokens, order_key, element_ids)
    m_low = _alpha_min(n, threshold)  # t|a|/(2-t) < |b| < (2-t)|a|/t
    m_high = int(np.ceil((2 - threshold) * n / threshold + 1e-9)) - 1
    b_low, b_mid, b_high = _bucket(m_low), _bucket(n), _bucket(m_high)
    _prepare_query(query_tokens, slot, masks)
    levels, tail, signed = _signature_levels(query_tokens)
    query_counts = np.zeros(64, np.int64)
    for t in query_tokens:
        if t >= 0:
            query_counts[_sketch_bucket(t)] += 1
    words = (n + 63) >> 6
    v = np.empty(words, np.uint64)
    out_items = np.empty(16, np.int64)
    out_scores = np.empty(16, np.float64)
    n_found = 0
    done = False
    for step in range(2 * (b_high - b_low) + 1):  # b_mid, b_mid + 1, b_mid - 1, b_mid + 2, ...
        bucket = b_mid + (step + 1) // 2 if step % 2 else b_mid - step // 2
        if bucket < b_low or bucket > b_high:
            continue
        n_touched = _probe(
            query_elements,
            n,
            threshold,
            bucket,
            m_low,
            m_high,
            False,
            short_keys,
            short,
            item_lengths,
            hits,
            touched,
            0,
            levels,
            tail,
            signed,
        )
        n_touched = _probe(
            query_elements,
            n,
            threshold,
            bucket,
            m_low,
            m_high,
            True,
            long_keys,
            long,
            item_lengths,
            hits,
            touched,
            n_touched,
            levels,
            tail,
            signed,
        )
        survivors = np.empty(n_touched, np.int64)
        counts = np.empty(n_touched, np.int64)
        n_survivors = 0
        for c in range(n_touched):
            item = touched[c]
            if hits[item] > 0:
                survivors[n_survivors] = item
                counts[n_survivors] = hits[item]
                n_survivors += 1
            hits[item] = 0
        order = np.argsort(-counts[:n_survivors], kind="mergesort")
        for c in range(n_survivors):
            item = survivors[order[c]]
            m = item_lengths[item]
            if _sketch_bound(query_counts, sketches[item]) < _needed_overlap(threshold, n, m):
                continue
            f = _rouge_f(_lcs(n, words, slot, masks, all_tokens, item_offsets[item], m, v), n, m)
            if f > threshold:
                if n_found == out_items.shape[0]:
                    out_items = np.concatenate((out_items, np.empty(n_found, np.int64)))
                    out_scores = np.concatenate((out_scores, np.empty(n_found, np.float64)))
                out_items[n_found] = item
                out_scores[n_found] = f
                n_found += 1
                if first:
                    done = True
                    break
        if done:
            break
    _reset_query(query_tokens, slot)
    return out_items[:n_found], out_scores[:n_found]


@njit(cache=True)
def _top_k(
    query_tokens,
    k,
    order_key,
    element_ids,
    slot,
    masks,
    seen,
    touched,
    all_tokens,
    item_offsets,
    item_lengths,
    f_start,
    f_size,
    f_items,
):
    """Exact top-k items by F (ties: lower item index first), walking the full index rarest element first."""
    query_elements = _query_elements(query_tokens, order_key, element_ids)
    n = query_tokens.shape[0]
    best_items = np.empty(k, np.int64)
    best_scores = np.empty(k, np.float64)
    count = 0
    _prepare_query(query_tokens, slot, masks)
    words = (n + 63) >> 6
    v = np.empty(words, np.uint64)
    n_touched = 0
    for i in range(n):
        e = query_elements[i]
        if e >= 0 and e < f_start.shape[0]:
            s = f_start[e]
            for x in range(s, s + f_size[e]):
                item = f_items[x]
                if seen[item]:
                    continue
                seen[item] = True
                touched[n_touched] = item
                n_touched += 1
                m = item_lengths[item]
                if count == k:  # its shared elements all lie at query positions >= i: LCS <= min(n - i, m)
                    if 2.0 * min(n - i, m) / (n + m) + 1e-9 < best_scores[k - 1]:
                        continue
                f = _rouge_f(_lcs(n, words, slot, masks, all_tokens, item_offsets[item], m, v), n, m)
                if f <= 0.0:
                    continue
                if count == k and (f < best_scores[k - 1] or (f == best_scores[k - 1] and item > best_items[k - 1])):
                    continue
                j = count if count < k else k - 1  # insert, keeping (score desc, item asc)
                while j > 0 and (best_scores[j - 1] < f or (best_scores[j - 1] == f and best_items[j - 1] > item)):
                    best_scores[j] = best_scores[j - 1]
                    best_items[j] = best_items[j - 1]
                    j -= 1
                best_scores[j] = f
                best_items[j] = item
                if count < k:
                    count += 1
        # Items not seen yet share none of the first i+1 elements: LCS <= n - i - 1.
        remaining = n - i - 1
        ceiling = 2.0 * remaining / (n + remaining) if remaining > 0 else 0.0
        if count == k and best_scores[k - 1] > ceiling + 1e-9:
            break
    for c in range(n_touched):
        seen[touched[c]] = False
    _reset_query(query_tokens, slot)
    return best_items[:count], best_scores[:count]


@njit(cache=True)
def _all_scores(query_tokens, slot, masks, all_tokens, item_offsets, item_lengths, first, n_items):
    """F against every item from `first` on (the exhaustive reference, compiled the same way)."""
    n = query_tokens.shape[0]
    out = np.zeros(n_items - first, np.float64)
    if n == 0:
        return out
    _prepare_query(query_tokens, slot, masks)
    words = (n + 63) >> 6
    v = np.empty(words, np.uint64)
    for item in range(first, n_items):
        m = item_lengths[item]
        if m:
            out[item - first] = _rouge_f(_lcs(n, words, slot, masks, all_tokens, item_offsets[item], m, v), n, m)
    _reset_query(query_tokens, slot)
    return out


def _grown(array: np.ndarray, minimum: int, fill=None) -> np.ndarray:
    """The array, or a copy at least twice as large (and >= minimum) with its contents kept."""
    if array.shape[0] >= minimum:
        return array
    size = max(minimum, 2 * array.shape[0], 16)
    new = np.empty((size,) + array.shape[1:], array.dtype) if fill is None else np.full(size, fill, array.dtype)
    new[: array.shape[0]] = array
    return new


class _Postings:
    """Lists kept contiguous inside one arena: of packed entries (item, signature, position: the prefix tables) or
    of bare item indexes (the full table)."""

    def __init__(self, packed: bool) -> None:
        self.start = np.zeros(0, np.int64)
        self.size = np.zeros(0, np.int32)
        self.cap = np.zeros(0, np.int32)
        self.items = np.empty(1024, np.int64 if packed else np.int32)
        self.used = np.zeros(2, np.int64)  # arena fill, live entries
        self.compacted = 0  # the arena fill right after the last compaction (live entries and the lists' room)

    @property
    def table(self):
        return self.start, self.size, self.cap, self.items, self.used

    def grow_lists(self, count: int) -> None:
        old = self.start.shape[0]
        if count > old:
            self.start, self.size, self.cap = (_grown(a, count, 0) for a in (self.start, self.size, self.cap))
            for a in (self.start, self.size, self.cap):
                a[old:] = 0

    def grow_arena(self, need: int) -> None:
        """Room for `need` more entries; a full arena grows by a quarter (the entries are most of the index's
        memory, so doubling would leave up to half of it empty)."""
        minimum = int(self.used[0]) + need
        if self.items.shape[0] < minimum:
            grown = np.empty(max(minimum, self.items.shape[0] + (self.items.shape[0] >> 2), 1024), self.items.dtype)
            grown[: self.items.shape[0]] = self.items
            self.items = grown

    def live(self) -> int:
        return int(self.used[1])

    def compact(self, n_lists: int, slack_shift: int = 3) -> None:
        """Every list moved into a fresh arena with room for size >> slack_shift more entries (and a little room
        at the end)."""
        sizes = self.size[:n_lists].astype(np.int64)
        total = int((sizes + np.maximum(4, sizes >> slack_shift)).sum())
        items = np.empty(total + max(1024, total >> 6), self.items.dtype)
        self.used[0] = self.compacted = _compact(
            n_lists, self.start, self.size, self.cap, self.items, items, slack_shift
        )
        self.items = items

    def mostly_garbage(self, slack: int) -> bool:
        """More than half the arena is lists moved out since the last compaction (room left in lists is not)."""
        return int(self.used[0]) > 2 * max(self.live(), self.compacted) + slack

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.start, self.size, self.cap, self.items))


def _keys():
    return Dict.empty(key_type=types.int64, value_type=types.int64)


class NearDuplicateIndex:
    """add(item_id, text); most_similar(text, k); is_near_duplicate(text, threshold). Exact; incremental."""

    def __init__(self, threshold: float = 0.7) -> None:
        if not 0 < threshold < 1:
            raise ValueError("threshold must be within (0, 1)")
        self.threshold = threshold
        self._token_ids: dict[str, int] = {}
        self._order_key = np.zeros(0, np.int64)  # token id -> fixed order key (rarest first)
        self._element_ids = _keys()  # (token id << 32 | occurrence) -> element id
        self._counters = np.zeros(3, np.int64)  # next element id, next short list id, next long list id
        self._ids: list[str] = []
        self._tokens = np.empty(1024, np.uint16)  # all items' token ids in text order (int32 past 65,536 tokens)
        self._offsets = np.zeros(1024, np.int64)
        self._lengths = np.zeros(1024, np.int32)
        self._sketches = np.zeros((1024, 2), np.uint64)  # per item: token counts in 64 hash buckets
        self._short_keys = _keys()  # (element << 16 | length bucket) -> list id
        self._long_keys = _keys()
        self._short = _Postings(packed=True)  # items under their prefix for partners at least as long
        self._long = _Postings(packed=True)  # items under their prefix for shorter partners
        self._full = _Postings(packed=False)  # items under every element (exact top-k at any score)
        self._hits = np.zeros(0, np.int32)  # query scratch, one cell per item (always back to 0)
        self._seen = np.zeros(0, np.bool_)
        self._touched = np.zeros(0, np.int64)
        self._slot = np.full(0, -1, np.int32)  # query scratch, one cell per token (always back to -1)
        self.compact_slack = 1 << 16  # garbage entries tolerated beyond as many as the live ones
        self.compactions = 0

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def _store(self):
        return self._tokens, self._offsets, self._lengths

    @property
    def _store_with_sketches(self):
        return self._tokens, self._offsets, self._lengths, self._sketches

    def _tables(self):
        return (self._short, self._long, self._full), (self._counters[1], self._counters[2], self._counters[0])

    # --- building ---------------------------------------------------------------------------------------------

    def _token_id(self, token: str) -> int:
        token_id = self._token_ids.get(token)
        if token_id is None:
            token_id = self._token_ids[token] = len(self._token_ids)
            self._order_key = _grown(self._order_key, token_id + 1)
            self._order_key[token_id] = (1 << 32) + token_id  # first seen now: as rare as can be
        return token_id

    def _encode(self, texts: Iterable[str]) -> tuple[np.ndarray, np.ndarray, int]:
        """Token ids (new tokens get ids; build fixes their order keys) of many texts, flat, with offsets."""
        token_ids = self._token_ids
        known = len(token_ids)
        flat = array("i")
        offsets = array("q", [0])
        for text in texts:
            tokens = tokenize(text)
            ids = list(map(token_ids.get, tokens))
            if None in ids:
                new = token_ids.setdefault
                ids = [new(t, len(token_ids)) if i is None else i for t, i in zip(tokens, ids, strict=True)]
            flat.extend(ids)
            offsets.append(len(flat))
        return np.frombuffer(flat, np.int32), np.frombuffer(offsets, np.int64), known

    def build(self, items: Iterable[tuple[str, str]]) -> NearDuplicateIndex:
        """Add many items, first fixing the order of tokens not seen before by their document frequencies."""
        items = list(items)
        tokens, offsets, known = self._encode(text for _, text in items)
        total = len(self._token_ids)
        if total > known:
            df = np.zeros(total, np.int64)
            _document_frequencies(tokens, offsets, df)
            self._order_key = _grown(self._order_key, total)
            self._order_key[known:total] = df[known:] * (1 << 32) + np.arange(known, total, dtype=np.int64)
        self._add_encoded([item_id for item_id, _ in items], tokens, offsets)
        for table, lists in zip(*self._tables(), strict=True):
            if table.items.shape[0] > table.live() + (table.live() >> 3) + 4096:  # moved lists left garbage
                table.compact(int(lists))
        return self

    def add(self, item_id: str, text: str) -> None:
        ids = np.array([self._token_id(t) for t in tokenize(text)], np.int32)
        self._add_encoded([item_id], ids, np.array([0, len(ids)], np.int64))
        for table, lists in zip(*self._tables(), strict=True):
            if table.mostly_garbage(self.compact_slack):
                table.compact(int(lists))
                self.compactions += 1

    def add_many(self, items: Iterable[tuple[str, str]]) -> None:
        for item_id, text in items:
            self.add(item_id, text)

    def _add_encoded(self, item_ids: list[str], tokens: np.ndarray, offsets: np.ndarray) -> None:
        first = len(self._ids)
        count = len(item_ids)
        if first + count > MAX_ITEMS:
            raise ValueError(f"a near-duplicate index holds at most {MAX_ITEMS} items")
        if len(self._token_ids) > 1 << 16 and self._tokens.dtype == np.uint16:
            self._tokens = self._tokens.astype(np.int32)  # the vocabulary outgrew 16-bit token ids
        self._tokens = _grown(self._tokens, int(self._offsets[first]) + len(tokens))
        self._offsets = _grown(self._offsets, first + count + 1)
        self._lengths = _grown(self._lengths, first + count)
        self._sketches = _grown(self._sketches, first + count)
        if count > 1:  # a batch: room for what it will most likely need, instead of doubling step by step
            total = len(tokens)
            for table, share in ((self._short, 0.45), (self._long, 0.65), (self._full, 1.25)):
                table.grow_arena(int(total * share))
        done = 0
        while done < count:
            done, need_s, need_l, need_f = _add_items(
                tokens,
                offsets,
                done,
                first,
                self.threshold,
                self._order_key,
                self._element_ids,
                self._counters,
                *self._store_with_sketches,
                *self._short.table,
                self._short_keys,
                *self._long.table,
                self._long_keys,
                *self._full.table,
            )
            if done < count:  # out of room: grow what ran out (amortized doubling) and go on from the same item
                for table, lists in zip(*self._tables(), strict=True):
                    table.grow_lists(int(lists))
                for table, need in zip((self._short, self._long, self._full), (need_s, need_l, need_f), strict=True):
                    table.grow_arena(need)
        self._ids.extend(item_ids)
        n = len(self._ids)
        self._hits = _grown(self._hits, n, 0)
        self._seen = _grown(self._seen, n, False)
        self._touched = _grown(self._touched, n)
        self._slot = _grown(self._slot, len(self._token_ids), -1)

    # --- querying ---------------------------------------------------------------------------------------------

    def _query(self, text: str) -> np.ndarray:
        """The query's token ids in text order; unknown tokens are -1 (they match nothing)."""
        token_ids = self._token_ids
        return np.array([token_ids.get(t, -1) for t in tokenize(text)], np.int32)

    @staticmethod
    def _masks(length: int) -> np.ndarray:
        return np.empty((max(length, 1), (length + 63) // 64 or 1), np.uint64)

    def candidates_above(self, text: str, threshold: float | None = None, *, first: bool = False):
        """(item indexes, F) of every item with F > threshold (default: the index's), exact. With first=True it
        stops at the first item found (enough for a keep/reject decision)."""
        threshold = self.threshold if threshold is None else threshold
        if threshold < self.threshold:
            raise ValueError(f"this index prunes for F > {self.threshold}; use most_similar for lower scores")
        query_ids = self._query(text)
        if len(query_ids) == 0 or not self._ids:
            return np.array([], dtype=np.int64), np.array([])
        return _candidates_above(
            query_ids,
            threshold,
            first,
            self._order_key,
            self._element_ids,
            self._slot,
            self._masks(len(query_ids)),
            self._hits,
            self._touched,
            *self._store_with_sketches,
            *self._short.table,
            self._short_keys,
            *self._long.table,
            self._long_keys,
        )

    def near_duplicates(self, text: str, threshold: float | None = None, k: int = 10) -> list[tuple[str, float]]:
        """The (up to k) items with F > threshold, best first (ties: earlier-added first), exact."""
        items, scores = self.candidates_above(text, threshold)
        ranked = sorted(zip(scores.tolist(), items.tolist(), strict=True), key=lambda pair: (-pair[0], pair[1]))
        return [(self._ids[index], score) for score, index in ranked[:k]]

    def is_near_duplicate(self, text: str, threshold: float | None = None) -> bool:
        return len(self.candidates_above(text, threshold, first=True)[0]) > 0

    def most_similar(self, text: str, k: int = 10) -> list[tuple[str, float]]:
        """Exact top-k by F (ties: earlier-added first); items scoring 0 are left out."""
        return [(self._ids[index], score) for index, score in self.ranked(text, k)]

    def ranked_since(self, text: str, earlier: list[tuple[int, float]], since: int, k: int = 10):
        """The exact top-k now, given `earlier` = ranked(text, k) computed when the index held `since` items: only
        the items added since are scored (so the costly walk can run before a lock and this short step under it)."""
        query_ids = self._query(text)
        n_items = len(self._ids)
        if len(query_ids) == 0 or k <= 0 or since >= n_items:
            return list(earlier[:k])
        scores = _all_scores(query_ids, self._slot, self._masks(len(query_ids)), *self._store, since, n_items)
        (later,) = np.nonzero(scores > 0.0)
        merged = list(earlier) + [(since + int(i), float(scores[i])) for i in later]
        return sorted(merged, key=lambda pair: (-pair[1], pair[0]))[:k]

    def ranked(self, text: str, k: int = 10) -> list[tuple[int, float]]:
        """Exact top-k as (item index, F), best first (ties: earlier-added first); items scoring 0 are left out."""
        query_ids = self._query(text)
        if len(query_ids) == 0 or not self._ids or k <= 0:
            return []
        items, scores = _top_k(
            query_ids,
            k,
            self._order_key,
            self._element_ids,
            self._slot,
            self._masks(len(query_ids)),
            self._seen,
            self._touched,
            *self._store,
            self._full.start,
            self._full.size,
            self._full.items,
        )
        return [(int(i), float(s)) for i, s in zip(items.tolist(), scores.tolist(), strict=True)]

    def exhaustive_scores(self, text: str) -> np.ndarray:
        """F against every item, by brute force (the reference the benchmark checks decisions against)."""
        query_ids = self._query(text)
        return _all_scores(query_ids, self._slot, self._masks(len(query_ids)), *self._store, 0, len(self._ids))

    def item_id(self, index: int) -> str:
        return self._ids[index]

    def memory_bytes(self) -> int:
        arrays = (self._tokens, self._offsets, self._lengths, self._sketches, self._order_key)
        arrays += (self._hits, self._seen, self._touched, self._slot)
        tables = self._short.nbytes() + self._long.nbytes() + self._full.nbytes()
        return tables + sum(a.nbytes for a in arrays)
