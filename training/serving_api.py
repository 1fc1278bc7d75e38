"""Thin DRF views for serving runs (a trained model served by a gpu worker as the project's endpoint job-<id>):
start, list, read and stop — scoped to the caller's projects; starting and stopping are for project admins."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ErrorSerializer, service_error_response
from core.pagination import PAGE_PARAMETERS, paginated
from projects.access import require_project_admin
from training import selectors, serving_runs
from training.services import TrainingJobError


class ServingRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField(source="project.slug")
    job = serializers.IntegerField(source="job_id")
    status = serializers.CharField(help_text="queued, running (serving), cancelled (stopped), failed")
    endpoint = serializers.SerializerMethodField(help_text="the endpoint it serves (job-<id>) once it is up")
    endpoint_active = serializers.SerializerMethodField(help_text="whether runs may use the endpoint now")
    base_url = serializers.CharField(allow_blank=True, help_text="where the platform's workers call it")
    engine = serializers.CharField(allow_blank=True, help_text="builtin or vllm")
    hostname = serializers.CharField(allow_blank=True, help_text="the gpu worker serving it")
    error = serializers.CharField(allow_blank=True)
    heartbeat_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_endpoint(self, run) -> str | None:
        return run.endpoint.name if run.endpoint_id else None

    def get_endpoint_active(self, run) -> bool:
        return bool(run.endpoint_id and run.endpoint.is_active and run.status == "running")


def _run(request, run_id: int):
    run = serving_runs.serving_runs_for_user(user=request.user).filter(pk=run_id).first()
    if run is None:
        raise Http404("No such serving run.")
    return run


class JobServeApi(APIView):
    @extend_schema(
        request=None,
        responses={201: ServingRunSerializer, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        description="Project admins: serve a succeeded SFT/DPO/KTO/RL job's model on a gpu worker (a serving run: "
        "it holds the worker's slot while it serves). Once up it is the project's endpoint job-<id>; stop it with "
        "`POST /api/v1/serving-runs/{id}/cancel`. 409 while the job is served already or its model is not ready.",
    )
    def post(self, request, job_id: int):
        job = selectors.get_job_for_user(user=request.user, job_id=job_id)
        require_project_admin(request.user, job.project, "serve a model (it holds a GPU)")
        try:
            run = serving_runs.start_serving(job=job, created_by=request.user)
        except TrainingJobError as exc:
            return service_error_response(exc)
        return Response(
            ServingRunSerializer(serving_runs.serving_runs_for_user(user=request.user).get(pk=run.pk)).data, 201
        )


class ServingRunListApi(APIView):
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
        runs = serving_runs.serving_runs_for_user(user=request.user)
        if request.query_params.get("project"):
            runs = runs.filter(project__slug=request.query_params["project"])
        if request.query_params.get("status"):
            runs = runs.filter(status=request.query_params["status"])
        return paginated(request, runs, ServingRunSerializer, view=self)


class ServingRunDetailApi(APIView):
    @extend_schema(responses={200: ServingRunSerializer, 404: ErrorSerializer})
    def get(self, request, run_id: int):
        return Response(ServingRunSerializer(_run(request, run_id)).data)


class ServingRunCancelApi(APIView):
    @extend_schema(
        request=None,
        responses={200: ServingRunSerializer, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        description="Project admins: stop serving (status cancelled); the endpoint is switched off at once and the "
        "worker ends the server. 409 when the run has ended already.",
    )
    def post(self, request, run_id: int):
        run = _run(request, run_id)
        require_project_admin(request.user, run.project, "stop serving a model")
        try:
            run = serving_runs.stop_serving(run=run)
        except TrainingJobError as exc:
            return service_error_response(exc)
        return Response(ServingRunSerializer(_run(request, run.pk)).data)
