"""Plain SQL for the few statements on the labelers' hot path (annotation/fastpath.py, the labeling-project
lookup), PostgreSQL only."""

from __future__ import annotations

import psycopg
from django.db import connection


def first_row_prepared(sql: str, params: dict):
    """The statement's first row, run as a prepared statement of this connection: planning these statements costs
    about as much as running them, and a web process's connection lives on (CONN_MAX_AGE) to reuse the plan.
    (Django's own cursors bind parameters on the client, which cannot prepare.) Runs inside the caller's
    transaction, if any."""
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchone()
