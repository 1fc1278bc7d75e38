"""Settings come from the environment, strictly: a bad value stops start-up with its name."""

import os
import secrets
import subprocess
import sys

import pytest
from django.db import connection

from tests.helpers.processes import REPO

SUMMARY = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, sorted(s.ALLOWED_HOSTS))"
)


def load_settings(tmp_path, code=SUMMARY, **env):
    """Runs `code` in a fresh process with these settings' environment; it prints what the test reads."""
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_MODE", "DEBUG")}
    clean.update({"DATA_DIR": str(tmp_path), **env})
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=clean, capture_output=True, text=True)


def test_embedded_defaults_need_no_server(tmp_path):
    result = load_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:3] == ["True", "django.db.backends.sqlite3", "filesystem://localhost//"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # generated, private, not in the repo


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG must be one of"),
        ({"DJANGO_MODE": "prod"}, "DJANGO_MODE must be one of"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL must be a URL with scheme"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL must be a URL with scheme"),
        ({"ALLOWED_HOSTS": "a.com,,b.com"}, "ALLOWED_HOSTS must be a comma-separated list"),
        ({"ALLOWED_HOSTS": "*"}, "'*' is refused"),
        ({"DJANGO_MODE": "production", "ALLOWED_HOSTS": "x.com"}, "SECRET_KEY must be set"),
        ({"DJANGO_MODE": "production", "SECRET_KEY": "k" * 60}, "ALLOWED_HOSTS must be set"),
        (
            {"DJANGO_MODE": "production", "SECRET_KEY": "k" * 60, "ALLOWED_HOSTS": "x.com", "DEBUG": "1"},
            "DEBUG must be false",
        ),
        (
            {"CELERY_VISIBILITY_TIMEOUT": "ten", "REDIS_URL": "redis://127.0.0.1:6379/0"},
            "CELERY_VISIBILITY_TIMEOUT must be an integer",
        ),
    ],
)
def test_bad_values_fail_at_start_up_naming_the_variable(tmp_path, env, message):
    result = load_settings(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_production_path_settings(tmp_path):
    result = load_settings(
        tmp_path,
        DATABASE_URL="postgres://u@db.internal:5432/app",
        REDIS_URL="redis://r:6379/0",
        DJANGO_MODE="production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="a.com,b.com",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:3] == ["False", "django.db.backends.postgresql", "redis://r:6379/0"]


def test_a_tls_broker_verifies_its_certificate_through_the_project_transport(tmp_path):
    code = (
        "import django; django.setup(); from config.celery import app; c = app.connection_for_write(); "
        "print(type(c.transport).__module__, c.ssl['ssl_cert_reqs'].name, c.hostname, c.port)"
    )
    result = load_settings(tmp_path, code, REDIS_URL="rediss://r.internal:6380/0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["core.broker", "CERT_REQUIRED", "r.internal", "6380"]  # kombu's own: CERT_NONE


def run_check_deploy(tmp_path, **env):
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DEBUG")}
    clean.update({"DATA_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
    )


def test_check_deploy_is_clean_in_production_mode(tmp_path):
    result = run_check_deploy(
        tmp_path, DJANGO_MODE="production", SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="data.example.com"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_development_mode(tmp_path):
    result = run_check_deploy(tmp_path, DJANGO_MODE="development")
    assert result.returncode != 0 and "security.W" in result.stderr + result.stdout


@pytest.mark.django_db
def test_sqlite_runs_in_wal_mode():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only (this pass uses PostgreSQL)")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
