"""Helpers for generation tests: drive a batch in-process, and check the accepted pool independently."""

from __future__ import annotations

import itertools
import re
import time

from rouge_score import rouge_scorer

from core.lifecycle import RunStatus
from selfinstruct.engine import run_generation_step
from selfinstruct.filters import NEAR_DUPLICATE_THRESHOLD, blacklisted_word
from selfinstruct.models import GeneratedInstruction, GenerationBatch, GenerationLane, GenerationRequest, SeedTask
from selfinstruct.selectors import accepted_count, batch_progress

# worker settings that make recovery quick enough for a test: stalled lanes restart after 4 s
FAST_RECOVERY = {"GENERATION_LANE_STALE_SECONDS": "4", "GENERATION_RECONCILE_SECONDS": "1"}

_scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def drive(batch: GenerationBatch, *, rounds: int = 200) -> GenerationBatch:
    """Run the batch's lanes step by step in this process until it stops (no broker, no worker)."""
    for _ in range(rounds):
        batch.refresh_from_db()
        if batch.status != RunStatus.RUNNING:
            return batch
        for lane in GenerationLane.objects.filter(batch=batch).order_by("number"):
            run_generation_step(batch_id=batch.pk, lane_number=lane.number, token=str(lane.token), step=lane.step)
    raise AssertionError(f"batch {batch.pk} still running after {rounds} rounds")


def wait_until_final(batch_id: int, timeout: float = 180) -> GenerationBatch:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = GenerationBatch.objects.get(pk=batch_id)
        if batch.status not in (RunStatus.RUNNING, RunStatus.PAUSED):
            return batch
        time.sleep(0.3)
    raise AssertionError(f"batch {batch_id} not finished after {timeout}s: {batch.status}")


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def _dp_rouge_l(a: list[str], b: list[str]) -> float:
    """Textbook dynamic-programming LCS, independent of the bit-parallel one under test."""
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return 2 * previous[-1] / (len(a) + len(b))


def independent_similarity(a: str, b: str) -> float:
    """rouge_score itself for English; for text with CJK (which the reference scores on its Latin bits only),
    ROUGE-L over Latin words and CJK characters by textbook DP."""
    if _CJK.search(a) or _CJK.search(b):
        split = re.compile(r"[a-z0-9]+|[\u3400-\u4dbf\u4e00-\u9fff]")
        return _dp_rouge_l(split.findall(a.lower()), split.findall(b.lower()))
    return _scorer.score(a, b)["rougeL"].fmeasure


def assert_pool_is_clean(project_id: int) -> int:
    """No two accepted instructions (or an accepted one and a seed) above the threshold; no blacklisted word;
    no exact duplicates. Returns the number of accepted instructions checked."""
    accepted = list(
        GeneratedInstruction.objects.filter(project_id=project_id, status="accepted").values_list(
            "instruction", "language"
        )
    )
    seeds = list(SeedTask.objects.filter(project_id=project_id).values_list("instruction", flat=True))
    texts = [text for text, _ in accepted]
    assert len(set(texts)) == len(texts), "exact duplicates were accepted"
    for text, language in accepted:
        assert blacklisted_word(text, language) is None, f"blacklisted word in {text!r}"
    for a, b in itertools.combinations(texts, 2):
        score = independent_similarity(a, b)
        assert score <= NEAR_DUPLICATE_THRESHOLD, f"{score:.3f} between {a!r} and {b!r}"
    for a in texts:
        for b in seeds:
            assert independent_similarity(a, b) <= NEAR_DUPLICATE_THRESHOLD, f"{a!r} too close to seed {b!r}"
    return len(texts)


def wait_for_accepted(batch_id: int, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while accepted_count(batch_id) < n:
        assert time.monotonic() < deadline, f"fewer than {n} accepted after {timeout}s"
        time.sleep(0.2)


def assert_batch_reconciles(batch: GenerationBatch, project_id: int, target: int) -> None:
    """Completed at its target; nothing lost or duplicated: every stored request is one step, and the counts
    reconcile with the rows; the pool is clean."""
    assert batch.status == RunStatus.SUCCEEDED, (batch.stop_reason, batch.error)
    progress = batch_progress(batch=batch)
    assert progress["accepted"] >= target
    requests = GenerationRequest.objects.filter(batch=batch, kind="tasks")
    assert requests.count() == len(set(requests.values_list("lane", "step")))
    assert sum(r.accepted for r in requests) == progress["accepted"]
    assert sum(r.parsed for r in requests) == GeneratedInstruction.objects.filter(batch=batch).count()
    assert assert_pool_is_clean(project_id) == progress["accepted"]
