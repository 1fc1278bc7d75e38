"""Thin DRF views for training jobs: list/create, detail (progress, results, lineage, artifacts), metrics series,
cancel, and artifact downloads — project-owned resources (projects.endpoints): consumers read, admins act."""

from __future__ import annotations

import mimetypes

from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from core import storage
from core.api import ErrorSerializer, service_error_response
from core.fields import BoundedDictField, IdField, SeedField
from core.pagination import PAGE_PARAMETERS, paginated
from core.run_serializers import RunSerializer
from exports.selectors import get_project_version, get_version_by_id
from llm.selectors import get_endpoint
from projects.endpoints import DATA, ProjectEndpoint, admins
from projects.selectors import projects_for_user
from training import evaluations, reward_scoring, selectors, services
from training.models import EvaluationRun, JobKind, JobMethod, TrainingJob
from training.services import TrainingJobError


class JobSerializer(RunSerializer):
    project = serializers.CharField(source="project.slug")
    dataset_version = serializers.IntegerField(source="dataset_version_id")
    kind = serializers.CharField()
    method = serializers.CharField()
    base_model = serializers.SerializerMethodField(help_text="The base model's name (never a server path).")
    base_job = serializers.IntegerField(source="base_job_id", allow_null=True)
    reward_job = serializers.IntegerField(source="reward_job_id", allow_null=True)
    hyperparameters = serializers.JSONField()
    seed = serializers.IntegerField()
    cancel_requested = serializers.BooleanField()
    step = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    eta_seconds = serializers.FloatField(allow_null=True)
    results = serializers.JSONField()
    started_at = serializers.DateTimeField(allow_null=True)

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


def project_job(view: ProjectEndpoint, job_id: int | None, field: str) -> TrainingJob | None:
    """The job a request names in `field` (a base job, a reward model, the evaluated model): one of the view's
    project, else 404 naming the field."""
    if job_id is None:
        return None
    job = view.in_project(selectors.jobs()).filter(pk=job_id).first()
    if job is None:
        raise Http404(f"{field}: no training job {job_id} in this project")
    return job


class JobEndpoint(ProjectEndpoint):
    """A view of one training job (`job_id` in the URL): the job's project is the one resolved."""

    scopes = {"GET": DATA}
    flat_object = (TrainingJob, "job_id", "project")

    def job(self, job_id: int) -> TrainingJob:
        return self.object_or_404(selectors.jobs(), job_id, what="training job")


class JobListCreateApi(ProjectEndpoint):
    scopes = {"GET": DATA, "POST": admins("start training")}
    flat_lists_all = True

    def _flat_project_slug(self, request, kwargs):
        # A flat create names its dataset version, not a project: the project is the version's. The body is
        # checked first, as it always was, so a bad one still answers 400 naming the field.
        named = request.data.get("project") if hasattr(request.data, "get") else None
        if request.method != "POST" or named:
            return super()._flat_project_slug(request, kwargs)
        data = JobInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = get_version_by_id(version_id=data.validated_data["dataset"])
        if version is None or not projects_for_user(user=request.user).filter(pk=version.project_id).exists():
            raise Http404("No such dataset version.")
        return version.project.slug

    @extend_schema(
        parameters=[
            OpenApiParameter("project", str, required=False),
            OpenApiParameter("status", str, required=False),
            *PAGE_PARAMETERS,
        ],
        responses=JobSerializer(many=True),
    )
    def get(self, request):
        jobs = self.in_project(selectors.jobs())
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
        version = get_project_version(project=self.project, version_id=values["dataset"])
        if version is None:
            raise Http404("No such dataset version.")
        try:
            job = services.create_training_job(
                project=self.project,
                dataset_version=version,
                kind=values["kind"],
                base_model=values["base_model"],
                base_job=project_job(self, values["base_job"], "base_job"),
                reward_job=project_job(self, values["reward_job"], "reward_job"),
                method=values["method"],
                hyperparameters=values["hyperparameters"],
                seed=values["seed"],
                created_by=request.user,
            )
        except TrainingJobError as exc:
            return service_error_response(exc)
        return Response(JobDetailSerializer(job).data, status=201)


class JobDetailApi(JobEndpoint):
    @extend_schema(responses={200: JobDetailSerializer, 404: ErrorSerializer})
    def get(self, request, job_id: int):
        return Response(JobDetailSerializer(self.job(job_id)).data)


class JobMetricsApi(JobEndpoint):
    @extend_schema(
        responses={200: MetricsSerializer(many=True), 404: ErrorSerializer},
        description="The metrics time series: one entry per logged step (train: loss, learning_rate, grad_norm; "
        "eval: eval_loss; reward models: accuracy, margin, mean_reward …).",
    )
    def get(self, request, job_id: int):
        return Response(MetricsSerializer(self.job(job_id).metrics.all(), many=True).data)


class JobCancelApi(JobEndpoint):
    scopes = {"POST": admins("cancel training")}

    @extend_schema(
        request=None,
        responses={200: CancelSerializer, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        description="A queued job is cancelled at once (status cancelled); a running one stops at its next step "
        "and keeps what it saved (status cancelling until the trainer exits). Project admins only (consumers: 403).",
    )
    def post(self, request, job_id: int):
        try:
            return Response({"status": services.cancel_training_job(job=self.job(job_id))})
        except TrainingJobError as exc:
            return service_error_response(exc)


class ScoringRunSerializer(RunSerializer):
    job = serializers.IntegerField(source="job_id")
    completions_total = serializers.IntegerField()
    completions_scored = serializers.IntegerField()
    tasks_updated = serializers.IntegerField()
    seconds = serializers.FloatField(allow_null=True)


class JobScoringApi(JobEndpoint):
    scopes = {"GET": DATA, "POST": admins("score completions (it changes what labelers see)")}

    @extend_schema(
        parameters=PAGE_PARAMETERS,
        responses={200: ScoringRunSerializer(many=True), 404: ErrorSerializer},
        description="The scoring runs of a reward-model job, newest first.",
    )
    def get(self, request, job_id: int):
        return paginated(request, self.job(job_id).scoring_runs.all(), ScoringRunSerializer, view=self)

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
        try:
            run = reward_scoring.start_reward_scoring(job=self.job(job_id), created_by=request.user)
        except TrainingJobError as exc:
            return service_error_response(exc)
        return Response(ScoringRunSerializer(run).data, status=201)


class JobArtifactApi(JobEndpoint):
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
        job = self.job(job_id)
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
    project = serializers.SlugField(max_length=64, required=False, help_text="flat route only: the project's slug")
    model_endpoint = serializers.CharField(
        max_length=64, help_text="Endpoint of the model to evaluate (e.g. job-12 from serve_model)."
    )
    judge_endpoint = serializers.CharField(max_length=64)
    job = IdField(required=False, allow_null=True, default=None, help_text="Job the model came from.")
    prompts = serializers.ListField(child=EvaluationPromptSerializer(), min_length=1, max_length=5000)
    max_tokens = serializers.IntegerField(required=False, default=512, min_value=1, max_value=8192)


class EvaluationSerializer(RunSerializer):
    project = serializers.CharField(source="project.slug")
    job = serializers.IntegerField(source="job_id", allow_null=True)
    model_endpoint = serializers.CharField(source="model_endpoint.name")
    judge_endpoint = serializers.CharField(source="judge_endpoint.name")
    opponent_endpoint = serializers.SerializerMethodField(help_text="win-rate runs: the model compared against")
    prompt_set = serializers.CharField()
    items_total = serializers.IntegerField()
    items_done = serializers.IntegerField()
    items_failed = serializers.IntegerField()
    results = serializers.JSONField(
        help_text="{'categories': [{category, judged, model_score, reference_score, "
        "relative_score, wins, ties, losses, position_bias_rate, win_rate, win_rate_ci}], 'overall': {…}}"
    )

    def get_opponent_endpoint(self, run) -> str | None:
        return run.opponent_endpoint.name if run.opponent_endpoint_id else None


class EvaluationListCreateApi(ProjectEndpoint):
    scopes = {"GET": DATA, "POST": admins("start an evaluation (it spends the project's LLM budget)")}
    flat_lists_all = True

    @extend_schema(parameters=PAGE_PARAMETERS, responses=EvaluationSerializer(many=True))
    def get(self, request):
        return paginated(request, self.in_project(selectors.evaluations()), EvaluationSerializer, view=self)

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
        endpoints = {}
        for field in ("model_endpoint", "judge_endpoint"):
            endpoints[field] = get_endpoint(name=values[field])
            if endpoints[field] is None:
                return Response({"detail": f"{field}: no endpoint named {values[field]!r}"}, 400)
        job = project_job(self, values["job"], "job")
        try:
            run = evaluations.start_evaluation(
                project=self.project,
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


class JobWinRateApi(JobEndpoint):
    scopes = {"POST": admins("start a win-rate evaluation (it spends the project's LLM budget)")}

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
        job = self.job(job_id)
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


class EvaluationDetailApi(ProjectEndpoint):
    scopes = {"GET": DATA}
    flat_object = (EvaluationRun, "run_id", "project")

    @extend_schema(responses={200: EvaluationSerializer, 404: ErrorSerializer})
    def get(self, request, run_id: int):
        run = self.object_or_404(selectors.evaluations(), run_id, what="evaluation")
        return Response(EvaluationSerializer(run).data)
