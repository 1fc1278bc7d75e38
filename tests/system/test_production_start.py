"""Decision: production pages all failed without `collectstatic` (WhiteNoise's manifest storage names hashed files),
and nothing ran it. The documented production start — `gunicorn config.wsgi` with DJANGO_MODE=production (after
`manage.py migrate`, which this test leaves out: neither the sign-in page nor the health call reads a table) — serves a page, an API call and the static files the page names, from an empty
DATA_DIR. (No database fixture: it runs in the embedded pass only.)"""

from __future__ import annotations

import os
import re
import secrets
import sys
import urllib.error
import urllib.request

import pytest

from tests.helpers.processes import free_port, spawn

pytestmark = [pytest.mark.long(30), pytest.mark.timeout(180)]


def _get(url: str) -> tuple[int, str]:
    # As from behind the TLS-terminating proxy production expects (SECURE_PROXY_SSL_HEADER).
    request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https", "Accept-Language": "en"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def test_a_production_start_serves_pages_api_and_static_files(tmp_path):
    drop = ("DATABASE_URL", "REDIS_URL", "DEBUG", "STORAGE_URL", "DJANGO_SETTINGS_MODULE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        DATA_DIR=str(tmp_path / "data"),
        DJANGO_MODE="production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="127.0.0.1",
        PYTHONUNBUFFERED="1",
    )
    port = free_port()
    gunicorn = [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"]
    with spawn(gunicorn, ready="Booting worker", env=env, timeout=120) as web:
        base = f"http://127.0.0.1:{port}"
        status, page = _wait_for_page(f"{base}/accounts/login/")
        assert status == 200, page[-3000:] + web.output()[-3000:]
        assert _get(f"{base}/api/v1/health") == (200, '{"status":"ok","database":true}')
        static = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
        assert static, page
        for url in static:
            assert re.search(r"\.[0-9a-f]{12}\.", url), url  # the collected, hashed name
            assert _get(base + url)[0] == 200, url
    assert (tmp_path / "data" / "static" / "staticfiles.json").is_file()


def _wait_for_page(url: str, timeout: float = 60) -> tuple[int, str]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            return _get(url)
        except OSError:  # workers still starting
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
