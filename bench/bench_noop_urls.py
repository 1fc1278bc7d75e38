"""The platform's URLs plus `GET /bench/noop`: a DRF view that authenticates (token) and answers, nothing more —
the baseline a claim+submit round is compared with in bench/labelers.py."""

from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView


class NoOp(APIView):
    def get(self, request):
        return Response({"ok": True})


urlpatterns = [path("bench/noop", NoOp.as_view()), path("", include("config.urls"))]
