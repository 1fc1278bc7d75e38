"""Identical completions: answers equal up to whitespace are one item of a ranking task (ranking two copies of
one text teaches nothing). The first of a group stands for it; the others point at it (`Completion.same_as`), so
every model and endpoint that gave the answer stays visible with it (read back by selectors.also_from)."""

from __future__ import annotations

from annotation.models import Completion
from selfinstruct.text import normalize_whitespace


def same_text(first: str, second: str) -> bool:
    return normalize_whitespace(first) == normalize_whitespace(second)


def merge_identical(completions: list[Completion]) -> list[int]:
    """Point each completion whose text equals an earlier one's (up to whitespace) at that one; returns the ids of
    the distinct answers, in the order given. Safe to run twice."""
    first_of: dict[str, Completion] = {}
    for completion in completions:
        first = first_of.setdefault(normalize_whitespace(completion.text), completion)
        if first is not completion and completion.same_as_id != first.pk:
            Completion.objects.filter(pk=completion.pk).update(same_as=first)
            completion.same_as_id = first.pk
    return [c.pk for c in first_of.values()]
