"""Thin DRF views for a project's task-type taxonomy: read by its members with data access, changed by its admins."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from core.api import ErrorSerializer, service_error_response
from projects.endpoints import DATA, ProjectEndpoint, admins
from selfinstruct.taxonomy import (
    MAX_DEFINITION,
    MAX_NAME,
    MAX_TYPES,
    MIN_TYPES,
    TaxonomyError,
    reset_taxonomy,
    set_taxonomy,
    taxonomy_for,
)


class TaskTypeSerializer(serializers.Serializer):
    key = serializers.CharField(
        max_length=32, help_text="What is stored on a tagged instruction: a-z, 0-9 and _, at most 32."
    )
    name = serializers.CharField(max_length=MAX_NAME)
    name_zh = serializers.CharField(max_length=MAX_NAME, allow_blank=True, required=False)
    definition = serializers.CharField(max_length=MAX_DEFINITION, help_text="The line the tagger is given.")


class TaxonomySerializer(serializers.Serializer):
    custom = serializers.BooleanField(help_text="false: BELLE's categories, the default.")
    types = TaskTypeSerializer(many=True)


def _taxonomy_response(taxonomy) -> Response:
    return Response(TaxonomySerializer({"custom": taxonomy.custom, "types": taxonomy.as_list()}).data)


class TaxonomyApi(ProjectEndpoint):
    scopes = {"GET": DATA, "PUT": admins("change the task types"), "DELETE": admins("change the task types")}

    @extend_schema(
        responses={200: TaxonomySerializer, 404: ErrorSerializer},
        description="The project's task types: what the tagger chooses from, what quotas and stratified dataset "
        "versions name.",
    )
    def get(self, request):
        return _taxonomy_response(taxonomy_for(self.project))

    @extend_schema(
        request=inline_serializer(
            "TaxonomyInput",
            {"types": serializers.ListField(child=TaskTypeSerializer(), min_length=MIN_TYPES, max_length=MAX_TYPES)},
        ),
        responses={200: TaxonomySerializer, 400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer},
        description="Project admins: replace the task types (2 to 40, unique keys; name_zh optional). Instructions "
        "tagged before keep their type; the next rating run tags again those whose type is no longer in the list.",
    )
    def put(self, request):
        try:
            taxonomy = set_taxonomy(project=self.project, types=request.data.get("types"))
        except TaxonomyError as exc:
            return service_error_response(exc)
        return _taxonomy_response(taxonomy)

    @extend_schema(
        request=None,
        responses={200: TaxonomySerializer, 403: ErrorSerializer, 404: ErrorSerializer},
        description="Project admins: back to BELLE's categories.",
    )
    def delete(self, request):
        return _taxonomy_response(reset_taxonomy(project=self.project))
