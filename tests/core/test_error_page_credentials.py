"""Finding 7: the development error page listed DATABASE_URL=postgres://postgres:<password>@… (Django masks names
with KEY/SECRET/PASS, not values holding a URL's password). Settings, the environment in request.META and
traceback variables now show such URLs with the password masked and the host kept."""

import sys

import pytest
from django.test import RequestFactory
from django.views.debug import technical_500_response

PASSWORD = "hunter2-Sup3r"  # a fixture value, never a real one
URLS = {
    "DATABASE_URL": f"postgres://postgres:{PASSWORD}@db.internal:5432/app",
    "REDIS_URL": f"redis://:{PASSWORD}@cache.internal:6379/0",
    "CELERY_BROKER_URL": f"redis://broker:{PASSWORD}@broker.internal:6379/1",
    "SENTRY_DSN": f"https://public:{PASSWORD}@sentry.internal/2",
    "ANALYTICS_DSN": f"host=pg.internal user=app password={PASSWORD} dbname=x",
    "STORAGE_ENDPOINT": f"http://AKIAEXAMPLE:{PASSWORD}@minio.internal:9000/?x=1",
    "ODD_URL": f"postgres://app:{PASSWORD}@with-at@odd.internal/app",  # an unescaped "@" in the password
}


def _error_page(settings, plain: bool) -> str:
    settings.DEBUG = True
    for name, url in URLS.items():
        setattr(settings, name, url)
    settings.CACHES = {**settings.CACHES, "shared": {"BACKEND": "x", "LOCATION": URLS["REDIS_URL"]}}
    request = RequestFactory().get("/boom", HTTP_ACCEPT="text/plain" if plain else "text/html", **URLS)
    connection_settings = {"HOST": "db.internal", "URL": URLS["DATABASE_URL"]}  # noqa: F841 - a traceback variable
    database_url = URLS["DATABASE_URL"]  # noqa: F841 - a traceback variable
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        return technical_500_response(request, *sys.exc_info()).content.decode()


@pytest.mark.parametrize("plain", [False, True], ids=["html", "text"])
def test_the_error_page_never_shows_a_password_inside_a_url(settings, plain):
    page = _error_page(settings, plain)
    assert PASSWORD not in page
    for host in ("db.internal", "cache.internal", "broker.internal", "sentry.internal", "minio.internal"):
        assert host in page
    assert "DATABASE_URL" in page and "postgres://postgres:" in page  # user and scheme kept for debugging


def test_masking_keeps_urls_without_a_password(settings):
    from core.reporting import mask_credentials

    assert mask_credentials("postgres://postgres@db/app", "***") == "postgres://postgres@db/app"
    assert mask_credentials("see https://example.com/a@b", "***") == "see https://example.com/a@b"
    assert (
        mask_credentials("x postgres://u:p@h/d y redis://:q@r/0", "***") == "x postgres://u:***@h/d y redis://:***@r/0"
    )
