"""Thin DRF views for the pool's quality levers: rating runs (an LLM judge rating the complexity and quality of a
project's accepted instructions, 1–6: project admins start and cancel them; admins and consumers see them; their
distribution is `GET /api/v1/difficulty?scorer=judge:<endpoint>&metric=complexity|quality`), and the pool's
diversity report and the project's task-type taxonomy (read by its members with data access, changed by its
admins)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ErrorSerializer, service_error_response
from core.pagination import PAGE_PARAMETERS, paginated
from llm.selectors import get_endpoint
from projects.access import require_project_admin
from projects.models import DATA_ROLES
from projects.selectors import get_project_for_user, projects_for_user
from selfinstruct.diversity import diversity_report
from selfinstruct.rating import RatingRunError, cancel_rating_run, start_rating_run
from selfinstruct.selectors import rating_runs_for_projects
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


class RatingRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField(source="project.slug")
    endpoint = serializers.CharField(source="endpoint.name")
    scorer = serializers.CharField(help_text='"judge:<endpoint>": what filters and charts name.')
    status = serializers.CharField()
    items_total = serializers.IntegerField()
    items_scored = serializers.IntegerField()
    items_failed = serializers.IntegerField()
    seconds = serializers.FloatField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class RatingRunInputSerializer(serializers.Serializer):
    project = serializers.SlugField(max_length=64)
    endpoint = serializers.CharField(max_length=64)


def _runs(user):
    return rating_runs_for_projects(projects=projects_for_user(user=user, roles=DATA_ROLES))


class RatingRunListCreateApi(APIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses=RatingRunSerializer(many=True))
    def get(self, request):
        return paginated(request, _runs(request.user), RatingRunSerializer, view=self)

    @extend_schema(
        request=RatingRunInputSerializer,
        responses={201: RatingRunSerializer, 400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        description="Project admins: an LLM judge endpoint rates the complexity of every accepted instruction it has "
        "not rated yet, and the quality of its response, from 1 to 6 (default queue; LLM calls only).",
    )
    def post(self, request):
        data = RatingRunInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        project = get_project_for_user(user=request.user, slug=values["project"], roles=DATA_ROLES)
        require_project_admin(request.user, project, "start rating runs")
        endpoint = get_endpoint(name=values["endpoint"])
        if endpoint is None:
            return Response({"detail": f"endpoint: no endpoint named {values['endpoint']!r}"}, status=400)
        try:
            run = start_rating_run(project=project, endpoint=endpoint, created_by=request.user)
        except RatingRunError as exc:
            return service_error_response(exc)
        return Response(RatingRunSerializer(run).data, status=201)


def _run(user, run_id: int):
    run = _runs(user).filter(pk=run_id).first()
    if run is None:
        raise Http404("No such rating run.")
    return run


class RatingRunDetailApi(APIView):
    @extend_schema(responses={200: RatingRunSerializer, 404: ErrorSerializer})
    def get(self, request, run_id: int):
        return Response(RatingRunSerializer(_run(request.user, run_id)).data)


class RatingRunCancelApi(APIView):
    @extend_schema(
        request=None,
        responses={200: RatingRunSerializer, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        description="Project admins: cancel a queued run at once, a running one at its next chunk (ratings kept).",
    )
    def post(self, request, run_id: int):
        run = _run(request.user, run_id)
        require_project_admin(request.user, run.project, "cancel rating runs")
        try:
            cancel_rating_run(run=run)
        except RatingRunError as exc:
            return service_error_response(exc)
        run.refresh_from_db()
        return Response(RatingRunSerializer(run).data)


class DiversityApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("project", str, required=True),
            OpenApiParameter("batch", int, description="One generation batch of the project; default: the pool."),
        ],
        responses={200: dict, 400: ErrorSerializer, 404: ErrorSerializer},
        description="How diverse the accepted instructions are: language mix, length spread, distinct-1/2, the "
        "nearest-neighbour ROUGE-L spread, the most frequent opening words; once tagged by a rating run, the task-type "
        "mix (`task_types`, `task_type_entropy`) and the commonest root verbs with their objects (`verb_objects`).",
    )
    def get(self, request):
        project = get_project_for_user(
            user=request.user, slug=request.query_params.get("project", "")[:64], roles=DATA_ROLES
        )
        batch = request.query_params.get("batch", "")
        if batch and not (batch.isdigit() and len(batch) < 12):
            return Response({"detail": "batch: a batch id"}, status=400)
        return Response(diversity_report(project=project, batch_id=int(batch) if batch else None))


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


class TaxonomyApi(APIView):
    def _project(self, request, slug: str):
        return get_project_for_user(user=request.user, slug=slug, roles=DATA_ROLES)

    @extend_schema(
        responses={200: TaxonomySerializer, 404: ErrorSerializer},
        description="The project's task types: what the tagger chooses from, what quotas and stratified dataset "
        "versions name.",
    )
    def get(self, request, slug: str):
        return _taxonomy_response(taxonomy_for(self._project(request, slug)))

    @extend_schema(
        request=inline_serializer(
            "TaxonomyInput",
            {"types": serializers.ListField(child=TaskTypeSerializer(), min_length=MIN_TYPES, max_length=MAX_TYPES)},
        ),
        responses={200: TaxonomySerializer, 400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer},
        description="Project admins: replace the task types (2 to 40, unique keys; name_zh optional). Instructions "
        "tagged before keep their type; the next rating run tags again those whose type is no longer in the list.",
    )
    def put(self, request, slug: str):
        project = self._project(request, slug)
        require_project_admin(request.user, project, "change the task types")
        try:
            taxonomy = set_taxonomy(project=project, types=request.data.get("types"))
        except TaxonomyError as exc:
            return service_error_response(exc)
        return _taxonomy_response(taxonomy)

    @extend_schema(
        request=None,
        responses={200: TaxonomySerializer, 403: ErrorSerializer, 404: ErrorSerializer},
        description="Project admins: back to BELLE's categories.",
    )
    def delete(self, request, slug: str):
        project = self._project(request, slug)
        require_project_admin(request.user, project, "change the task types")
        return _taxonomy_response(reset_taxonomy(project=project))
