"""What the development error page (and error e-mails) may show: secrets are masked by name and inside URLs.

Django's SafeExceptionReporterFilter hides settings and request.META values whose *names* look secret (KEY,
SECRET, PASS, TOKEN…), but (1) traceback variables are shown whole: the local `META` of django/http/request.py,
WSGI's `environ` and the request's `headers` hold the process environment under runserver (every LLM_KEY_*,
AWS_SECRET_ACCESS_KEY) and the caller's Authorization header and session cookie; and (2) `DATABASE_URL=
postgres://user:password@host/db`, `REDIS_URL`, the cache's LOCATION and any other URL carry their password in the
*value*. This filter applies one rule everywhere the page renders a value — settings, request.META, cookies, POST
and every traceback variable: a value whose name (a mapping key, or a variable's own name) matches SECRET_NAMES is
replaced, mappings (dicts, QueryDicts, os.environ, headers) and sequences are cleansed recursively, and the password
of every `scheme://user:password@host` (or a libpq `password=…` in values named *_URL / *_URI) is masked; the
rest (names, scheme, user, host, path) stays visible for debugging.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.template.defaultfilters import pprint
from django.utils.datastructures import MultiValueDict
from django.views.debug import SafeExceptionReporterFilter

# Django's hidden_settings, plus what request.META, the environment and our settings name secrets with.
SECRET_NAMES = re.compile(
    "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|COOKIE|LLM_KEY|CREDENTIAL|PRIVATE|SESSION|CSRF|DSN", flags=re.I
)
_MAX_DEPTH = 8  # nesting shown below this is replaced: bounded work on self-referencing or deep values

# scheme://userinfo@ — the userinfo runs to the last "@" before the path, query or fragment (a password may hold
# an unescaped "@"); bounded classes and no nesting keep it linear.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]{0,30}://)(?P<userinfo>[^/?#\s]*)@")
_DSN_PASSWORD = re.compile(r"(?i)(password\s*=\s*)('[^']*'|\S+)")
_URL_NAME = re.compile(r"(?i)(_URL|_URI|LOCATION)$")


def mask_credentials(text: str, substitute: str) -> str:
    """`text` with the password of every URL in it replaced (the user name and host kept)."""

    def replace(match: re.Match) -> str:
        user, colon, password = match["userinfo"].partition(":")
        if not colon or not password:
            return match.group(0)
        return f"{match['scheme']}{user}:{substitute}@"

    return _URL_CREDENTIALS.sub(replace, str(text))  # str(): lazy strings too


class CredentialsFilter(SafeExceptionReporterFilter):
    """DEFAULT_EXCEPTION_REPORTER_FILTER: Django's filter with SECRET_NAMES, applied recursively to traceback
    variables too, plus passwords inside URL-shaped values."""

    hidden_settings = SECRET_NAMES

    def cleanse_setting(self, key, value):
        """Settings, request.META and cookies (Django calls this for each): the same rule as traceback variables."""
        return self._cleanse(key, value, 0)

    def _cleanse(self, key, value, depth: int):
        if isinstance(key, str) and (self.hidden_settings.search(key) or key == _session_cookie_name()):
            return self.cleansed_substitute
        if isinstance(value, str):
            masked = mask_credentials(value, self.cleansed_substitute)
            if isinstance(key, str) and _URL_NAME.search(key):
                masked = _DSN_PASSWORD.sub(lambda m: m.group(1) + self.cleansed_substitute, masked)
            return value if masked == value else masked
        if isinstance(value, (int, float, bool, bytes, type(None))):
            return value
        if isinstance(value, (Mapping, MultiValueDict, list, tuple, set, frozenset)) and depth >= _MAX_DEPTH:
            return self.cleansed_substitute
        if isinstance(value, MultiValueDict):  # QueryDict, request.POST/FILES: every value of each key
            return {k: [self._cleanse(k, v, depth + 1) for v in value.getlist(k)] for k in value}
        if isinstance(value, Mapping):  # dict, os.environ, request.headers, a connection's settings_dict
            return {k: self._cleanse(k, v, depth + 1) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            items = [self._cleanse("", v, depth + 1) for v in value]
            return items if isinstance(value, list) else tuple(items)
        return super().cleanse_setting("", value)  # callables wrapped as Django does; other objects as they are

    def get_post_parameters(self, request):
        """POST as shown (in DEBUG too, where Django masks nothing): fields with secret names (password…) masked."""
        post = super().get_post_parameters(request)
        if not post:
            return post
        cleansed = post.copy()
        for name in cleansed:
            if self.hidden_settings.search(name):
                cleansed.setlist(name, [self.cleansed_substitute])
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        """Each variable cleansed like a setting, its own name included (`api_key`, `password`)."""
        return [
            (name, self.cleansed_substitute if SECRET_NAMES.search(name) else value)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]

    def cleanse_special_types(self, request, value):
        """A traceback variable: mappings and sequences cleansed by key name, strings' URL passwords masked; any
        other object is shown as its masked rendering when that rendering held a URL password."""
        cleansed = super().cleanse_special_types(request, value)
        try:
            cleansed = self._cleanse("", cleansed, 0)
        except Exception as exc:  # noqa: BLE001 - a lazy or broken object must not break the error page
            return f"{exc!r} while cleansing a value"
        if isinstance(cleansed, (str, int, float, bool, bytes, type(None), dict, list, tuple)):
            return cleansed
        shown = pprint(cleansed)
        masked = mask_credentials(shown, self.cleansed_substitute)
        return cleansed if masked == shown else _Rendered(masked)


def _session_cookie_name() -> str:
    from django.conf import settings

    return settings.SESSION_COOKIE_NAME


class _Rendered:
    """A value the error page shows by its repr: the masked text."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text
