"""What the development error page (and error e-mails) may show: credentials inside URLs are masked.

Django's SafeExceptionReporterFilter hides settings and environment values whose *names* look secret (KEY, SECRET,
PASS, TOKEN…), but `DATABASE_URL=postgres://user:password@host/db`, `REDIS_URL`, `CELERY_BROKER_URL`, the cache's
LOCATION and any other URL carry their password in the *value*. This filter masks the password part of every
`scheme://user:password@host` found in settings, request.META (the process environment under runserver) and
traceback variables, and the password of a libpq-style `password=…` in values named *_URL or *_DSN; the rest
(scheme, user, host, path) stays visible for debugging.
"""

from __future__ import annotations

import re

from django.template.defaultfilters import pprint
from django.views.debug import SafeExceptionReporterFilter

# scheme://userinfo@ — the userinfo runs to the last "@" before the path, query or fragment (a password may hold
# an unescaped "@"); bounded classes and no nesting keep it linear.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]{0,30}://)(?P<userinfo>[^/?#\s]*)@")
_DSN_PASSWORD = re.compile(r"(?i)(password\s*=\s*)('[^']*'|\S+)")
_URL_NAME = re.compile(r"(?i)(_URL|_DSN|^DSN|_URI|LOCATION)$")


def mask_credentials(text: str, substitute: str) -> str:
    """`text` with the password of every URL in it replaced (the user name and host kept)."""

    def replace(match: re.Match) -> str:
        user, colon, password = match["userinfo"].partition(":")
        if not colon or not password:
            return match.group(0)
        return f"{match['scheme']}{user}:{substitute}@"

    return _URL_CREDENTIALS.sub(replace, str(text))  # str(): lazy strings too


class CredentialsFilter(SafeExceptionReporterFilter):
    """DEFAULT_EXCEPTION_REPORTER_FILTER: Django's filter, plus passwords inside URL-shaped values."""

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):
            cleansed = mask_credentials(cleansed, self.cleansed_substitute)
            if isinstance(key, str) and _URL_NAME.search(key):
                cleansed = _DSN_PASSWORD.sub(lambda m: m.group(1) + self.cleansed_substitute, cleansed)
        return cleansed

    def cleanse_special_types(self, request, value):
        """A traceback variable: a string is masked; any other value (a settings dict, a connection's
        settings_dict) is shown as its masked rendering when that rendering held a URL password."""
        cleansed = super().cleanse_special_types(request, value)
        if isinstance(cleansed, str):
            masked = mask_credentials(cleansed, self.cleansed_substitute)
            return cleansed if masked == cleansed else masked
        if isinstance(cleansed, (int, float, bool, type(None))):
            return cleansed
        shown = pprint(cleansed)
        masked = mask_credentials(shown, self.cleansed_substitute)
        return cleansed if masked == shown else _Rendered(masked)


class _Rendered:
    """A value the error page shows by its repr: the masked text."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text
