"""How diverse a project's accepted instructions are (reads only): per project or batch, the language mix, the
length spread, distinct-1 and distinct-2 (unique unigrams and bigrams over all, as in Li et al. 2016), the
nearest-neighbour similarity spread (each instruction's ROUGE-L to its closest pool neighbour, recorded when it was
accepted) and the most frequent opening words — the first word of an English instruction, the first two characters
of a Chinese one: a parser-free stand-in for the root verb. Once a rating run has tagged instructions
(selfinstruct/rating.py), the report adds their task types (selfinstruct/taxonomy.py) and the verb–object chart of
the Self-Instruct paper: the most common root verbs, each with its most common direct objects."""

from __future__ import annotations

import math
import time
from collections import Counter

from django.core.cache import cache
from django.db.models import Count, Max

from selfinstruct.models import GeneratedInstruction, InstructionStatus, PoolGeneration
from selfinstruct.similarity import tokenize
from selfinstruct.taxonomy import taxonomy_for
from selfinstruct.text import detect_language

LENGTH_BINS = (0, 5, 10, 15, 20, 30, 40, 60, 80, 120)  # tokens (a CJK character is a token)
TOP_OPENINGS = 20
TOP_VERBS, TOP_OBJECTS = 20, 4  # the verb–object chart: the commonest verbs, and each one's commonest objects
# A new state of a big pool is counted at most once per this many times the last count's duration (a count of
# 100,000 instructions takes seconds; a small pool's takes milliseconds, so it is counted afresh at once).
REFRESH_FACTOR = 20
CACHE_SECONDS = 7 * 24 * 3600
_VERSION = 1


def opening(text: str) -> str:
    """The first word of an English instruction, the first two CJK characters of a Chinese one."""
    tokens = tokenize(text)
    if not tokens:
        return ""
    if detect_language(text) == "zh":
        return "".join(tokens[:2])
    return tokens[0]


def diversity_report(*, project, batch_id: int | None = None) -> dict:
    rows = GeneratedInstruction.objects.filter(project=project, status=InstructionStatus.ACCEPTED)
    if batch_id is not None:
        rows = rows.filter(batch_id=batch_id)
    texts = _cached_text_statistics(project, batch_id, rows)
    taxonomy = taxonomy_for(project)
    # the tags change without the pool changing (a rating run tags, a new taxonomy re-tags): two grouped counts
    # in the database on every call, never cached
    task_types = Counter(dict(rows.exclude(task_type="").values_list("task_type").annotate(n=Count("id")).order_by()))
    verb_objects: dict[str, Counter] = {}
    pairs = rows.exclude(root_verb="").values_list("root_verb", "root_object").annotate(n=Count("id")).order_by()
    for verb, obj, count in pairs:
        verb_objects.setdefault(verb, Counter())[obj or "-"] += count
    return {
        **texts,
        "tagged": sum(task_types.values()),
        "task_types": [
            {"type": key, "name": taxonomy.name(key), "name_zh": taxonomy.name(key, "zh"), "n": count}
            for key, count in task_types.most_common()
        ],
        "task_type_entropy": _entropy(task_types),
        "verb_objects": _verb_objects(verb_objects),
    }


def _cached_text_statistics(project, batch_id: int | None, rows) -> dict:
    """The statistics of the accepted texts, computed once per state of the pool. An accepted row's text never
    changes; rows join the pool with a higher id and leave or rejoin it through a review that bumps the pool
    generation, so (generation, count, highest id) names a state of the pool. The entry lives in the shared cache,
    and only one process counts a project's pool at a time: while one counts, the others answer the previous
    state; a pool that only grew is counted at most once per REFRESH_FACTOR × the time the last count took (a
    review is counted at once)."""
    generation = PoolGeneration.objects.filter(project_id=project.pk).values_list("generation", flat=True).first() or 0
    shape = rows.aggregate(n=Count("id"), top=Max("id"))
    state = (generation, shape["n"], shape["top"])
    key = f"selfinstruct:diversity:{_VERSION}:{project.pk}:{project.created_at.timestamp()}:{batch_id or ''}"
    entry = cache.get(key)
    if entry is not None and entry["state"] == state:
        return entry["stats"]
    now = time.time()
    grew = entry is not None and entry["state"][0] == generation  # rows added, no review since
    if grew and now - entry["at"] < REFRESH_FACTOR * entry["took"]:
        return entry["stats"]  # the pool grew moments after an expensive count: that count stands a little longer
    if entry is not None and not cache.add(f"{key}:counting", 1, timeout=max(60, int(3 * entry["took"]))):
        return entry["stats"]  # another process is counting this state
    started = time.monotonic()
    stats = _text_statistics(rows.filter(id__lte=shape["top"] or 0))
    cache.set(key, {"state": state, "stats": stats, "at": now, "took": time.monotonic() - started}, CACHE_SECONDS)
    cache.delete(f"{key}:counting")
    return stats


def _text_statistics(rows) -> dict:
    """One pass over the accepted texts: languages, lengths, distinct-1/2, openings, nearest-neighbour spread."""
    languages: Counter = Counter()
    lengths = [0] * len(LENGTH_BINS)
    unigrams: Counter = Counter()
    bigrams: Counter = Counter()
    openings: Counter = Counter()
    similarity = [0] * 10
    n = total_sim = 0
    for text, language, nearest in rows.values_list("instruction", "language", "max_similarity").iterator(2000):
        n += 1
        languages[language] += 1
        tokens = tokenize(text)
        lengths[max(i for i, edge in enumerate(LENGTH_BINS) if len(tokens) >= edge)] += 1
        unigrams.update(tokens)
        bigrams.update(zip(tokens, tokens[1:], strict=False))
        openings[opening(text)] += 1
        similarity[min(9, int(nearest * 10))] += 1
        total_sim += nearest
    return {
        "instructions": n,
        "languages": dict(languages),
        "distinct_1": round(len(unigrams) / max(1, sum(unigrams.values())), 4),
        "distinct_2": round(len(bigrams) / max(1, sum(bigrams.values())), 4),
        "distinct_openings": len(openings),
        "mean_nearest_similarity": round(total_sim / n, 4) if n else None,
        "length": {
            "labels": [f"{a}–{b - 1}" for a, b in zip(LENGTH_BINS, LENGTH_BINS[1:], strict=False)]
            + [f"{LENGTH_BINS[-1]}+"],
            "counts": lengths,
        },
        "nearest_similarity": {"labels": [f"{i / 10:.1f}–{(i + 1) / 10:.1f}" for i in range(10)], "counts": similarity},
        "openings": [{"word": word, "n": count} for word, count in openings.most_common(TOP_OPENINGS) if word],
    }


def _entropy(counts: Counter) -> float | None:
    """Shannon entropy of the task-type mix in bits (log2 of the number of types when they are balanced)."""
    total = sum(counts.values())
    if not total:
        return None
    return round(-sum(c / total * math.log2(c / total) for c in counts.values()), 4)


def _verb_objects(verb_objects: dict[str, Counter]) -> list[dict]:
    """The commonest verbs (with their counts) and, for each, its commonest objects; the rest of a verb's objects
    are counted as "other", so each verb's objects add up to the verb (the chart's rings line up)."""
    ranked = sorted(verb_objects.items(), key=lambda item: (-sum(item[1].values()), item[0]))[:TOP_VERBS]
    out = []
    for verb, objects in ranked:
        total = sum(objects.values())
        top = objects.most_common(TOP_OBJECTS)
        rest = total - sum(count for _, count in top)
        out.append(
            {
                "verb": verb,
                "n": total,
                "objects": [{"object": obj, "n": count} for obj, count in top]
                + ([{"object": "other", "n": rest}] if rest else []),
            }
        )
    return out
