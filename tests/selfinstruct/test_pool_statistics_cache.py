"""The pool-wide numbers a page or an API call shows are counted once per state of the pool, not per request: the
diversity report's text statistics (cached by pool generation, size and highest id) and a batch's timeline (kept
incrementally: a poll reads only the rows added since the last one)."""

import pytest
from django.core.cache import cache

from selfinstruct import diversity
from selfinstruct.models import GeneratedInstruction, GenerationBatch, GenerationRequest
from selfinstruct.pool import invalidate_pool
from selfinstruct.selectors import batch_timeline
from selfinstruct.services import ensure_builtin_templates, get_template, review_instructions, template_snapshot


@pytest.fixture
def batch(project):
    from llm.services import create_endpoint

    endpoint = create_endpoint(name="stats", base_url="http://127.0.0.1:9/v1", model="none")
    ensure_builtin_templates()
    template = get_template(name="self-instruct")
    return GenerationBatch.objects.create(
        project=project, endpoint=endpoint, template=template, template_snapshot=template_snapshot(template), target=9
    )


def add_rows(batch, texts, status="accepted", reason=""):
    request, _ = GenerationRequest.objects.get_or_create(batch=batch, lane=0, step=0, defaults={"prompt": "x"})
    start = GeneratedInstruction.objects.count()
    return GeneratedInstruction.objects.bulk_create(
        GeneratedInstruction(
            project_id=batch.project_id,
            batch=batch,
            request=request,
            instruction=text,
            instruction_key=f"key-{start + i}",
            language="en",
            status=status,
            reason=reason,
            max_similarity=0.25,
        )
        for i, text in enumerate(texts)
    )


@pytest.fixture
def counted(monkeypatch):
    calls = []
    real = diversity._text_statistics

    def spy(rows):
        calls.append(1)
        return real(rows)

    monkeypatch.setattr(diversity, "_text_statistics", spy)
    cache.clear()
    return calls


def test_the_diversity_report_counts_the_texts_once_per_state_of_the_pool(project, batch, counted, monkeypatch):
    monkeypatch.setattr(diversity, "REFRESH_FACTOR", 0)  # every new state at once (the next test covers the wait)
    rows = add_rows(batch, ["Write a poem about rain.", "List three rivers.", "Explain gravity simply."])
    first = diversity.diversity_report(project=project)
    assert diversity.diversity_report(project=project) == first and len(counted) == 1  # the second is cached
    assert diversity.diversity_report(project=project, batch_id=batch.pk)["instructions"] == 3 and len(counted) == 2

    # tags are read on every call: a rating run tags without changing the pool
    GeneratedInstruction.objects.filter(pk=rows[0].pk).update(task_type="generation", root_verb="write")
    tagged = diversity.diversity_report(project=project)
    assert tagged["tagged"] == 1 and tagged["verb_objects"][0]["verb"] == "write" and len(counted) == 2

    add_rows(batch, ["Summarize the news."])  # a new accepted instruction is a new state
    assert diversity.diversity_report(project=project)["instructions"] == 4 and len(counted) == 3

    review_instructions(instructions=[rows[1]], accept=False, reviewer=None)  # a review bumps the generation
    assert diversity.diversity_report(project=project)["instructions"] == 3 and len(counted) == 4
    add_rows(batch, ["Translate hello."], status="rejected", reason="too_short")  # not in the pool: no recount
    assert diversity.diversity_report(project=project)["instructions"] == 3 and len(counted) == 4


def test_an_expensive_count_stands_a_while_and_one_process_counts_at_a_time(project, batch, counted):
    add_rows(batch, ["Write a poem about rain.", "List three rivers."])
    diversity.diversity_report(project=project)
    key = _key(project)
    entry = cache.get(key)
    cache.set(key, {**entry, "took": 60.0})  # as if counting took a minute
    add_rows(batch, ["Explain gravity simply."])
    assert diversity.diversity_report(project=project)["instructions"] == 2 and len(counted) == 1
    cache.set(key, {**entry, "took": 0.0, "at": 0})
    cache.add(f"{key}:counting", 1)  # another process is counting the new state
    assert diversity.diversity_report(project=project)["instructions"] == 2 and len(counted) == 1
    cache.delete(f"{key}:counting")
    assert diversity.diversity_report(project=project)["instructions"] == 3 and len(counted) == 2


def _key(project, batch_id=None):
    return f"selfinstruct:diversity:{diversity._VERSION}:{project.pk}:{project.created_at.timestamp()}:{batch_id or ''}"


def test_a_batch_timeline_reads_only_the_rows_added_since_the_last_poll(project, batch, django_assert_num_queries):
    cache.clear()
    rows = add_rows(batch, ["a b c d", "e f g h"]) + add_rows(batch, ["x"], status="rejected", reason="too_short")
    first = batch_timeline(batch=batch)
    assert first["accepted"][-1][1] == 2 and first["too_short"][-1][1] == 1
    # a row changed behind the count's back (no review, no generation bump) is not re-read: the count is kept
    GeneratedInstruction.objects.filter(pk=rows[0].pk).update(status="rejected", reason="reviewer")
    with django_assert_num_queries(2):  # the pool generation and the rows above the last id counted
        assert batch_timeline(batch=batch) == first
    add_rows(batch, ["i j k l"])
    assert batch_timeline(batch=batch)["accepted"][-1][1] == 3  # the new row is counted on top
    invalidate_pool(project.pk)  # what a review does: the count starts afresh and sees the review
    again = batch_timeline(batch=batch)
    assert again["accepted"][-1][1] == 2 and again["reviewer"][-1][1] == 1 and again["too_short"][-1][1] == 1
