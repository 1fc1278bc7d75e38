"""How diverse a project's accepted instructions are (reads only): per project or batch, the language mix, the
length spread, distinct-1 and distinct-2 (unique unigrams and bigrams over all, as in Li et al. 2016), the
nearest-neighbour similarity spread (each instruction's ROUGE-L to its closest pool neighbour, recorded when it was
accepted) and the most frequent opening words — the first word of an English instruction, the first two characters
of a Chinese one: a parser-free stand-in for the root verb. Once a rating run has tagged instructions
(selfinstruct/rating.py), the report adds their task types (selfinstruct/taxonomy.py) and the verb–object chart of
the Self-Instruct paper: the most common root verbs, each with its most common direct objects."""

from __future__ import annotations

import math
from collections import Counter

from selfinstruct.models import GeneratedInstruction, InstructionStatus
from selfinstruct.similarity import tokenize
from selfinstruct.taxonomy import taxonomy_for
from selfinstruct.text import detect_language

LENGTH_BINS = (0, 5, 10, 15, 20, 30, 40, 60, 80, 120)  # tokens (a CJK character is a token)
TOP_OPENINGS = 20
TOP_VERBS, TOP_OBJECTS = 20, 4  # the verb–object chart: the commonest verbs, and each one's commonest objects


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
    languages: Counter = Counter()
    lengths = [0] * len(LENGTH_BINS)
    unigrams: Counter = Counter()
    bigrams: Counter = Counter()
    openings: Counter = Counter()
    similarity = [0] * 10
    task_types: Counter = Counter()
    taxonomy = taxonomy_for(project)
    verb_objects: dict[str, Counter] = {}
    n = total_sim = 0
    fields = ("instruction", "language", "max_similarity", "task_type", "root_verb", "root_object")
    for text, language, nearest, task_type, verb, obj in rows.values_list(*fields).iterator(2000):
        n += 1
        if task_type:
            task_types[task_type] += 1
        if verb:
            verb_objects.setdefault(verb, Counter())[obj or "-"] += 1
        languages[language] += 1
        tokens = tokenize(text)
        lengths[max(i for i, edge in enumerate(LENGTH_BINS) if len(tokens) >= edge)] += 1
        unigrams.update(tokens)
        bigrams.update(zip(tokens, tokens[1:], strict=False))
        openings[opening(text)] += 1
        similarity[min(9, int(nearest * 10))] += 1
        total_sim += nearest
    distinct = {
        "distinct_1": round(len(unigrams) / max(1, sum(unigrams.values())), 4),
        "distinct_2": round(len(bigrams) / max(1, sum(bigrams.values())), 4),
    }
    return {
        "instructions": n,
        "languages": dict(languages),
        **distinct,
        "distinct_openings": len(openings),
        "mean_nearest_similarity": round(total_sim / n, 4) if n else None,
        "length": {
            "labels": [f"{a}–{b - 1}" for a, b in zip(LENGTH_BINS, LENGTH_BINS[1:], strict=False)]
            + [f"{LENGTH_BINS[-1]}+"],
            "counts": lengths,
        },
        "nearest_similarity": {"labels": [f"{i / 10:.1f}–{(i + 1) / 10:.1f}" for i in range(10)], "counts": similarity},
        "openings": [{"word": word, "n": count} for word, count in openings.most_common(TOP_OPENINGS) if word],
        "tagged": sum(task_types.values()),
        "task_types": [
            {"type": key, "name": taxonomy.name(key), "name_zh": taxonomy.name(key, "zh"), "n": count}
            for key, count in task_types.most_common()
        ],
        "task_type_entropy": _entropy(task_types),
        "verb_objects": _verb_objects(verb_objects),
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
