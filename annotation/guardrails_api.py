"""Thin DRF views of the quality guardrails, at /api/v1/projects/<slug>/annotation/labelers…: every labeler's
standing and reliability, and reinstating a paused labeler. Project admins only (other members get 404, as outsiders
do). The minimums are ranking settings (`min_reliability`, `min_gold_accuracy`: annotation/settings_api.py)."""

from __future__ import annotations

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from annotation import guardrails, quality_selectors
from annotation.services import AnnotationError
from core.api import ErrorSerializer, service_error_response
from projects.endpoints import SCOPED_NAME, SCOPED_PREFIX, ProjectEndpoint, Scope
from projects.models import Role

ADMINS_ONLY = Scope(see=(Role.ADMIN,))


class StandingSerializer(serializers.Serializer):
    labeler = serializers.CharField()
    paused = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True, help_text="Why they are paused, in the request's language.")
    paused_at = serializers.DateTimeField(allow_null=True)
    reinstated_by = serializers.CharField(allow_null=True)
    reinstated_at = serializers.DateTimeField(allow_null=True)


class LabelerQualitySerializer(StandingSerializer):
    consensus_agreement = serializers.FloatField(
        allow_null=True, help_text="Mean agreement with the leave-one-out consensus."
    )
    n = serializers.IntegerField(allow_null=True, help_text="Rankings that agreement is over.")
    gold_accuracy = serializers.FloatField(allow_null=True)
    gold_n = serializers.IntegerField(allow_null=True)
    reliability = serializers.FloatField(allow_null=True, help_text="Both combined, shrunk toward a prior.")


class LabelersApi(ProjectEndpoint):
    scopes = {"GET": ADMINS_ONLY}

    @extend_schema(responses=LabelerQualitySerializer(many=True), description="Every labeler's standing and quality.")
    def get(self, request):
        rows = quality_selectors.quality_overview(project=self.project)["labelers"]
        return Response(LabelerQualitySerializer(rows, many=True).data)


class ReinstateApi(ProjectEndpoint):
    scopes = {"POST": ADMINS_ONLY}

    @extend_schema(
        request=None,
        responses={200: StandingSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        description="Let a paused labeler claim tasks again; they are judged afresh on their rankings from now on. "
        "409 when they are not paused (another admin may have reinstated them a moment ago).",
    )
    def post(self, request, username: str):
        labeler = quality_selectors.get_project_labeler(project=self.project, username=username)
        if labeler is None:
            raise Http404("No such labeler in this project.")
        try:
            guardrails.reinstate_labeler(project=self.project, labeler=labeler, by=request.user)
        except AnnotationError as exc:
            return service_error_response(exc)
        standings = quality_selectors.labeler_standings(project=self.project)
        return Response(StandingSerializer(next(r for r in standings if r["labeler_id"] == labeler.pk)).data)


def _route(route: str, view, name: str):
    return path(SCOPED_PREFIX + route, view.as_view(), name=SCOPED_NAME.format(name))


# New routes: project-scoped only (no deprecated flat twins).
api_urlpatterns = [
    _route("annotation/labelers", LabelersApi, "annotation-labelers"),
    _route("annotation/labelers/<str:username>/reinstate", ReinstateApi, "annotation-labeler-reinstate"),
]
