"""Thin DRF views for the project's background runs over ranking tasks: sampling runs (K completions per prompt
from one or more endpoints) and LLM-judge runs."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from annotation import judging, sampling, selectors
from annotation.models import MAX_K, MIN_K, JudgeRun, SamplingRun
from annotation.services import AnnotationError
from core.api import ErrorSerializer, service_error_response
from core.fields import BoundedDictField
from core.pagination import PAGE_PARAMETERS, paginated
from core.run_serializers import RunSerializer
from llm.selectors import get_endpoint
from projects.endpoints import ProjectEndpoint, Scope
from projects.models import Role

# Both kinds spend the project's LLM budget and change what labelers see: only its admins see them (others: 404).
ADMINS_ONLY = Scope(see=(Role.ADMIN,))

# --- Sampling runs ----------------------------------------------------------------------------------------------


MAX_LIMIT = 10_000_000


class EndpointPlanSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    params = BoundedDictField(required=False, default=dict, help_text="Sampling parameters for this endpoint.")


class SamplingInputSerializer(serializers.Serializer):
    project = serializers.SlugField(max_length=64, required=False, help_text="The flat route's project; else omit.")
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


class SamplingOutputSerializer(RunSerializer):
    project = serializers.CharField(source="project.slug")
    per_prompt = serializers.IntegerField()
    plan = serializers.JSONField()
    sources = serializers.JSONField()
    prompts_total = serializers.IntegerField()
    prompts_done = serializers.IntegerField()
    prompts_failed = serializers.IntegerField()
    prompts_single_answer = serializers.IntegerField(
        help_text="Prompts whose completions were all one text (up to whitespace): no ranking task."
    )
    completions_created = serializers.IntegerField()


class SamplingListCreateApi(ProjectEndpoint):
    scopes = {"GET": ADMINS_ONLY, "POST": ADMINS_ONLY}
    flat_lists_all = True

    @extend_schema(parameters=PAGE_PARAMETERS, responses=SamplingOutputSerializer(many=True))
    def get(self, request):
        runs = selectors.sampling_runs_for_projects(projects=self.projects)
        return paginated(request, runs, SamplingOutputSerializer, view=self)

    @extend_schema(request=SamplingInputSerializer, responses={201: SamplingOutputSerializer, 400: ErrorSerializer})
    def post(self, request):
        data = SamplingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        plan = []
        for index, entry in enumerate(values["endpoints"]):
            endpoint = get_endpoint(name=entry["name"])
            if endpoint is None:
                return Response({"detail": f"endpoints.{index}.name: no endpoint named {entry['name']!r}"}, 400)
            plan.append((endpoint, entry["params"]))
        try:
            run = sampling.start_sampling_run(
                project=self.project,
                endpoints=plan,
                per_prompt=values.get("per_prompt"),
                sources=tuple(values["sources"]),
                limit=values.get("limit"),
                created_by=request.user,
            )
        except AnnotationError as exc:
            return service_error_response(exc)
        return Response(SamplingOutputSerializer(run).data, status=201)


class SamplingDetailApi(ProjectEndpoint):
    scopes = {"GET": ADMINS_ONLY}
    flat_object = (SamplingRun, "run_id", "project")

    @extend_schema(responses={200: SamplingOutputSerializer, 404: ErrorSerializer})
    def get(self, request, run_id: int):
        runs = selectors.sampling_runs_for_projects(projects=self.projects)
        return Response(SamplingOutputSerializer(self.object_or_404(runs, run_id, what="sampling run")).data)


# --- LLM judge runs ---------------------------------------------------------------------------------------------


class JudgeInputSerializer(serializers.Serializer):
    project = serializers.SlugField(max_length=64, required=False, help_text="The flat route's project; else omit.")
    endpoint = serializers.CharField(max_length=64, help_text="The judge's LLM endpoint name.")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, required=False, allow_null=True)
    only_ranked = serializers.BooleanField(required=False, default=False, help_text="Only tasks humans ranked.")


class JudgeOutputSerializer(RunSerializer):
    project = serializers.CharField(source="project.slug")
    endpoint = serializers.CharField(source="endpoint.name")
    tasks = serializers.SerializerMethodField()
    tasks_done = serializers.IntegerField()
    tasks_failed = serializers.IntegerField()
    pairs_judged = serializers.IntegerField()
    pairs_flipped = serializers.IntegerField(help_text="Pairs whose winner changed when the order was swapped.")

    def get_tasks(self, run) -> int:
        return len(run.task_ids)


class JudgeListCreateApi(ProjectEndpoint):
    scopes = {"GET": ADMINS_ONLY, "POST": ADMINS_ONLY}
    flat_lists_all = True

    @extend_schema(parameters=PAGE_PARAMETERS, responses=JudgeOutputSerializer(many=True))
    def get(self, request):
        runs = selectors.judge_runs_for_projects(projects=self.projects)
        return paginated(request, runs, JudgeOutputSerializer, view=self)

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
        endpoint = get_endpoint(name=values["endpoint"])
        if endpoint is None:
            return Response({"detail": f"endpoint: no endpoint named {values['endpoint']!r}"}, 400)
        try:
            run = judging.start_judge_run(
                project=self.project,
                endpoint=endpoint,
                limit=values.get("limit"),
                only_ranked=values["only_ranked"],
                created_by=request.user,
            )
        except AnnotationError as exc:
            return service_error_response(exc)
        return Response(JudgeOutputSerializer(run).data, status=201)


class JudgeDetailApi(ProjectEndpoint):
    scopes = {"GET": ADMINS_ONLY}
    flat_object = (JudgeRun, "run_id", "project")

    @extend_schema(responses={200: JudgeOutputSerializer, 404: ErrorSerializer})
    def get(self, request, run_id: int):
        runs = selectors.judge_runs_for_projects(projects=self.projects)
        return Response(JudgeOutputSerializer(self.object_or_404(runs, run_id, what="judge run")).data)
