"""Request hygiene applied before any view runs."""

from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse


class RequestSizeMiddleware:
    """A request body larger than MAX_REQUEST_BYTES is refused with 413 before anything reads it: uploads (seeds,
    completions, evaluation sets) are spooled to disk whole before their own size checks apply, so without this one
    request could fill the server's disk. Runs first, before any middleware touches request.POST."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings

        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        if size > settings.MAX_REQUEST_BYTES:
            message = f"the request body is {size} bytes; the limit is {settings.MAX_REQUEST_BYTES}"
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class RejectNullBytesMiddleware:
    """A NUL character in the query string, the path or a form field is refused with 400: PostgreSQL cannot store
    or compare strings containing NUL, so without this a `?project=%00` would reach the database and fail there
    (found by schemathesis). JSON bodies are checked by the API's serializers (DRF refuses NUL in CharFields)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            "\x00" in request.path
            or _has_nul(request.GET)
            or (
                request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
                and _has_nul(request.POST)
            )
        ):
            message = "the request contains a NUL character"
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=400)
            return HttpResponseBadRequest(message)
        return self.get_response(request)


def _has_nul(query) -> bool:
    return any("\x00" in key or any("\x00" in value for value in query.getlist(key)) for key in query)


class ApiTrailingSlashMiddleware:
    """API paths have no trailing slash. Older clients' slashed forms (`/api/v1/datasets/`) are answered as the
    canonical path, in place (no redirect, so a POST keeps its body), and DRF's paging links use the canonical
    form."""

    PREFIX = "/api/v1/"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith(self.PREFIX) and path.endswith("/") and len(path) > len(self.PREFIX):
            request.path_info = path.rstrip("/")
            request.path = request.path.rstrip("/")
        return self.get_response(request)
