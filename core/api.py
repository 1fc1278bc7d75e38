"""Unauthenticated liveness probe for load balancers; says nothing beyond ok / not ok."""

from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class HealthOutputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded"])
    database = serializers.BooleanField()


class HealthApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={200: HealthOutputSerializer, 503: HealthOutputSerializer})
    def get(self, request):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            database = True
        except Exception:  # noqa: BLE001 - any failure means "not healthy"
            database = False
        body = HealthOutputSerializer({"status": "ok" if database else "degraded", "database": database}).data
        return Response(body, status=200 if database else 503)


def _flatten(errors, prefix: str = "") -> list[str]:
    # A list's item errors come keyed by index: item 0 is named too (a falsy key is still a key).
    if isinstance(errors, dict):
        return [m for key, value in errors.items() for m in _flatten(value, f"{prefix}{key}." if key != "" else prefix)]
    if isinstance(errors, list):
        return [m for value in errors for m in _flatten(value, prefix)]
    return [f"{prefix.rstrip('.')}: {errors}" if prefix else str(errors)]


def exception_handler(exc, context):
    """DRF's handler, with validation errors also summarized in `detail` ("field: message; …"), so every
    error response has a `detail` string and field errors stay available under `errors`."""
    from rest_framework.exceptions import ValidationError
    from rest_framework.views import exception_handler as drf_handler

    response = drf_handler(exc, context)
    if response is not None and isinstance(exc, ValidationError):
        response.data = {"detail": "; ".join(_flatten(response.data)), "errors": response.data}
    return response


# HTTP status for each ServiceError code (config/errors.py); anything else is a 400.
STATUS_FOR_CODE = {
    "invalid": 400,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "not_ready": 409,
    "not_assigned": 409,
    "lease_lost": 409,
    "missing": 410,
}


def service_error_response(exc) -> Response:
    return Response({"detail": str(exc)}, status=STATUS_FOR_CODE.get(exc.code, 400))


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.JSONField(required=False, help_text="Field errors, for validation failures.")


# Answers any operation can give, documented on every one of them by `document_common_errors` (a drf-spectacular
# postprocessing hook) so clients and schema checks know them: who may not call it, what does not exist for the
# caller (other projects' objects answer 404), what does not parse, and what conflicts with the current state.
COMMON_ERRORS = {
    "400": "The request does not parse or names a bad value (detail names the field).",
    "401": "No valid credentials.",
    "403": "Not allowed (for session sign-in: also a missing CSRF token).",
    "404": "No such object for this caller (objects of other projects included).",
    "409": "The object's state does not allow it.",
    "429": "Too many requests.",
}


def document_common_errors(result, generator, request, public):
    """Add COMMON_ERRORS (with the Error body) to every operation that does not document them itself;
    unauthenticated operations (no security requirement) get no 401/403."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            public_operation = operation.get("security") in ([], [{}])
            for code, text in COMMON_ERRORS.items():
                if code in responses or (public_operation and code in ("401", "403")):
                    continue
                responses[code] = {"description": text, "content": error}
    return result


def not_found(request, exception=None):
    """404 for URLs no route matches: JSON under /api/ (like every other API answer), Django's page elsewhere."""
    from django.http import JsonResponse
    from django.views.defaults import page_not_found

    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


def bad_request(request, exception=None):
    """400 for a request Django refused while parsing it (SuspiciousOperation: too many files or fields, a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE, a bad header…): the API's JSON error naming the field under /api/, Django's page
    elsewhere."""
    from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
    from django.http import JsonResponse
    from django.views.defaults import bad_request as page

    if not request.path.startswith("/api/"):
        return page(request, exception)
    if isinstance(exception, TooManyFilesSent):
        detail = f"files: too many files in one request; the limit is {settings.DATA_UPLOAD_MAX_NUMBER_FILES}"
    elif isinstance(exception, TooManyFieldsSent):
        detail = f"fields: too many fields in one request; the limit is {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}"
    elif isinstance(exception, RequestDataTooBig):
        detail = f"body: the request body (files aside) is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes"
    else:
        detail = "The request could not be parsed."  # the exception's text is Django's, for logs, not clients
    return JsonResponse({"detail": detail}, status=400)
