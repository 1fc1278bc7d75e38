"""Thin DRF views for difficulty runs (perplexity and IFD of a project's accepted instructions by a causal LM) and
the distribution of their scores — project-owned resources (projects.endpoints); starting and cancelling are for
project admins."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.api import ErrorSerializer, service_error_response
from core.pagination import PAGE_PARAMETERS, paginated
from core.run_serializers import RunSerializer
from projects.endpoints import DATA, ProjectEndpoint, admins
from selfinstruct.difficulty import METRICS
from selfinstruct.selectors import difficulty_histogram, difficulty_scorers
from training import difficulty, selectors
from training.api import project_job
from training.models import DifficultyRun
from training.services import TrainingJobError


class DifficultyRunSerializer(RunSerializer):
    project = serializers.CharField(source="project.slug")
    scorer = serializers.CharField(help_text='"job-<id>" or the base model\'s name: what filters and charts name.')
    job = serializers.IntegerField(source="job_id", allow_null=True)
    max_length = serializers.IntegerField()
    items_total = serializers.IntegerField()
    items_scored = serializers.IntegerField()
    seconds = serializers.FloatField(allow_null=True)


class DifficultyRunInputSerializer(serializers.Serializer):
    project = serializers.SlugField(max_length=64, required=False, help_text="flat route only: the project's slug")
    job = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=2**31 - 1)
    base_model = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    max_length = serializers.IntegerField(required=False, default=1024, min_value=32, max_value=8192)


class DifficultyRunEndpoint(ProjectEndpoint):
    """A view of one difficulty run (`run_id` in the URL)."""

    scopes = {"GET": DATA}
    flat_object = (DifficultyRun, "run_id", "project")

    def run(self, run_id: int) -> DifficultyRun:
        return self.object_or_404(selectors.difficulty_runs(), run_id, what="difficulty run")


class DifficultyRunListCreateApi(ProjectEndpoint):
    scopes = {"GET": DATA, "POST": admins("start difficulty runs")}
    flat_lists_all = True

    @extend_schema(parameters=PAGE_PARAMETERS, responses=DifficultyRunSerializer(many=True))
    def get(self, request):
        return paginated(request, self.in_project(selectors.difficulty_runs()), DifficultyRunSerializer, view=self)

    @extend_schema(
        request=DifficultyRunInputSerializer,
        responses={201: DifficultyRunSerializer, 400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        description="Project admins: score the difficulty of the project's accepted instructions that this model has "
        "not scored yet (gpu queue, in chunks): perplexity of the instruction, of its response alone and after the "
        "instruction, and IFD (their ratio). Name one of `job` (the project's SFT/DPO/KTO/RL job) or `base_model` "
        "(a name under the server's model roots).",
    )
    def post(self, request):
        data = DifficultyRunInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            run = difficulty.start_difficulty_run(
                project=self.project,
                job=project_job(self, values["job"], "job"),
                base_model=values["base_model"],
                max_length=values["max_length"],
                created_by=request.user,
            )
        except TrainingJobError as exc:
            return service_error_response(exc)
        return Response(DifficultyRunSerializer(run).data, status=201)


class DifficultyRunDetailApi(DifficultyRunEndpoint):
    @extend_schema(responses={200: DifficultyRunSerializer, 404: ErrorSerializer})
    def get(self, request, run_id: int):
        return Response(DifficultyRunSerializer(self.run(run_id)).data)


class DifficultyRunCancelApi(DifficultyRunEndpoint):
    scopes = {"POST": admins("cancel difficulty runs")}

    @extend_schema(
        request=None,
        responses={200: DifficultyRunSerializer, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        description="Project admins: cancel a queued run at once, a running one at its next chunk (scores kept).",
    )
    def post(self, request, run_id: int):
        run = self.run(run_id)
        try:
            difficulty.cancel_difficulty_run(run=run)
        except TrainingJobError as exc:
            return service_error_response(exc)
        run.refresh_from_db()
        return Response(DifficultyRunSerializer(run).data)


class DistributionSerializer(serializers.Serializer):
    scorers = serializers.ListField(child=serializers.DictField(), help_text="[{scorer, n}], most recent first.")
    scorer = serializers.CharField(allow_blank=True)
    metric = serializers.CharField()
    n = serializers.IntegerField()
    labels = serializers.ListField(child=serializers.CharField(), help_text="Bin centres (log-spaced).")
    counts = serializers.ListField(child=serializers.IntegerField())
    percentiles = serializers.DictField(help_text="The 5th, 10th, 50th, 90th and 95th percentiles.")


class DifficultyDistributionApi(ProjectEndpoint):
    scopes = {"GET": DATA}

    @extend_schema(
        parameters=[
            OpenApiParameter("project", str, required=False, description="Flat route only: the project's slug."),
            OpenApiParameter("scorer", str, description="Default: the scorer that ran last."),
            OpenApiParameter("metric", str, enum=list(METRICS), description="Default: ifd."),
        ],
        responses={200: DistributionSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
        description="How the project's accepted instructions spread by a difficulty metric (a histogram, bins equal "
        "in log10, and percentiles): what a percentile band in a dataset version or the review page will cut.",
    )
    def get(self, request):
        project = self.project
        metric = request.query_params.get("metric", "ifd")
        if metric not in METRICS:
            return Response({"detail": f"metric: one of {list(METRICS)}"}, status=400)
        scorers = difficulty_scorers(project=project)
        scorer = request.query_params.get("scorer", "")[:200] or (scorers[0]["scorer"] if scorers else "")
        chart = difficulty_histogram(project=project, scorer=scorer, metric=metric) if scorer else {}
        empty = {"n": 0, "labels": [], "counts": [], "percentiles": {}}
        return Response({"scorers": scorers, "scorer": scorer, "metric": metric, **(chart or empty)})
