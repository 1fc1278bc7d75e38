"""Housekeeping every worker runs in a background thread of its main process: restart stalled work of every
registered run kind (core.lifecycle).

Nothing is lost when a worker is SIGKILLed or Redis restarts (and drops its queues): each long job keeps a
heartbeat in its database row, and any live worker restarts jobs whose heartbeat stopped. Several workers doing
this at once is safe: a restart is a conditional UPDATE that only one of them wins.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)
_started = threading.Event()


def run_maintenance_once() -> dict[str, int]:
    """One reconciler pass over every registered run kind (core.lifecycle.reconcile)."""
    from core.lifecycle import reconcile

    return reconcile()


def _loop(interval: float) -> None:
    stop = threading.Event()
    while not stop.is_set():
        try:
            close_old_connections()
            result = run_maintenance_once()
            acted = {kind: count for kind, count in result.items() if count}
            if acted:
                logger.warning("maintenance: stalled runs restarted or failed, by kind: %s", acted)
        except Exception:
            logger.exception("maintenance pass failed; retrying in %ss", interval)
        finally:
            connection.close()
        stop.wait(interval)


def start_maintenance_thread() -> None:
    if _started.is_set():
        return
    _started.set()
    interval = settings.GENERATION_RECONCILE_SECONDS
    threading.Thread(target=_loop, args=(interval,), name="maintenance", daemon=True).start()
