"""Thin DRF view of a project's agreement (issue 37), at /api/v1/projects/<slug>/annotation/agreement: Krippendorff's
α (ordinal) of its rankings and per aspect, and each labeler's reliability. Read by the project's admins, reviewers
and consumers (others get 404); the numbers come from annotation/agreement.py."""

from __future__ import annotations

from django.urls import path
from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive, make_aware
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from annotation import agreement
from annotation.models import ConsensusMethod
from core.api import ErrorSerializer
from projects.endpoints import SCOPED_NAME, SCOPED_PREFIX, ProjectEndpoint, Scope
from projects.models import Role

READERS = Scope(see=(Role.ADMIN, Role.REVIEWER, Role.CONSUMER))


class AlphaSerializer(serializers.Serializer):
    alpha = serializers.FloatField(allow_null=True, help_text="Krippendorff's α (ordinal); null: nothing to compare.")
    units = serializers.IntegerField(help_text="Completions rated by two or more labelers.")
    rankings = serializers.IntegerField()


class AspectAlphaSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    label_zh = serializers.CharField()
    alpha = serializers.FloatField(allow_null=True)
    units = serializers.IntegerField()
    ratings = serializers.IntegerField()


class ReliabilitySerializer(serializers.Serializer):
    labeler_id = serializers.IntegerField()
    labeler = serializers.CharField()
    consensus_agreement = serializers.FloatField(
        allow_null=True, help_text="Mean pairwise agreement with the other labelers' consensus (leave-one-out)."
    )
    n = serializers.IntegerField(help_text="Rankings judged against the others' consensus.")
    gold_accuracy = serializers.FloatField(allow_null=True, help_text="Mean pairwise agreement with gold.")
    gold_n = serializers.IntegerField()
    reliability = serializers.FloatField(help_text="Both combined, shrunk toward the prior on few rankings.")
    weight = serializers.FloatField(help_text="The labeler's vote in the weighted consensus (0: none).")


class AgreementSerializer(serializers.Serializer):
    consensus_method = serializers.ChoiceField(choices=ConsensusMethod.values)
    rankings = AlphaSerializer()
    aspects = AspectAlphaSerializer(many=True)
    labelers = ReliabilitySerializer(many=True)


def _moment(request, name: str):
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    moment = parse_datetime(raw) if len(raw) <= 40 else None
    if moment is None:
        raise ValidationError({name: ["Give an ISO 8601 date and time, e.g. 2026-12-01T00:00:00Z."]})
    return make_aware(moment) if is_naive(moment) else moment


class AgreementApi(ProjectEndpoint):
    scopes = {"GET": READERS}

    @extend_schema(
        parameters=[
            OpenApiParameter("since", str, required=False, description="Only rankings made at or after (ISO 8601)."),
            OpenApiParameter("until", str, required=False, description="Only rankings made before (ISO 8601)."),
        ],
        responses={200: AgreementSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
        description="Admins, reviewers and consumers: Krippendorff's α (ordinal) of the project's rankings (units: "
        "each task's completions, values: their ranks) and of each aspect, and each labeler's reliability "
        "(agreement with the leave-one-out consensus and with gold) with their weight in the weighted consensus.",
    )
    def get(self, request):
        since, until = _moment(request, "since"), _moment(request, "until")
        return Response(agreement.project_agreement(self.project, since=since, until=until))


# New route: project-scoped only (no deprecated flat twin).
api_urlpatterns = [
    path(
        SCOPED_PREFIX + "annotation/agreement",
        AgreementApi.as_view(),
        name=SCOPED_NAME.format("annotation-agreement"),
    )
]
