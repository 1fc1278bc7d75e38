"""Thin DRF views for training jobs: list/create, detail (progress, results, lineage, artifacts), metrics series,
cancel, and artifact downloads — all scoped to the caller's projects."""

from __future__ import annotations

import mimetypes

from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core import storage
from core.api import ErrorSerializer, service_error_response
from core.fields import BoundedDictField, IdField, SeedField
from core.pagination import PAGE_PARAMETERS, paginated
from exports.selectors import get_version_for_user
from llm.selectors import get_endpoint
from projects.access import require_project_admin
from projects.models import DATA_ROLES
from projects.selectors import get_project_for_user
from training import evaluations, reward_scoring, selectors, services
from training.models import JobKind, JobMethod
from training.services import TrainingJobError


class JobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField(source="project.slug")
    dataset_version = serializers.IntegerField(source="dataset_version_id")
    kind = serializers.CharField()
    method = serializers.CharField()
    base_model = serializers.SerializerMethodField(help_text="The base model's name (never a server path).")
    base_job = serializers.IntegerField(source="base_job_id", allow_null=True)
    reward_job = serializers.IntegerField(source="reward_job_id", allow_null=True)
    hyperparameters = serializers.JSONField()
    seed = serializers.IntegerField()
    status = serializers.CharField()
    cancel_requested = serializers.BooleanField()
    step = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    eta_seconds = serializers.FloatField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    results = serializers.JSONField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_base_model(self, job) -> str:
        return selectors.base_model_label(job.base_model)


class ArtifactSerializer(serializers.Serializer):
    name = serializers.CharField()
    bytes = serializers.IntegerField()


class JobDetailSerializer(JobSerializer):
    lineage = serializers.SerializerMethodField()
    artifacts = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_lineage(self, job) -> dict:
        return selectors.lineage(job=job)

    @extend_schema_field(ArtifactSerializer(many=True))
    def get_artifacts(self, job) -> list:
        return selectors.artifacts(job=job)


class JobInputSerializer(serializers.Serializer):
    dataset = IdField(help_text="dataset version id (sft for sft jobs; preference for reward, dpo, kto and rloo)")
    kind = serializers.ChoiceField(choices=JobKind.values)
    base_model = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=500,
        help_text="name of a checkpoint folder under the model folders the site allows (e.g. demo-tiny-llama)",
    )
    base_job = IdField(
        required=False, allow_null=True, default=None, help_text="start from the model of this succeeded job"
    )
    reward_job = IdField(
        required=False, allow_null=True, default=None, help_text="rloo jobs: the project's succeeded reward job"
    )
    method = serializers.ChoiceField(choices=JobMethod.values, default=JobMethod.FULL)
    hyperparameters = BoundedDictField(required=False, default=dict)
    seed = SeedField(required=False, default=0)


class MetricsSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    epoch = serializers.FloatField(allow_null=True)
    values = serializers.DictField(child=serializers.FloatField())


class CancelSerializer(serializers.Serializer):
    status = serializers.CharField()


class JobListCreateApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("project", str, required=False),
            OpenApiParameter("status", str, required=False),
            *PAGE_PARAMETERS,
        ],
        responses=JobSerializer(many=True),
    )
    def get(self, request):
        jobs = selectors.jobs_for_user(user=request.user)
        if request.query_params.get("project"):
            jobs = jobs.filter(project__slug=request.query_params["project"])
        if request.query_params.get("status"):
            jobs = jobs.filter(status=request.query_params["status"])
        return paginated(request, jobs, JobSerializer, view=self)

    @extend_schema(
        request=JobInputSerializer,
        responses={201: JobDetailSerializer, 400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer},
        description="Project admins: queue a training job on the gpu queue; poll the detail (status, "
        "step/total_steps, eta) or the metrics. Hyperparameters left out take the defaults for the kind and method "
        "(see the README). Training spends the project's GPU: consumers read jobs, metrics and models (403 here).",
    )
    def post(self, request):
        data = JobInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        version = get_version_for_user(user=request.user, version_id=values["dataset"])
        require_project_admin(request.user, version.project, "start training")
        base_job = None
        if values["base_job"] is not None:
            base_job = selectors.get_job_for_user(user=request.user, job_id=values["base_job"])
        reward_job = None
        if values["reward_job"] is not None:
            reward_job = selectors.get_job_for_user(user=request.user, job_id=values["reward_job"])
        try:
            job = services.create_training_job(
                project=version.project,
                dataset_version=version,
                kind=values["kind"],
                base_model=values["base_model"],
                base_job=base_job,
                reward_job=reward_job,
                method=values["method"],
                hyperparameters=values["hyperparameters"],
                seed=values["seed"],
                created_by=request.user,
            )
        except TrainingJobError as exc:
            return service_error_response(exc)
        return Response(JobDetailSerializer(job).data, status=201)


class JobDetailApi(APIView):
    @extend_schema(responses={200: JobDetailSerializer, 404: ErrorSerializer})
    def get(self, request, job_id: int):
        return Response(JobDetailSerializer(selectors.get_job_for_user(user=request.user, job_id=job_id)).data)


class JobMetricsApi(APIView):
    @extend_schema(
        responses={200: MetricsSerializer(many=True), 404: ErrorSerializer},
        description="The metrics time series: one entry per logged step (train: loss, learning_rate, grad_norm; "
        "eval: eval_loss; reward models: accuracy, margin, mean_reward …).",
    )
    def get(self, request, job_id: int):
        job = selectors.get_job_for_user(user=request.user, job_id=job_id)
        return Response(MetricsSerializer(job.metrics.all(), many=True).data)


class JobCancelApi(APIView):
    @extend_schema(
        request=None,
        responses={200: CancelSerializer, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        description="A queued job is cancelled at once (status cancelled); a running one stops at its next step "
        "and keeps what it saved (status cancelling until the trainer exits). Project admins only (consumers: 403).",
    )
    def post(self, request, job_id: int):
        job = selectors.get_job_for_user(user=request.user, job_id=job_id)
        require_project_admin(request.user, job.project, "cancel training")
        try:
            return Response({"status": services.cancel_training_job(job=job)})
        except TrainingJobError as exc:
            return service_error_response(exc)


class ScoringRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    job = serializers.IntegerField(source="job_id")
    status = serializers.CharField()
    completions_total = serializers.IntegerField()
    completions_scored = serializers.IntegerField()
    tasks_updated = serializers.IntegerField()
    seconds = serializers.FloatField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class JobScoringApi(APIView):
    @extend_schema(
        parameters=PAGE_PARAMETERS,
        responses={200: ScoringRunSerializer(many=True), 404: ErrorSerializer},
        description="The scoring runs of a reward-model job, newest first.",
    )
    def get(self, request, job_id: int):
        job = selectors.get_job_for_user(user=request.user, job_id=job_id)
        return paginated(request, job.scoring_runs.all(), ScoringRunSerializer, view=self)

    @extend_schema(
        request=None,
        responses={
            201: ScoringRunSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            410: ErrorSerializer,
        },
        description="Project admins: score every completion of the project's ranking tasks that this reward model "
        "has not scored "
        "yet (gpu queue, batched). Each task then carries the RM's order (the labelers' optional hint) and its "
        "smallest reward margin (the uncertainty-first task order).",
    )
    def post(self, request, job_id: int):
        job = selectors.get_job_for_user(user=request.user, job_id=job_id)
        require_project_admin(request.user, job.project, "score completions (it changes what labelers see)")
        try:
            run = reward_scoring.start_reward_scoring(job=job, created_by=request.user)
        except TrainingJobError as exc:
            return service_error_response(exc)
        return Response(ScoringRunSerializer(run).data, status=201)


class JobArtifactApi(APIView):
    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            404: OpenApiResponse(ErrorSerializer),
            503: OpenApiResponse(ErrorSerializer),
        },
        description="One artifact file by the name listed in the job detail (model/model.safetensors, metrics.json, "
        "loss.png, train.log …).",
    )
    def get(self, request, job_id: int, name: str):
        job = selectors.get_job_for_user(user=request.user, job_id=job_id)
        try:
            size, content, chunks = selectors.artifact_content(job=job, name=name)
        except storage.UNAVAILABLE:
            return Response({"detail": "storage: the file store is unreachable; try again shortly"}, status=503)
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        response = StreamingHttpResponse([content] if content is not None else chunks, content_type=kind)
        response["Content-Length"] = str(size)
        disposition = "inline" if kind.startswith("image/") else "attachment"
        response["Content-Disposition"] = f'{disposition}; filename="job{job.pk}-{name.replace("/", "-")}"'
        return response


# --- evaluations ---------------------------------------------------------------------------------------------------


MAX_PROMPT_CHARS = 20_000


class EvaluationPromptSerializer(serializers.Serializer):
    question = serializers.CharField(max_length=MAX_PROMPT_CHARS)
    reference = serializers.CharField(max_length=MAX_PROMPT_CHARS)
    category = serializers.CharField(required=False, default="", allow_blank=True, max_length=100)


class EvaluationInputSerializer(serializers.Serializer):
    project = serializers.SlugField(max_length=64)
    model_endpoint = serializers.CharField(
        max_length=64, help_text="Endpoint of the model to evaluate (e.g. job-12 from serve_model)."
    )
    judge_endpoint = serializers.CharField(max_length=64)
    job = IdField(required=False, allow_null=True, default=None, help_text="Job the model came from.")
    prompts = serializers.ListField(child=EvaluationPromptSerializer(), min_length=1, max_length=5000)
    max_tokens = serializers.IntegerField(required=False, default=512, min_value=1, max_value=8192)


class EvaluationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField(source="project.slug")
    job = serializers.IntegerField(source="job_id", allow_null=True)
    model_endpoint = serializers.CharField(source="model_endpoint.name")
    judge_endpoint = serializers.CharField(source="judge_endpoint.name")
    opponent_endpoint = serializers.SerializerMethodField(help_text="win-rate runs: the model compared against")
    prompt_set = serializers.CharField()
    status = serializers.CharField()
    items_total = serializers.IntegerField()
    items_done = serializers.IntegerField()
    items_failed = serializers.IntegerField()
    results = serializers.JSONField(
        help_text="{'categories': [{category, judged, model_score, reference_score, "
        "relative_score, wins, ties, losses, position_bias_rate, win_rate, win_rate_ci}], 'overall': {…}}"
    )
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_opponent_endpoint(self, run) -> str | None:
        return run.opponent_endpoint.name if run.opponent_endpoint_id else None


class EvaluationListCreateApi(APIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses=EvaluationSerializer(many=True))
    def get(self, request):
        return paginated(request, selectors.evaluations_for_user(user=request.user), EvaluationSerializer, view=self)

    @extend_schema(
        request=EvaluationInputSerializer,
        responses={201: EvaluationSerializer, 400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer},
        description="The model endpoint answers each prompt; the judge endpoint scores its answer and the reference "
        "1–10 in both orders (averaged). Poll the detail for the per-category table. Project admins only (it "
        "spends the project's LLM budget); consumers read evaluations.",
    )
    def post(self, request):
        data = EvaluationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        project = get_project_for_user(user=request.user, slug=values["project"], roles=DATA_ROLES)
        require_project_admin(request.user, project, "start an evaluation (it spends the project's LLM budget)")
        endpoints = {}
        for field in ("model_endpoint", "judge_endpoint"):
            endpoints[field] = get_endpoint(name=values[field])
            if endpoints[field] is None:
                return Response({"detail": f"{field}: no endpoint named {values[field]!r}"}, 400)
        job = None
        if values["job"] is not None:
            job = selectors.get_job_for_user(user=request.user, job_id=values["job"])
        try:
            run = evaluations.start_evaluation(
                project=project,
                job=job,
                items=values["prompts"],
                prompt_set="api",
                generation={"max_tokens": values["max_tokens"]},
                created_by=request.user,
                **endpoints,
            )
        except TrainingJobError as exc:
            return service_error_response(exc)
        return Response(EvaluationSerializer(run).data, status=201)


class WinRateInputSerializer(serializers.Serializer):
    judge_endpoint = serializers.CharField(max_length=64)
    opponent_endpoint = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="default: the endpoint of the job the model started from (job-<base_job>)",
    )
    limit = serializers.IntegerField(required=False, default=200, min_value=1, max_value=evaluations.MAX_ROUND_PROMPTS)


class JobWinRateApi(APIView):
    @extend_schema(
        request=WinRateInputSerializer,
        responses={
            201: EvaluationSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
        description="A round's win-rate: the job's served model (endpoint job-<id>) against the model it started "
        "from on the held-out prompts of its dataset version, judged in both orders; the evaluation's table gives "
        "win/tie/loss and the win rate with its 95% interval per category, and the job's lineage shows it. Project "
        "admins only (an evaluation spends the project's LLM budget).",
    )
    def post(self, request, job_id: int):
        job = selectors.get_job_for_user(user=request.user, job_id=job_id)
        require_project_admin(
            request.user, job.project, "start a win-rate evaluation (it spends the project's LLM budget)"
        )
        data = WinRateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        found = {}
        for field in ("judge_endpoint", "opponent_endpoint"):
            if values[field]:
                found[field] = get_endpoint(name=values[field])
                if found[field] is None:
                    return Response({"detail": f"{field}: no endpoint named {values[field]!r}"}, 400)
        try:
            run = evaluations.start_round_evaluation(
                job=job,
                judge_endpoint=found["judge_endpoint"],
                opponent_endpoint=found.get("opponent_endpoint"),
                limit=values["limit"],
                created_by=request.user,
            )
        except TrainingJobError as exc:
            return service_error_response(exc)
        return Response(EvaluationSerializer(run).data, status=201)


class EvaluationDetailApi(APIView):
    @extend_schema(responses={200: EvaluationSerializer, 404: ErrorSerializer})
    def get(self, request, run_id: int):
        run = selectors.evaluations_for_user(user=request.user).filter(pk=run_id).first()
        if run is None:
            raise Http404("No such evaluation.")
        return Response(EvaluationSerializer(run).data)
