"""One migrated template database per test run, cloned by every pytest-xdist process.

Migrating a fresh test database costs each process ≈ 6.5 s of CPU on a busy 2-core machine. Instead the first
process to get here migrates a template (under a file lock in the run's TEST_TEMPLATE_DIR, made by the controlling
process), and each process copies it: `CREATE DATABASE … TEMPLATE` on PostgreSQL, SQLite's backup API for the
embedded pass. Each process still gets its own database, torn down as before; the controller drops the template.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path

TEMPLATE_DIR_ENV = "TEST_TEMPLATE_DIR"


def template_dir() -> Path | None:
    """The run's shared folder: set by the controlling process, inherited by the xdist processes."""
    value = os.environ.get(TEMPLATE_DIR_ENV)
    return Path(value) if value and os.environ.get("PYTEST_XDIST_WORKER") else None


@contextmanager
def _locked(folder: Path):
    with (folder / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def setup_from_template(folder: Path) -> list:
    """Give this process's connection its own test database, cloned from the run's template; the return value is
    what Django's `teardown_databases` takes."""
    from django.conf import settings
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    target = connection.creation._get_test_db_name()
    marker = folder / "template.json"
    with _locked(folder):
        if not marker.exists():
            marker.write_text(json.dumps(_build_template(connection, folder)))
    template = json.loads(marker.read_text())
    if connection.vendor == "postgresql":
        with connection._nodb_cursor() as cursor:
            quote = connection.ops.quote_name
            cursor.execute(f"DROP DATABASE IF EXISTS {quote(target)}")
            cursor.execute(f"CREATE DATABASE {quote(target)} TEMPLATE {quote(template['name'])}")
    else:
        Path(target).unlink(missing_ok=True)
        source, copy = sqlite3.connect(template["name"]), sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            source.close()
            copy.close()
    connection.close()
    settings.DATABASES[connection.alias]["NAME"] = target
    connection.settings_dict["NAME"] = target
    connection.ensure_connection()
    return [(connection, old_name, True)]


def _build_template(connection, folder: Path) -> dict:
    from django.conf import settings

    test_settings = connection.settings_dict["TEST"]
    old_name, old_test_name = connection.settings_dict["NAME"], test_settings.get("NAME")
    if connection.vendor == "postgresql":
        name = f"test_{old_name}_template"
    else:
        name = str(folder / "template.sqlite3")
    test_settings["NAME"] = name
    try:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    finally:
        connection.close()
        test_settings["NAME"] = old_test_name
        settings.DATABASES[connection.alias]["NAME"] = old_name
        connection.settings_dict["NAME"] = old_name
    return {"vendor": connection.vendor, "name": name, "url": os.environ.get("DATABASE_URL", "")}


def drop_template(folder: Path) -> None:
    """In the controlling process at the end of the run: the PostgreSQL template goes (SQLite's is a file there)."""
    marker = folder / "template.json"
    if not marker.exists():
        return
    template = json.loads(marker.read_text())
    if template["vendor"] == "postgresql" and template["url"]:
        import psycopg

        url = template["url"].replace("pgsql://", "postgres://")
        with psycopg.connect(url, dbname="postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{template["name"]}"')
