"""Thin DRF views for seeds and generation batches. Only project admins (and site admins) may use them: the project's
other members get 404, as outsiders do."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from core.api import ErrorSerializer
from core.fields import BoundedDictField, SeedField
from core.pagination import PAGE_PARAMETERS, paginated
from core.run_serializers import RunSerializer
from llm.selectors import get_endpoint
from projects.endpoints import ProjectEndpoint, Scope
from projects.models import Role
from selfinstruct.batches import cancel_batch, pause_batch, resume_batch, start_batch
from selfinstruct.models import GenerationBatch
from selfinstruct.seeds import SEED_FORMATS, SeedFileError
from selfinstruct.selectors import batch_progress, batches_for_projects
from selfinstruct.services import DUPLICATE_IDS_SHOWN, BatchError, import_seed_upload

ADMINS_ONLY = Scope(see=(Role.ADMIN,))  # generation spends the project's LLM budget: nobody else sees it


class ProgressSerializer(serializers.Serializer):
    status = serializers.CharField()
    stage = serializers.ChoiceField(choices=["instructions", "instances"])
    stop_reason = serializers.CharField()
    target = serializers.IntegerField()
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    rejected_by_reason = serializers.DictField(child=serializers.IntegerField())
    requests = serializers.IntegerField()
    failed_requests = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    cost = serializers.FloatField()
    elapsed_s = serializers.FloatField()
    accepted_per_min = serializers.FloatField()
    instances = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Self-Instruct's second stage: instructions pending/working/done/failed, and instances written.",
    )
    types = serializers.ListField(
        child=serializers.DictField(),
        help_text="Per task type with a quota: {type, accepted, quota} (empty without quotas).",
    )


class BatchEventSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    event = serializers.ChoiceField(choices=["paused", "resumed", "cancelled"])
    by = serializers.CharField(help_text="The username of who did it; empty from manage.py.")


class BatchOutputSerializer(RunSerializer):
    error = None  # never in a batch's output: `progress.stop_reason` says why it stopped
    project = serializers.CharField(source="project.slug")
    endpoint = serializers.CharField(source="endpoint.name")
    template = serializers.CharField(source="template_snapshot.name")
    template_version = serializers.IntegerField(source="template_snapshot.version")
    language = serializers.CharField()
    target = serializers.IntegerField()
    topic = serializers.CharField()
    params = serializers.DictField()
    type_quotas = serializers.DictField(child=serializers.IntegerField())
    token_budget = serializers.IntegerField(allow_null=True)
    cost_budget = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
    events = BatchEventSerializer(many=True, help_text="Pauses, resumes and a cancel, oldest first.")
    progress = serializers.SerializerMethodField()

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, batch) -> dict:
        return ProgressSerializer(batch_progress(batch=batch)).data


class BatchInputSerializer(serializers.Serializer):
    project = serializers.SlugField(max_length=64, required=False, help_text="The flat route's project; else omit.")
    endpoint = serializers.CharField(max_length=64)
    template = serializers.CharField(default="self-instruct", max_length=100)
    target = serializers.IntegerField(min_value=1, max_value=10_000_000)
    language = serializers.ChoiceField(choices=["en", "zh"], required=False)
    topic = serializers.CharField(required=False, default="", allow_blank=True, max_length=300)
    params = BoundedDictField(required=False, default=dict, help_text="Decoding parameters (see llm.params).")
    type_quotas = BoundedDictField(
        required=False,
        default=dict,
        help_text="{task type: most accepted instructions}; the types are the project's "
        "(GET /api/v1/projects/{slug}/taxonomy; BELLE's categories unless an admin changed them).",
    )
    token_budget = SeedField(required=False, min_value=1, allow_null=True)
    cost_budget = serializers.DecimalField(required=False, max_digits=12, decimal_places=4, allow_null=True)
    seed = SeedField(required=False, default=0)


class BatchEndpoint(ProjectEndpoint):
    """A generation batch's routes (`generation-batches/<batch_id>…`)."""

    scopes = {"GET": ADMINS_ONLY, "POST": ADMINS_ONLY}
    flat_object = (GenerationBatch, "batch_id", "project")

    def batch(self, batch_id: int) -> GenerationBatch:
        return self.object_or_404(batches_for_projects(projects=self.projects), batch_id, what="batch")


class BatchListCreateApi(ProjectEndpoint):
    scopes = {"GET": ADMINS_ONLY, "POST": ADMINS_ONLY}
    flat_lists_all = True

    @extend_schema(parameters=PAGE_PARAMETERS, responses=BatchOutputSerializer(many=True))
    def get(self, request):
        return paginated(request, batches_for_projects(projects=self.projects), BatchOutputSerializer, view=self)

    @extend_schema(request=BatchInputSerializer, responses={201: BatchOutputSerializer, 400: ErrorSerializer})
    def post(self, request):
        data = BatchInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        endpoint = get_endpoint(name=values["endpoint"])
        if endpoint is None:
            return Response({"detail": f"endpoint: no endpoint named {values['endpoint']!r}"}, status=400)
        try:
            batch = start_batch(
                project=self.project,
                endpoint=endpoint,
                template_name=values["template"],
                target=values["target"],
                language=values.get("language"),
                topic=values["topic"],
                params=values["params"],
                token_budget=values.get("token_budget"),
                cost_budget=values.get("cost_budget"),
                created_by=request.user,
                seed=values["seed"],
                type_quotas=values["type_quotas"],
            )
        except BatchError as exc:
            return Response({"detail": str(exc)}, status=400)
        return Response(BatchOutputSerializer(batch).data, status=status.HTTP_201_CREATED)


class BatchDetailApi(BatchEndpoint):
    @extend_schema(responses=BatchOutputSerializer)
    def get(self, request, batch_id: int):
        return Response(BatchOutputSerializer(self.batch(batch_id)).data)


def _action_view(action, name: str):
    class BatchActionApi(BatchEndpoint):
        @extend_schema(
            request=None,
            responses={200: BatchOutputSerializer, 409: ErrorSerializer},
            operation_id=f"generation_batches_{name}",
        )
        def post(self, request, batch_id: int):
            batch = self.batch(batch_id)
            try:
                action(batch=batch, by=request.user)
            except BatchError as exc:
                return Response({"detail": str(exc)}, status=409)
            batch.refresh_from_db()
            return Response(BatchOutputSerializer(batch).data)

    BatchActionApi.__name__ = f"Batch{name.capitalize()}Api"
    return BatchActionApi


BatchPauseApi = _action_view(pause_batch, "pause")
BatchResumeApi = _action_view(resume_batch, "resume")
BatchCancelApi = _action_view(cancel_batch, "cancel")


class SeedImportApi(ProjectEndpoint):
    scopes = {"POST": ADMINS_ONLY}
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request=inline_serializer(
            "SeedUpload",
            {
                "file": serializers.FileField(),
                "format": serializers.ChoiceField(choices=["auto", *SEED_FORMATS], default="auto"),
            },
        ),
        responses={
            201: inline_serializer(
                "SeedImportResult",
                {
                    "created": serializers.IntegerField(),
                    "duplicates": serializers.IntegerField(),
                    "by_language": serializers.DictField(child=serializers.IntegerField()),
                    "duplicate_ids": serializers.ListField(
                        child=serializers.CharField(),
                        help_text="Source ids (first 20) of imported seeds that another seed of the project shares.",
                    ),
                    "duplicate_id_count": serializers.IntegerField(),
                    "warnings": serializers.ListField(child=serializers.CharField()),
                },
            ),
            400: ErrorSerializer,
        },
    )
    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            return Response({"detail": "file: upload a seed file in the 'file' field"}, status=400)
        fmt = request.data.get("format", "auto")
        if fmt not in ("auto", *SEED_FORMATS):
            return Response({"detail": f"format: must be auto or one of {list(SEED_FORMATS)}"}, status=400)
        try:
            result = import_seed_upload(project=self.project, upload=upload, fmt=fmt)
        except SeedFileError as exc:  # every bad row, the first one in "detail"
            return Response({"detail": str(exc), "problems": exc.problems}, status=400)
        return Response(
            {
                "created": result.created,
                "duplicates": result.duplicates,
                "by_language": result.by_language,
                "duplicate_ids": list(result.duplicate_ids[:DUPLICATE_IDS_SHOWN]),
                "duplicate_id_count": len(result.duplicate_ids),
                "warnings": [result.duplicate_ids_warning] if result.duplicate_ids else [],
            },
            status=201,
        )
