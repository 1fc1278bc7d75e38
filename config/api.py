"""Unauthenticated liveness probe for load balancers; says nothing beyond ok / not ok."""

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
    if isinstance(errors, dict):
        return [m for key, value in errors.items() for m in _flatten(value, f"{prefix}{key}." if key else prefix)]
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
STATUS_FOR_CODE = {"invalid": 400, "not_found": 404, "conflict": 409, "not_ready": 409, "not_assigned": 409,
                   "lease_lost": 409, "missing": 410}  # fmt: skip


def service_error_response(exc) -> Response:
    return Response({"detail": str(exc)}, status=STATUS_FOR_CODE.get(exc.code, 400))


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.JSONField(required=False, help_text="Field errors, for validation failures.")
