"""What every background run shares when its work raises: it ends `failed` with the error, never stays `running`."""

from __future__ import annotations

import contextlib
import logging

from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.utils import timezone

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def fails_on_error(rows, *, what: str):
    """`rows`: the run, filtered to the states it may be failed from (usually running, with its run token where it
    has one). Anything the block raises is logged with its traceback and recorded on the run as
    `failed` + the error message; the exception does not propagate (the message is done with: a redelivery would
    only raise again)."""
    try:
        yield
    except Exception as exc:  # whatever the work raised, the run must end in a known state
        logger.exception("%s failed", what)
        if isinstance(exc, (OperationalError, InterfaceError)):
            connection.close()  # a lost connection: record the failure on a fresh one
        try:
            rows.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:5000], finished_at=timezone.now())
        except DatabaseError:
            logger.exception("%s: could not record the failure (the database is unreachable)", what)
            raise exc from None
