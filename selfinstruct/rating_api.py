"""Thin DRF views for rating runs: an LLM judge rating the complexity and quality of a project's accepted
instructions, 1–6. Project admins start and cancel them; admins and consumers see them; their distribution is
`GET /api/v1/difficulty?scorer=judge:<endpoint>&metric=complexity|quality`. (The pool's other quality levers:
selfinstruct/taxonomy_api.py, selfinstruct/diversity_api.py.)"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.api import ErrorSerializer, service_error_response
from core.pagination import PAGE_PARAMETERS, paginated
from core.run_serializers import RunSerializer
from llm.selectors import get_endpoint
from projects.endpoints import DATA, ProjectEndpoint, admins
from selfinstruct.models import RatingRun
from selfinstruct.rating import RatingRunError, cancel_rating_run, start_rating_run
from selfinstruct.selectors import rating_runs_for_projects


class RatingRunSerializer(RunSerializer):
    project = serializers.CharField(source="project.slug")
    endpoint = serializers.CharField(source="endpoint.name")
    scorer = serializers.CharField(help_text='"judge:<endpoint>": what filters and charts name.')
    items_total = serializers.IntegerField()
    items_scored = serializers.IntegerField()
    items_failed = serializers.IntegerField()
    seconds = serializers.FloatField(allow_null=True)


class RatingRunInputSerializer(serializers.Serializer):
    project = serializers.SlugField(max_length=64, required=False, help_text="The flat route's project; else omit.")
    endpoint = serializers.CharField(max_length=64)


class RatingRunListCreateApi(ProjectEndpoint):
    scopes = {"GET": DATA, "POST": admins("start rating runs")}
    flat_lists_all = True

    @extend_schema(parameters=PAGE_PARAMETERS, responses=RatingRunSerializer(many=True))
    def get(self, request):
        return paginated(request, rating_runs_for_projects(projects=self.projects), RatingRunSerializer, view=self)

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
        endpoint = get_endpoint(name=values["endpoint"])
        if endpoint is None:
            return Response({"detail": f"endpoint: no endpoint named {values['endpoint']!r}"}, status=400)
        try:
            run = start_rating_run(project=self.project, endpoint=endpoint, created_by=request.user)
        except RatingRunError as exc:
            return service_error_response(exc)
        return Response(RatingRunSerializer(run).data, status=201)


class RatingRunEndpoint(ProjectEndpoint):
    """One rating run's routes (`rating-runs/<run_id>…`)."""

    scopes = {"GET": DATA, "POST": admins("cancel rating runs")}
    flat_object = (RatingRun, "run_id", "project")

    def run(self, run_id: int) -> RatingRun:
        return self.object_or_404(rating_runs_for_projects(projects=self.projects), run_id, what="rating run")


class RatingRunDetailApi(RatingRunEndpoint):
    @extend_schema(responses={200: RatingRunSerializer, 404: ErrorSerializer})
    def get(self, request, run_id: int):
        return Response(RatingRunSerializer(self.run(run_id)).data)


class RatingRunCancelApi(RatingRunEndpoint):
    @extend_schema(
        request=None,
        responses={200: RatingRunSerializer, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        description="Project admins: cancel a queued run at once, a running one at its next chunk (ratings kept).",
    )
    def post(self, request, run_id: int):
        run = self.run(run_id)
        try:
            cancel_rating_run(run=run)
        except RatingRunError as exc:
            return service_error_response(exc)
        run.refresh_from_db()
        return Response(RatingRunSerializer(run).data)
