"""Run in spawned processes: imports nothing that needs Django's app registry."""

import time
from pathlib import Path

from llm.concurrency import FileSlots, RedisSlots, slot


def hold(kind: str, where: str, key: str, limit: int, out: str, seconds: float) -> None:
    backend = FileSlots(Path(where)) if kind == "file" else RedisSlots(where)
    with slot(key, limit=limit, lease_s=30, wait_s=30, backend=backend):
        with open(out, "a") as f:
            f.write(f"start {time.time()}\n")
        time.sleep(seconds)
        with open(out, "a") as f:
            f.write(f"end {time.time()}\n")
