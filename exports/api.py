"""Thin DRF views for dataset versions: list/create, detail (stats, lineage), and the streamed download
(constant memory, ETag = the sha256 of the bytes served, resumable with Range) — project-owned resources
(projects.endpoints): a project's admins and consumers read and build them."""

from __future__ import annotations

import re

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core import storage
from core.api import ErrorSerializer, service_error_response
from core.fields import BoundedDictField, SeedField
from core.pagination import PAGE_PARAMETERS, paginated
from core.run_serializers import RunSerializer
from exports import selectors, services
from exports.formats import FILE_TYPES, SHAPES, SPLITS
from exports.models import DatasetKind, DatasetVersion
from exports.services import DatasetError
from projects.endpoints import DATA, ProjectEndpoint


class VersionSerializer(RunSerializer):
    project = serializers.CharField(source="project.slug")
    kind = serializers.CharField()
    number = serializers.IntegerField()
    name = serializers.CharField(allow_blank=True)
    filters = serializers.JSONField()
    test_fraction = serializers.FloatField()
    split_seed = serializers.IntegerField()
    rows_written = serializers.IntegerField()
    row_count = serializers.IntegerField()
    train_rows = serializers.IntegerField()
    test_rows = serializers.IntegerField()
    content_hash = serializers.CharField(allow_blank=True)
    stats = serializers.JSONField()
    lineage = serializers.JSONField()


class VersionInputSerializer(serializers.Serializer):
    project = serializers.SlugField(max_length=64, required=False, help_text="Only on the flat route /api/v1/datasets.")
    kind = serializers.ChoiceField(choices=DatasetKind.values)
    filters = BoundedDictField(required=False, default=dict)
    test_fraction = serializers.FloatField(required=False, default=0.1, min_value=0.0, max_value=0.99)
    split_seed = SeedField(required=False, default=0)
    name = serializers.CharField(required=False, default="", allow_blank=True, max_length=200)


class DatasetListCreateApi(ProjectEndpoint):
    scopes = {"GET": DATA, "POST": DATA}
    flat_lists_all = True

    @extend_schema(
        parameters=[OpenApiParameter("project", str, required=False), *PAGE_PARAMETERS],
        responses=VersionSerializer(many=True),
    )
    def get(self, request):
        return paginated(request, self.in_project(selectors.versions()), VersionSerializer, view=self)

    @extend_schema(
        request=VersionInputSerializer,
        responses={201: VersionSerializer, 400: ErrorSerializer},
        description="Create a version (built by a worker; poll the detail until status is ready). Filters — sft: "
        "batches, date_from, date_to, accepted_only, languages, include_seeds; preference: date_from, date_to, "
        "labelers, min_agreement, consensus, languages, categories, margin, disagreement_below (the disagreements "
        "format's agreement threshold; default the project's review threshold).",
    )
    def post(self, request):
        data = VersionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            version = services.create_dataset_version(
                project=self.project,
                kind=values["kind"],
                filters=values["filters"],
                test_fraction=values["test_fraction"],
                split_seed=values["split_seed"],
                name=values["name"],
                created_by=request.user,
            )
        except DatasetError as exc:
            return service_error_response(exc)
        return Response(VersionSerializer(version).data, status=201)


class VersionEndpoint(ProjectEndpoint):
    """A view of one dataset version (`version_id` in the URL): the version's project is the one resolved."""

    scopes = {"GET": DATA}
    flat_object = (DatasetVersion, "version_id", "project")

    def version(self, version_id: int) -> DatasetVersion:
        return self.object_or_404(selectors.versions(), version_id, what="dataset version")


class DatasetDetailApi(VersionEndpoint):
    @extend_schema(responses={200: VersionSerializer, 404: ErrorSerializer})
    def get(self, request, version_id: int):
        return Response(VersionSerializer(self.version(version_id)).data)


# At most 19 digits a position (any file size fits): an unbounded run made int() raise past 4,300 digits (a 500).
# A range that does not match is refused with 416, as RFC 9110 allows for an invalid ranges-specifier.
RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")


class DatasetDownloadApi(VersionEndpoint):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format",
                str,
                required=True,
                enum=sorted({s for v in SHAPES.values() for s in v}),
                description="sft: alpaca, messages, trl-sft, raw; "
                "preference: trl-preference, trl-kto, trl-prompts, aspects, disagreements, raw",
            ),
            OpenApiParameter("split", str, required=False, enum=list(SPLITS), description="default all"),
            OpenApiParameter("type", str, required=False, enum=list(FILE_TYPES), description="default jsonl"),
            OpenApiParameter("gzip", bool, required=False, description="gzip the JSONL"),
        ],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="the file"),
            (206, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="a byte range"),
            302: OpenApiResponse(description="with STORAGE_REDIRECT_DOWNLOADS: a short-lived presigned URL"),
            304: OpenApiResponse(description="If-None-Match matched the ETag"),
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            410: ErrorSerializer,
            416: OpenApiResponse(description="Range not satisfiable"),
            503: ErrorSerializer,
        },
        description="Stream a version in one format. ETag is the sha256 of the bytes; send Range: bytes=N- (with "
        "If-Range: <etag>) to resume an interrupted download.",
    )
    def get(self, request, version_id: int):
        version = self.version(version_id)
        params = request.query_params
        shape = params.get("format")
        if not shape:
            return Response({"detail": f"format: required; one of {list(SHAPES[version.kind])}"}, status=400)
        compress = params.get("gzip", "").lower() in ("1", "true", "yes")
        try:
            key, digest = services.materialize_key(
                version=version,
                shape=shape,
                split=params.get("split", "all"),
                file_type=params.get("type", "jsonl"),
                compress=compress,
            )
        except DatasetError as exc:
            return service_error_response(exc)
        except storage.UNAVAILABLE:
            return Response({"detail": "storage: the file store is unreachable; try again shortly"}, status=503)
        etag = f'"{digest}"'
        if request.headers.get("If-None-Match") == etag:
            return HttpResponse(status=304, headers={"ETag": etag})
        suffix = key.rsplit("/", 1)[-1]
        filename = f"{version.project.slug}-{version.kind}-v{version.number}-{suffix}"
        if settings.STORAGE_REDIRECT_DOWNLOADS:
            url = storage.download_url(key, filename=filename)
            if url:  # a short-lived presigned URL: the client fetches (and resumes, with Range) from the store
                return HttpResponseRedirect(url, headers={"ETag": etag})
        try:
            size = storage.size(key)
        except storage.UNAVAILABLE:
            return Response({"detail": "storage: the file store is unreachable; try again shortly"}, status=503)
        start, length, status = 0, size, 200
        range_header = request.headers.get("Range")
        if_range = request.headers.get("If-Range")
        if range_header and (not if_range or if_range == etag):
            match = RANGE.match(range_header.strip())
            if not match or (not match.group(1) and not match.group(2)):
                return HttpResponse(status=416, headers={"Content-Range": f"bytes */{size}"})
            first, last = match.groups()
            if first:
                start = int(first)
                end = min(int(last), size - 1) if last else size - 1
            else:
                start, end = max(size - int(last), 0), size - 1
            if start >= size or end < start:
                return HttpResponse(status=416, headers={"Content-Range": f"bytes */{size}"})
            length, status = end - start + 1, 206
        response = StreamingHttpResponse(
            storage.iter_range(key, start, length),
            status=status,
            content_type="application/gzip"
            if compress
            else ("application/vnd.apache.parquet" if suffix.endswith(".parquet") else "application/x-ndjson"),
        )
        response["Content-Length"] = str(length)
        response["ETag"] = etag
        response["Accept-Ranges"] = "bytes"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        if status == 206:
            response["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
        return response
