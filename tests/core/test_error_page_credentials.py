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
    for host in ("db.internal", "cache.internal", "broker.internal", "minio.internal"):
        assert host in page
    assert "sentry.internal" not in page  # a *_DSN value is hidden whole (a secret name), like *_KEY
    assert "DATABASE_URL" in page and "postgres://postgres:" in page  # user and scheme kept for debugging


def test_masking_keeps_urls_without_a_password(settings):
    from core.reporting import mask_credentials

    assert mask_credentials("postgres://postgres@db/app", "***") == "postgres://postgres@db/app"
    assert mask_credentials("see https://example.com/a@b", "***") == "see https://example.com/a@b"
    assert (
        mask_credentials("x postgres://u:p@h/d y redis://:q@r/0", "***") == "x postgres://u:***@h/d y redis://:***@r/0"
    )


# The re-test of finding 7: under runserver request.META is the whole process environment, and the traceback
# frame of django/http/request.py shows the local `META` (and WSGI's `environ`, the request's `headers`) whole —
# every LLM_KEY_*, AWS_SECRET_ACCESS_KEY and the caller's Authorization header and session cookie.
ENVIRONMENT = {"LLM_KEY_P1_OPENAI": "secret-p1-demo", "AWS_SECRET_ACCESS_KEY": "aws-Sekr1t-0123456789"}
AUTHORIZATION = "Token tok-Sekr1t-abcdef0123"
SESSION_ID = "sess-Sekr1t-0123456789abcdef"
SECRETS = [*ENVIRONMENT.values(), "tok-Sekr1t-abcdef0123", SESSION_ID]


def _as_under_runserver(monkeypatch) -> dict:
    """Request META as runserver builds it: the process environment plus the caller's headers."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    return {**ENVIRONMENT, "HTTP_AUTHORIZATION": AUTHORIZATION, "HTTP_COOKIE": f"sessionid={SESSION_ID}"}


@pytest.mark.parametrize("plain", [False, True], ids=["html", "text"])
def test_the_500_page_masks_secret_names_inside_traceback_variables(settings, monkeypatch, plain):
    import os

    from django.http import QueryDict

    settings.DEBUG = True
    meta = _as_under_runserver(monkeypatch)
    request = RequestFactory().get("/boom", HTTP_ACCEPT="text/plain" if plain else "text/html", **meta)
    META = request.META  # noqa: F841 - traceback variables, as in django/http/request.py
    environ = os.environ  # noqa: F841
    headers = request.headers  # noqa: F841
    nested = {"outer": [{"inner": ({"llm_key_p2_x": ENVIRONMENT["LLM_KEY_P1_OPENAI"]},)}]}  # noqa: F841
    form = QueryDict(f"client_secret={ENVIRONMENT['AWS_SECRET_ACCESS_KEY']}&name=x")  # noqa: F841
    api_key = ENVIRONMENT["LLM_KEY_P1_OPENAI"]  # noqa: F841 - a local whose own name looks secret
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        page = technical_500_response(request, *sys.exc_info()).content.decode()
    for secret in SECRETS:
        assert secret not in page
    assert "LLM_KEY_P1_OPENAI" in page and "AWS_SECRET_ACCESS_KEY" in page  # the names stay, for debugging


@pytest.mark.parametrize("plain", [False, True], ids=["html", "text"])
@pytest.mark.parametrize("url", ["/api/v1/projects/x/seeds", "/accounts/login/"])
def test_the_400_page_for_too_many_files_shows_no_secret(client, settings, monkeypatch, plain, url):
    """The probe's repro: an unauthenticated POST of 30 files answers the technical 400 page in DEBUG."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.DEBUG = True
    meta = _as_under_runserver(monkeypatch)
    files = {f"files{n}": SimpleUploadedFile(f"f{n}.jsonl", b"{}\n") for n in range(30)}
    response = client.post(url, files, HTTP_ACCEPT="text/plain" if plain else "text/html", **meta)
    assert response.status_code == 400
    page = response.content.decode()
    assert "TooManyFilesSent" in page  # the technical page, not a bare 400
    for secret in SECRETS:
        assert secret not in page


def test_an_api_request_with_too_many_files_answers_the_apis_json_400(client, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.DEBUG = False
    files = {f"files{n}": SimpleUploadedFile(f"f{n}.jsonl", b"{}\n") for n in range(30)}
    response = client.post("/api/v1/projects/x/seeds", files)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("files: ")
    page = client.post("/accounts/login/", files)  # pages keep Django's 400 page
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")
