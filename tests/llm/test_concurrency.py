"""Per-endpoint concurrency caps hold across threads and processes, and a dead holder frees its slot."""

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection

from llm.client import call_llm
from llm.concurrency import FileSlots, RedisSlots, SlotTimeout, get_slots, slot
from tests.helpers.slots import hold


def _backend(kind, tmp_path):
    return FileSlots(tmp_path / "locks") if kind == "file" else RedisSlots(settings.REDIS_URL)


BACKENDS = [pytest.param("file"), pytest.param("redis", marks=pytest.mark.services)]


def test_configured_backend_matches_the_pass():
    expected = RedisSlots if settings.REDIS_URL else FileSlots
    assert isinstance(get_slots(), expected)


@pytest.mark.django_db(transaction=True)
def test_endpoint_cap_holds_for_concurrent_calls(endpoint, teacher):
    endpoint.max_concurrency = 2
    endpoint.save()
    teacher.faults(latency_ms=150)

    def one(i):
        try:
            return call_llm(endpoint, purpose="test", prompt=f"q{i}")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(one, range(8)))
    assert len(replies) == 8
    stats = teacher.stats()
    assert stats["completed"] == 8
    assert stats["max_inflight"] == 2  # the cap was reached and never exceeded


@pytest.mark.parametrize("kind", BACKENDS)
def test_cap_holds_across_processes(kind, tmp_path):
    folder = str(tmp_path / "locks") if kind == "file" else settings.REDIS_URL
    out = tmp_path / "events"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=hold, args=(kind, folder, f"proc-{kind}", 2, str(out), 0.3)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    events = sorted((float(t), name) for name, t in (line.split() for line in out.read_text().splitlines()))
    running = peak = 0
    for _, name in events:
        running += 1 if name == "start" else -1
        peak = max(peak, running)
    assert len(events) == 12 and peak == 2


@pytest.mark.parametrize("kind", BACKENDS)
def test_waiting_times_out(kind, tmp_path):
    backend = _backend(kind, tmp_path)
    with slot(f"busy-{kind}", limit=1, lease_s=30, wait_s=1, backend=backend):
        started = time.monotonic()
        with pytest.raises(SlotTimeout):
            with slot(f"busy-{kind}", limit=1, lease_s=30, wait_s=0.3, backend=backend):
                pass
        assert time.monotonic() - started >= 0.3


HOLDER = """
import sys, time
from pathlib import Path
from llm.concurrency import FileSlots, RedisSlots
kind, where, lease = sys.argv[1], sys.argv[2], float(sys.argv[3])
backend = FileSlots(Path(where)) if kind == "file" else RedisSlots(where)
assert backend.try_acquire("crash", 1, lease) is not None
print("holding", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_killed_holder_frees_its_slot(kind, tmp_path):
    where = str(tmp_path / "locks") if kind == "file" else settings.REDIS_URL
    lease = 1.0
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, kind, where, str(lease)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=settings.BASE_DIR,
        env=os.environ.copy(),
    )
    assert proc.stdout.readline().strip() == "holding"
    backend = _backend(kind, tmp_path)
    assert backend.try_acquire("crash", 1, 30) is None  # held by the other process
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # flock is released by the kernel at once; a Redis lease expires after its lease time.
    with slot("crash", limit=1, lease_s=30, wait_s=lease + 3, backend=backend) as waited:
        assert waited <= lease + 3
