"""pytest plugin loaded before Django settings (-p tests.testenv): isolates test data and decides the pass.

- DATA_DIR is a fresh temp folder, so tests never touch var/ (nor a running `make run`'s broker queue).
- TEST_SERVICES_PASS=1 is the PostgreSQL + Redis pass: both are probed first; when missing, every test skips
  with the reason shown, or the run fails at once when REQUIRE_SERVICES=1.
- Tests marked `services` run only in that pass, tests marked `embedded_only` only in the embedded one; `shared_data` tests need ../shared/data (required in CI); tests
  marked `long(seconds)` are handed out first.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ["DATA_DIR"] = os.environ.get("TEST_DATA_DIR") or tempfile.mkdtemp(prefix="idp-test-")

# pytest-xdist: each test process gets its own DATA_DIR (above: its own SQLite file and embedded broker), its own
# PostgreSQL test database (pytest-django suffixes it), and here its own Redis database, so queues, slots and caches
# of parallel processes never meet. gw0 keeps the configured database (15 by default), gw1 takes 14, and so on.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_WORKER.startswith("gw") and os.environ.get("REDIS_URL", "").startswith("redis"):
    _base, _, _db = os.environ["REDIS_URL"].rpartition("/")
    _number = int(_db) if _db.isdigit() else 0
    os.environ["REDIS_URL"] = f"{_base}/{(_number - int(_XDIST_WORKER[2:])) % 16}"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not _XDIST_WORKER:  # the controlling process: a folder its xdist processes share (tests/dbtemplate.py)
    os.environ["TEST_TEMPLATE_DIR"] = tempfile.mkdtemp(prefix="idp-test-template-")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SHARED_DATA_DIR", REPO.parent / "shared" / "data"))
SERVICES_PASS = os.environ.get("TEST_SERVICES_PASS") == "1"
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def _probe_services() -> str | None:
    """None when PostgreSQL (DATABASE_URL) and Redis (REDIS_URL) both answer, else why not."""
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres", "pgsql")) or not redis_url.startswith("redis"):
        return "the services pass needs DATABASE_URL=postgres://… and REDIS_URL=redis://…"
    try:
        import psycopg

        psycopg.connect(database_url.replace("pgsql://", "postgres://"), connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL at {database_url} is not reachable: {exc}".strip()
    try:
        import redis

        client = redis.Redis.from_url(redis_url, socket_connect_timeout=3)
        client.ping()
        client.flushdb()  # the test Redis database (TEST_REDIS_URL, /15 by default) belongs to the tests
    except Exception as exc:  # noqa: BLE001
        return f"Redis at {redis_url} is not reachable: {exc}"
    return None


_missing_services = _probe_services() if SERVICES_PASS else None


def pytest_configure(config):
    if getattr(config.option, "maxschedchunk", 0) is None:
        # By default pytest-xdist hands each process its first tests as one consecutive chunk (a quarter of its
        # share of the run), and more in chunks after that: the long tests, sorted first, all landed in the first
        # process, one after the other (548 s of a 574 s pass while the others idled from 400 s). One test at a time (each process still
        # holds the next one) makes it greedy: whichever process is free takes the longest test left.
        config.option.maxschedchunk = 1
    if _missing_services and REQUIRE_SERVICES:
        pytest.exit(f"REQUIRE_SERVICES=1 but {_missing_services}", returncode=3)
    if REQUIRE_SERVICES and not SHARED_DATA.is_dir() and not os.environ.get("PYTEST_XDIST_WORKER"):
        # Here, in the controlling process, and not at collection: an xdist process that exits there is reported
        # only as an INTERNALERROR about a "crashitem", without this message. (SHARED_DATA_DIR points elsewhere.)
        pytest.exit(f"REQUIRE_SERVICES=1 but the shared data folder {SHARED_DATA} is missing", returncode=3)


def pytest_unconfigure(config):
    if not _XDIST_WORKER:
        from tests.dbtemplate import drop_template

        folder = Path(os.environ["TEST_TEMPLATE_DIR"])
        try:
            drop_template(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def pytest_report_header(config):
    mode = "services pass: PostgreSQL + Redis" if SERVICES_PASS else "embedded pass: SQLite + filesystem broker"
    return [f"test path: {mode}; DATA_DIR={os.environ['DATA_DIR']}"]


DB_FIXTURES = {"db", "transactional_db", "django_db_setup", "live_server", "django_db_reset_sequences"}


def touches_services(item) -> bool:
    """Whether a test can behave differently on PostgreSQL + Redis: it uses the database (hence workers, the
    broker and the cache, which all sit behind it in these tests) or is marked `services`."""
    return bool(
        item.get_closest_marker("services")
        or item.get_closest_marker("django_db")
        or DB_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    )


def expected_seconds(item) -> float:
    """A `long(seconds)` test's rough duration on 2 cores; 0 for the rest."""
    marker = item.get_closest_marker("long")
    return float(marker.args[0]) if marker else 0.0


def longest_first(items: list, *, processes: int) -> list:
    """The order pytest-xdist hands tests out in: the longest first, so each runs alongside short ones instead of
    starting last and leaving the other processes idle while it finishes. xdist starts each process with two tests
    (see pytest_configure), so the first `processes` long tests are each followed by a short one: every process
    starts on its own long test rather than holding a second one behind it."""
    long = sorted((item for item in items if expected_seconds(item)), key=lambda item: -expected_seconds(item))
    short = [item for item in items if not expected_seconds(item)]
    if processes < 2:
        return long + short
    head = []
    for i, item in enumerate(long[:processes]):
        head += [item, *short[i : i + 1]]
    return head + long[processes:] + short[processes:]


def pytest_collection_modifyitems(config, items):
    if SERVICES_PASS and not _missing_services:
        # Pure unit tests already ran in the embedded pass: the services pass runs only what the services affect.
        # `embedded_only` tests cover on the embedded path what a services-pass test already covers on PostgreSQL +
        # Redis (the whole loop: the three-machine test; the demo stack: what `make run` starts on a laptop).
        kept, dropped = [], []
        for item in items:
            wanted = touches_services(item) and not item.get_closest_marker("embedded_only")
            (kept if wanted else dropped).append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept
    items[:] = longest_first(items, processes=int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1))
    shared_missing = not SHARED_DATA.is_dir()
    if shared_missing and REQUIRE_SERVICES and any(item.get_closest_marker("shared_data") for item in items):
        pytest.exit(f"REQUIRE_SERVICES=1 but the shared data folder {SHARED_DATA} is missing", returncode=3)
    for item in items:
        if _missing_services:
            item.add_marker(pytest.mark.skip(reason=_missing_services))
        elif item.get_closest_marker("services") and not SERVICES_PASS:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL + Redis: runs in the services pass of make test"))
        elif item.get_closest_marker("shared_data") and shared_missing:
            item.add_marker(pytest.mark.skip(reason=f"shared data folder {SHARED_DATA} is missing"))
