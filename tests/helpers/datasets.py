"""Helpers for dataset-version tests."""

from __future__ import annotations

import time


def wait_while_building(version, timeout: float = 60) -> None:
    """Refresh the version until it is no longer building (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    version.refresh_from_db()
    while version.status == "building" and time.monotonic() < deadline:
        time.sleep(0.1)
        version.refresh_from_db()
