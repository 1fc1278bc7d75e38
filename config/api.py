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
