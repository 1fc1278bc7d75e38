"""A project's ranking settings over the API (project admins): read them all, change some (PATCH). The same rules as
the console's settings page and `manage.py ranking_settings` (annotation.services.update_ranking_config): the
model's bounds, and annotation/aspects.py's for the aspects asked with each ranking; a bad value is a 400 naming the
field."""

from __future__ import annotations

from django.core.exceptions import ValidationError as ModelValidationError
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from annotation.aspects import AspectError, clean_aspect_definitions
from annotation.models import RankingConfig
from annotation.services import get_ranking_config, update_ranking_config
from core.api import ErrorSerializer
from projects.endpoints import SCOPED_NAME, SCOPED_PREFIX, ProjectEndpoint, Scope
from projects.models import Role

ADMINS_ONLY = Scope(see=(Role.ADMIN,))


class RankingSettingsSerializer(serializers.ModelSerializer):
    aspects = serializers.JSONField(
        required=False,
        help_text="Likert questions rated per answer with each ranking: [{key, label, label_zh, min, max}] (keys "
        "[a-z_]{1,32}, labels 1–100 characters in both languages, 0 ≤ min < max ≤ 10, at most 10); [] asks none.",
    )

    class Meta:
        model = RankingConfig
        exclude = ("id", "project")

    def validate_aspects(self, value):
        try:
            return clean_aspect_definitions(value)
        except AspectError as exc:
            raise serializers.ValidationError(exc.message) from None


class RankingSettingsApi(ProjectEndpoint):
    scopes = {"GET": ADMINS_ONLY, "PATCH": ADMINS_ONLY}

    @extend_schema(
        responses={200: RankingSettingsSerializer, 404: ErrorSerializer},
        description="The project's ranking settings (project admins).",
    )
    def get(self, request):
        return Response(RankingSettingsSerializer(get_ranking_config(project=self.project)).data)

    @extend_schema(
        request=RankingSettingsSerializer,
        responses={200: RankingSettingsSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
        description="Change some of the project's ranking settings (those given); the answer holds them all. A bad "
        "value is refused with a 400 naming the field, and nothing is changed.",
    )
    def patch(self, request):
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["give an object of settings by name"]})
        given = RankingSettingsSerializer(get_ranking_config(project=self.project), data=request.data, partial=True)
        unknown = sorted(set(request.data) - set(given.fields) - {"project"})
        if unknown:  # a misspelt setting would otherwise be dropped without a word
            raise ValidationError({name: ["not a ranking setting"] for name in unknown[:10]})
        given.is_valid(raise_exception=True)
        try:
            config = update_ranking_config(project=self.project, **given.validated_data)
        except ModelValidationError as exc:  # a rule only the model checks
            raise ValidationError(exc.message_dict) from None
        return Response(RankingSettingsSerializer(config).data)


api_urlpatterns = [
    path(
        SCOPED_PREFIX + "annotation/settings",
        RankingSettingsApi.as_view(),
        name=SCOPED_NAME.format("annotation-settings"),
    )
]
