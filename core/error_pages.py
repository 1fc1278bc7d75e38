"""Friendly error pages (templates 403.html, 404.html, 500.html, on the site's layout) in every mode: the 500
handler (JSON under /api/), and a middleware that in DEBUG shows non-staff users the friendly 404 and 500 pages
instead of Django's technical ones (which list the URL patterns and the code); staff keep the technical pages."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.defaults import server_error as page_server_error

logger = logging.getLogger("django.request")


def server_error(request):
    """handler500: the API's JSON error under /api/, the friendly page (no context needed) elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "The server could not answer this request; it has been logged."}, status=500)
    return page_server_error(request)


def _friendly(request) -> bool:
    """Whether this request gets the friendly page where DEBUG would show the technical one."""
    user = getattr(request, "user", None)
    return settings.DEBUG and not request.path.startswith("/api/") and not getattr(user, "is_staff", False)


class FriendlyErrorPagesMiddleware:
    """DEBUG only (without DEBUG Django shows the friendly pages itself): a non-staff user gets 404.html for a view's
    Http404 or a URL no route matches, and 500.html for an uncaught exception (logged as Django logs it); a URL
    under /api/ that no route matches gets the API's JSON 404, whoever asks."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 404 or not settings.DEBUG or getattr(request, "resolver_match", None) is not None:
            return response
        # no route matched, and DEBUG's page lists the URL patterns: the API answers as without DEBUG
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": "Not found."}, status=404)
        return render(request, "404.html", status=404) if _friendly(request) else response

    def process_exception(self, request, exception):
        if not _friendly(request):
            return None
        if isinstance(exception, Http404):
            return render(request, "404.html", status=404)
        if isinstance(exception, Exception) and not _handled_by_django(exception):
            logger.error("Internal Server Error: %s", request.path, exc_info=exception, extra={"request": request})
            return render(request, "500.html", status=500)
        return None


def _handled_by_django(exception) -> bool:
    """Exceptions Django answers with their own status in every mode (403, 400), not a 500."""
    from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
    from django.http.multipartparser import MultiPartParserError

    return isinstance(exception, PermissionDenied | BadRequest | SuspiciousOperation | MultiPartParserError)
