"""Per-endpoint concurrency caps that hold across every worker process.

Redis (when REDIS_URL is set): a sorted set of leases, claimed atomically in a Lua script and expiring on their
own, so a worker killed while holding a slot frees it after its lease. Embedded default: one lock file per slot
with flock(), which the kernel releases when the holder dies; good for every process on one machine, which is
exactly the embedded broker's reach.
"""

from __future__ import annotations

import fcntl
import os
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
"""


class SlotTimeout(Exception):
    """No slot became free within the wait limit."""


class RedisSlots:
    def __init__(self, url: str):
        import redis

        self._redis = redis.Redis.from_url(url)
        self._acquire = self._redis.register_script(_ACQUIRE)

    def try_acquire(self, key: str, limit: int, lease_s: float) -> str | None:
        token = uuid.uuid4().hex
        ok = self._acquire(keys=[f"llm-slots:{key}"], args=[limit, int(lease_s * 1000), token])
        return token if ok else None

    def release(self, key: str, token: str) -> None:
        self._redis.zrem(f"llm-slots:{key}", token)

    def holders(self, key: str) -> int:
        return int(self._redis.zcard(f"llm-slots:{key}"))


class FileSlots:
    def __init__(self, folder: Path):
        self._folder = Path(folder)
        self._folder.mkdir(parents=True, exist_ok=True)

    def try_acquire(self, key: str, limit: int, lease_s: float) -> int | None:
        for index in random.sample(range(limit), limit):
            fd = os.open(self._folder / f"{key}.{index}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return fd
        return None

    def release(self, key: str, token: int) -> None:
        fcntl.flock(token, fcntl.LOCK_UN)
        os.close(token)


_backend = None


def get_slots():
    """The process-wide slot backend chosen by settings."""
    global _backend
    if _backend is None:
        from django.conf import settings

        _backend = RedisSlots(settings.REDIS_URL) if settings.REDIS_URL else FileSlots(settings.LOCK_DIR)
    return _backend


@contextmanager
def slot(key: str, *, limit: int, lease_s: float, wait_s: float, backend=None) -> Iterator[float]:
    """Hold one of `limit` slots for `key`; yields the seconds spent waiting. Raises SlotTimeout."""
    backend = backend or get_slots()
    started = time.monotonic()
    delay = 0.01
    while True:
        token = backend.try_acquire(key, limit, lease_s)
        if token is not None:
            break
        if time.monotonic() - started > wait_s:
            raise SlotTimeout(f"no free slot for {key} within {wait_s:.0f}s (limit {limit})")
        time.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(delay * 2, 0.2)
    try:
        yield time.monotonic() - started
    finally:
        backend.release(key, token)
