"""Thin DRF views for the project's background runs over ranking tasks: sampling runs (K completions per prompt
from one or more endpoints) and LLM-judge runs."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import judging, sampling, selectors
from annotation.models import MAX_K, MIN_K
from annotation.services import AnnotationError
from core.api import ErrorSerializer, service_error_response
from core.fields import BoundedDictField
from core.pagination import PAGE_PARAMETERS, paginated
from llm.selectors import get_endpoint
from projects.models import Role
from projects.selectors import get_project_for_user, projects_for_user

# --- Sampling runs ----------------------------------------------------------------------------------------------


MAX_LIMIT = 10_000_000


class EndpointPlanSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    params = BoundedDictField(required=False, default=dict, help_text="Sampling parameters for this endpoint.")


class SamplingInputSerializer(serializers.Serializer):
    project = serializers.SlugField(max_length=64)
    endpoints = serializers.ListField(child=EndpointPlanSerializer(), min_length=1, max_length=MAX_K)
    per_prompt = serializers.IntegerField(min_value=MIN_K, max_value=MAX_K, required=False, allow_null=True)
    sources = serializers.ListField(
        child=serializers.ChoiceField(choices=["generated", "seed", "imported"]),
        required=False,
        default=["generated"],
        min_length=1,
        max_length=3,
    )
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, required=False, allow_null=True)


class SamplingOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField(source="project.slug")
    per_prompt = serializers.IntegerField()
    plan = serializers.JSONField()
    sources = serializers.JSONField()
    status = serializers.CharField()
    prompts_total = serializers.IntegerField()
    prompts_done = serializers.IntegerField()
    prompts_failed = serializers.IntegerField()
    prompts_single_answer = serializers.IntegerField(
        help_text="Prompts whose completions were all one text (up to whitespace): no ranking task."
    )
    completions_created = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


def _sampling_runs(user):
    return selectors.sampling_runs_for_projects(projects=projects_for_user(user=user, roles=(Role.ADMIN,)))


class SamplingListCreateApi(APIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses=SamplingOutputSerializer(many=True))
    def get(self, request):
        return paginated(request, _sampling_runs(request.user), SamplingOutputSerializer, view=self)

    @extend_schema(request=SamplingInputSerializer, responses={201: SamplingOutputSerializer, 400: ErrorSerializer})
    def post(self, request):
        data = SamplingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        project = get_project_for_user(user=request.user, slug=values["project"], roles=(Role.ADMIN,))
        plan = []
        for index, entry in enumerate(values["endpoints"]):
            endpoint = get_endpoint(name=entry["name"])
            if endpoint is None:
                return Response({"detail": f"endpoints.{index}.name: no endpoint named {entry['name']!r}"}, 400)
            plan.append((endpoint, entry["params"]))
        try:
            run = sampling.start_sampling_run(
                project=project,
                endpoints=plan,
                per_prompt=values.get("per_prompt"),
                sources=tuple(values["sources"]),
                limit=values.get("limit"),
                created_by=request.user,
            )
        except AnnotationError as exc:
            return service_error_response(exc)
        return Response(SamplingOutputSerializer(run).data, status=201)


class SamplingDetailApi(APIView):
    @extend_schema(responses={200: SamplingOutputSerializer, 404: ErrorSerializer})
    def get(self, request, run_id: int):
        run = _sampling_runs(request.user).filter(pk=run_id).first()
        if run is None:
            raise Http404("No such sampling run.")
        return Response(SamplingOutputSerializer(run).data)


# --- LLM judge runs ---------------------------------------------------------------------------------------------


class JudgeInputSerializer(serializers.Serializer):
    project = serializers.SlugField(max_length=64)
    endpoint = serializers.CharField(max_length=64, help_text="The judge's LLM endpoint name.")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, required=False, allow_null=True)
    only_ranked = serializers.BooleanField(required=False, default=False, help_text="Only tasks humans ranked.")


class JudgeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField(source="project.slug")
    endpoint = serializers.CharField(source="endpoint.name")
    status = serializers.CharField()
    tasks = serializers.SerializerMethodField()
    tasks_done = serializers.IntegerField()
    tasks_failed = serializers.IntegerField()
    pairs_judged = serializers.IntegerField()
    pairs_flipped = serializers.IntegerField(help_text="Pairs whose winner changed when the order was swapped.")
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_tasks(self, run) -> int:
        return len(run.task_ids)


def _judge_runs(user):
    return selectors.judge_runs_for_projects(projects=projects_for_user(user=user, roles=(Role.ADMIN,)))


class JudgeListCreateApi(APIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses=JudgeOutputSerializer(many=True))
    def get(self, request):
        return paginated(request, _judge_runs(request.user), JudgeOutputSerializer, view=self)

    @extend_schema(
        request=JudgeInputSerializer,
        responses={201: JudgeOutputSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
        description="An LLM judge ranks the project's tasks as an extra, non-human labeler: every pair of a task's "
        "completions is scored 1–10 with a reason in both orders, and the two scores averaged. Its rankings never "
        "fill tasks, enter consensus or exports; the stats report judge–human agreement and position bias.",
    )
    def post(self, request):
        data = JudgeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        project = get_project_for_user(user=request.user, slug=values["project"], roles=(Role.ADMIN,))
        endpoint = get_endpoint(name=values["endpoint"])
        if endpoint is None:
            return Response({"detail": f"endpoint: no endpoint named {values['endpoint']!r}"}, 400)
        try:
            run = judging.start_judge_run(
                project=project,
                endpoint=endpoint,
                limit=values.get("limit"),
                only_ranked=values["only_ranked"],
                created_by=request.user,
            )
        except AnnotationError as exc:
            return service_error_response(exc)
        return Response(JudgeOutputSerializer(run).data, status=201)


class JudgeDetailApi(APIView):
    @extend_schema(responses={200: JudgeOutputSerializer, 404: ErrorSerializer})
    def get(self, request, run_id: int):
        run = _judge_runs(request.user).filter(pk=run_id).first()
        if run is None:
            raise Http404("No such judge run.")
        return Response(JudgeOutputSerializer(run).data)
