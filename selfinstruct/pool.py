"""A project's instruction pool (seeds + accepted generated instructions) for near-duplicate checks.

Every write to the pool runs inside `locked_pool(project_id)`: one transaction holding the project's pool lock
(a PostgreSQL advisory lock; on SQLite every write transaction is already BEGIN IMMEDIATE, i.e. serialized). Under
the lock the process-local index first takes in the rows other workers committed since it last looked, so
check-and-insert is correct across any number of workers, and the index stays incremental. When rows leave or
rejoin the pool below the high-water marks (a review), `invalidate_pool` bumps the project's pool generation;
every process compares it under the lock and rebuilds its index when it changed.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import connection, transaction

if TYPE_CHECKING:
    from selfinstruct.neardup import NearDuplicateIndex


def _new_index() -> NearDuplicateIndex:
    from selfinstruct.neardup import NearDuplicateIndex  # numba loads with the first pool, not with Django

    return NearDuplicateIndex()


def _lock_key(project_id: int) -> int:
    digest = hashlib.sha256(f"selfinstruct-pool:{project_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass
class PoolState:
    index: NearDuplicateIndex = field(default_factory=_new_index)
    texts: dict[str, str] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)
    seed_hwm: int = 0
    instruction_hwm: int = 0
    generation: int = 0


_pools: dict[int, PoolState] = {}


def _sync(project_id: int, state: PoolState) -> None:
    from selfinstruct.models import GeneratedInstruction, InstructionStatus, SeedTask

    seeds = SeedTask.objects.filter(project_id=project_id, id__gt=state.seed_hwm).order_by("id")
    for seed_id, text, key in seeds.values_list("id", "instruction", "instruction_key").iterator(chunk_size=2000):
        state.index.add(f"s{seed_id}", text)
        state.texts[f"s{seed_id}"] = text
        state.keys.add(key)
        state.seed_hwm = seed_id
    accepted = GeneratedInstruction.objects.filter(
        project_id=project_id, status=InstructionStatus.ACCEPTED, id__gt=state.instruction_hwm
    ).order_by("id")
    for row_id, text, key in accepted.values_list("id", "instruction", "instruction_key").iterator(chunk_size=2000):
        state.index.add(f"g{row_id}", text)
        state.texts[f"g{row_id}"] = text
        state.keys.add(key)
        state.instruction_hwm = row_id


def _generation(project_id: int) -> int:
    from selfinstruct.models import PoolGeneration

    return PoolGeneration.objects.filter(project_id=project_id).values_list("generation", flat=True).first() or 0


def invalidate_pool(project_id: int) -> None:
    """Rows left or rejoined the pool below the high-water marks: every process rebuilds its index on next use.
    Call inside the transaction that changed them."""
    from django.db.models import F

    from selfinstruct.models import PoolGeneration

    PoolGeneration.objects.get_or_create(project_id=project_id)
    PoolGeneration.objects.filter(project_id=project_id).update(generation=F("generation") + 1)
    _pools.pop(project_id, None)


def _fresh_state(project_id: int) -> PoolState:
    state = PoolState(generation=_generation(project_id))
    _initial_build(project_id, state)
    return state


def _initial_build(project_id: int, state: PoolState) -> None:
    """First use in this process: load the whole pool at once, fixing the index's token order by frequency."""
    from selfinstruct.models import GeneratedInstruction, InstructionStatus, SeedTask

    items: list[tuple[str, str]] = []
    for seed_id, text, key in (
        SeedTask.objects.filter(project_id=project_id)
        .order_by("id")
        .values_list("id", "instruction", "instruction_key")
        .iterator(chunk_size=5000)
    ):
        items.append((f"s{seed_id}", text))
        state.keys.add(key)
        state.seed_hwm = seed_id
    accepted = GeneratedInstruction.objects.filter(project_id=project_id, status=InstructionStatus.ACCEPTED)
    for row_id, text, key in (
        accepted.order_by("id").values_list("id", "instruction", "instruction_key").iterator(chunk_size=5000)
    ):
        items.append((f"g{row_id}", text))
        state.keys.add(key)
        state.instruction_hwm = row_id
    state.index.build(items)
    state.texts.update(items)


@dataclass
class Lookahead:
    """What was worked out for some texts before taking the pool lock, against the process's index as it was then
    (`since` items): the exact top 10 of each text that was no near-duplicate of it. Under the lock only the items
    added since are scored (`NearDuplicateIndex.ranked_since`), so the costly walk over the pool does not hold up
    other workers. Valid only for the same index object (a rebuild under the lock makes a new one)."""

    index: NearDuplicateIndex | None = None
    since: int = 0
    top: dict[str, list[tuple[int, float]]] = field(default_factory=dict)

    def most_similar(self, index: NearDuplicateIndex, text: str, k: int = 10) -> list[tuple[str, float]]:
        earlier = self.top.get(text) if index is self.index else None
        ranked = index.ranked(text, k) if earlier is None else index.ranked_since(text, earlier, self.since, k)
        return [(index.item_id(i), score) for i, score in ranked]


def look_ahead(project_id: int, texts: list[str], threshold: float, k: int = 10) -> Lookahead:
    """Outside the lock: the exact top k of each text that is no near-duplicate of the pool this process holds
    (loading it on first use). Single-threaded per process, like the workers that call it."""
    state = _pools.get(project_id)
    if state is None:
        state = _pools[project_id] = _fresh_state(project_id)
    index = state.index
    ahead = Lookahead(index=index, since=len(index))
    for text in dict.fromkeys(texts):
        if not index.is_near_duplicate(text, threshold):
            ahead.top[text] = index.ranked(text, k)
    return ahead


@contextmanager
def locked_pool(project_id: int):
    """Yield the project's up-to-date PoolState inside a transaction that holds the pool lock.

    Callers insert accepted rows and add them to the state (index, texts, keys, high-water mark) as they go; if
    the transaction fails, the cached state is dropped (it may hold items never committed) and rebuilt on next use.
    """
    state = _pools.get(project_id)
    if state is None:
        # First use in this process: load the whole pool before taking the lock, so a large pool does not hold
        # up other workers. Writers commit in id order under the lock, so rows committed after this read all
        # have higher ids and the incremental sync below takes them in.
        state = _pools[project_id] = _fresh_state(project_id)
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(project_id)])
            if _generation(project_id) != state.generation:  # a review changed the pool: rebuild (rare)
                state = _pools[project_id] = _fresh_state(project_id)
            _sync(project_id, state)
            yield state
    except BaseException:
        _pools.pop(project_id, None)
        raise


@contextmanager
def pool_write_lock(project_id: int):
    """A transaction holding the project's pool lock, without loading an index: for writes that change rows
    already in the pool (curation), which call `invalidate_pool` before leaving, so an index loaded here would
    only be dropped."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(project_id)])
        yield
