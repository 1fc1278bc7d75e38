"""Thin DRF views for serving runs (a trained model served by a gpu worker as the project's endpoint job-<id>):
start, list, read and stop — project-owned resources (projects.endpoints); starting and stopping are for project
admins."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.api import ErrorSerializer, service_error_response
from core.pagination import PAGE_PARAMETERS, paginated
from core.run_serializers import RunSerializer
from projects.endpoints import DATA, ProjectEndpoint, admins
from training import selectors, serving_runs
from training.api import JobEndpoint
from training.models import ServingRun
from training.services import TrainingJobError


class ServingRunSerializer(RunSerializer):
    project = serializers.CharField(source="project.slug")
    job = serializers.IntegerField(source="job_id")
    status = serializers.CharField(help_text="queued, running (serving), cancelled (stopped), failed")
    endpoint = serializers.SerializerMethodField(help_text="the endpoint it serves (job-<id>) once it is up")
    endpoint_active = serializers.SerializerMethodField(help_text="whether runs may use the endpoint now")
    base_url = serializers.CharField(allow_blank=True, help_text="where the platform's workers call it")
    engine = serializers.CharField(allow_blank=True, help_text="builtin or vllm")
    hostname = serializers.CharField(allow_blank=True, help_text="the gpu worker serving it")
    heartbeat_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)

    def get_endpoint(self, run) -> str | None:
        return run.endpoint.name if run.endpoint_id else None

    def get_endpoint_active(self, run) -> bool:
        return bool(run.endpoint_id and run.endpoint.is_active and run.status == "running")


class ServingRunEndpoint(ProjectEndpoint):
    """A view of one serving run (`run_id` in the URL)."""

    scopes = {"GET": DATA}
    flat_object = (ServingRun, "run_id", "project")

    def run(self, run_id: int) -> ServingRun:
        return self.object_or_404(selectors.serving_runs(), run_id, what="serving run")


class JobServeApi(JobEndpoint):
    scopes = {"POST": admins("serve a model (it holds a GPU)")}

    @extend_schema(
        request=None,
        responses={201: ServingRunSerializer, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        description="Project admins: serve a succeeded SFT/DPO/KTO/RL job's model on a gpu worker (a serving run: "
        "it holds the worker's slot while it serves). Once up it is the project's endpoint job-<id>; stop it with "
        "`POST /api/v1/projects/{slug}/serving-runs/{id}/cancel`. 409 while the job is served already or its model "
        "is not ready.",
    )
    def post(self, request, job_id: int):
        try:
            run = serving_runs.start_serving(job=self.job(job_id), created_by=request.user)
        except TrainingJobError as exc:
            return service_error_response(exc)
        return Response(ServingRunSerializer(selectors.serving_runs().get(pk=run.pk)).data, 201)


class ServingRunListApi(ProjectEndpoint):
    scopes = {"GET": DATA}
    flat_lists_all = True

    @extend_schema(
        parameters=[
            OpenApiParameter("project", str, required=False),
            OpenApiParameter("status", str, required=False),
            *PAGE_PARAMETERS,
        ],
        responses=ServingRunSerializer(many=True),
        description="Serving runs of the caller's projects, newest first.",
    )
    def get(self, request):
        runs = self.in_project(selectors.serving_runs())
        if request.query_params.get("status"):
            runs = runs.filter(status=request.query_params["status"])
        return paginated(request, runs, ServingRunSerializer, view=self)


class ServingRunDetailApi(ServingRunEndpoint):
    @extend_schema(responses={200: ServingRunSerializer, 404: ErrorSerializer})
    def get(self, request, run_id: int):
        return Response(ServingRunSerializer(self.run(run_id)).data)


class ServingRunCancelApi(ServingRunEndpoint):
    scopes = {"POST": admins("stop serving a model")}

    @extend_schema(
        request=None,
        responses={200: ServingRunSerializer, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        description="Project admins: stop serving (status cancelled); the endpoint is switched off at once and the "
        "worker ends the server. 409 when the run has ended already.",
    )
    def post(self, request, run_id: int):
        try:
            run = serving_runs.stop_serving(run=self.run(run_id))
        except TrainingJobError as exc:
            return service_error_response(exc)
        return Response(ServingRunSerializer(self.run(run.pk)).data)
