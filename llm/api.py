"""Thin DRF views for LLM endpoints: list them with their health, add one (a taken name is refused), edit one
explicitly, switch it off or on, delete one nothing uses. Project admins manage their projects' own endpoints and
read the site-wide ones; site admins manage every one.

Two sets of routes: `/api/v1/projects/<slug>/endpoints…` (projects.endpoints: the endpoints that project may use —
the site-wide ones and its own — for its admins) and the site-level `/api/v1/endpoints…` (every endpoint the caller
administers, site-wide ones included). Site-wide endpoints belong to no project, so the site-level routes are no
deprecated twin: they stay, and site admins manage the site-wide endpoints there."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ErrorSerializer, service_error_response
from core.pagination import PAGE_PARAMETERS, paginated
from llm.health import with_health
from llm.models import ApiStyle, LLMEndpoint
from llm.selectors import endpoints_administered_by, endpoints_of_project
from llm.services import EndpointError, add_endpoint, delete_endpoint, save_project_endpoint, update_endpoint
from projects.endpoints import ProjectEndpoint, Scope
from projects.models import Project, Role
from projects.selectors import get_project_for_user

# A project's endpoints are for its admins: to others (consumers, labelers, outsiders) the routes answer 404, as
# the site-level routes always did for a project they do not administer.
PROJECT_ADMINS = Scope(see=(Role.ADMIN,))


class EndpointListSerializer(serializers.ListSerializer):
    def to_representation(self, data):
        return super().to_representation(with_health(data))  # every row's health in two queries


class EndpointOutputSerializer(serializers.Serializer):
    name = serializers.SlugField()
    project = serializers.CharField(source="project.slug", allow_null=True, help_text="Empty: a site-wide endpoint.")
    base_url = serializers.CharField()
    model = serializers.CharField()
    api_style = serializers.ChoiceField(choices=ApiStyle.values)
    api_key_env = serializers.CharField(help_text="The NAME of the variable holding the key, never the key.")
    key_managed = serializers.SerializerMethodField(help_text="A served model's own key, sent by the workers.")
    max_concurrency = serializers.IntegerField()
    request_timeout_s = serializers.FloatField()
    max_retries = serializers.IntegerField()
    price_input_per_1k = serializers.DecimalField(max_digits=12, decimal_places=6)
    price_output_per_1k = serializers.DecimalField(max_digits=12, decimal_places=6)
    is_active = serializers.BooleanField(help_text="Switched off (false): in no picker, and no new run may use it.")
    created_at = serializers.DateTimeField()
    config_changed_at = serializers.DateTimeField(
        allow_null=True, help_text="Its URL, model, API style or key variable last changed: older checks are stale."
    )
    last_check_at = serializers.DateTimeField(
        source="health.at", allow_null=True, help_text="The last finished check or request since the last edit."
    )
    last_check_ok = serializers.BooleanField(source="health.ok", allow_null=True)
    last_latency_ms = serializers.IntegerField(source="health.latency_ms", allow_null=True)
    last_check_source = serializers.ChoiceField(
        source="health.source", choices=["check", "request", ""], help_text="Empty: nothing since the last edit."
    )
    health = serializers.CharField(source="health_text", help_text="What the pickers show, e.g. 'ok 420 ms, …'.")

    class Meta:
        list_serializer_class = EndpointListSerializer

    def get_key_managed(self, endpoint) -> bool:
        return bool(endpoint.served_key)


class EndpointFieldsSerializer(serializers.Serializer):
    base_url = serializers.CharField(max_length=500)
    model = serializers.CharField(max_length=200)
    api_style = serializers.ChoiceField(choices=ApiStyle.values, required=False)
    api_key_env = serializers.CharField(max_length=100, required=False, allow_blank=True)
    max_concurrency = serializers.IntegerField(min_value=1, max_value=64, required=False)
    request_timeout_s = serializers.FloatField(min_value=0.1, max_value=600, required=False)
    max_retries = serializers.IntegerField(min_value=0, max_value=10, required=False)
    price_input_per_1k = serializers.DecimalField(
        max_digits=12, decimal_places=6, min_value=0, max_value=1000, required=False
    )
    price_output_per_1k = serializers.DecimalField(
        max_digits=12, decimal_places=6, min_value=0, max_value=1000, required=False
    )
    is_active = serializers.BooleanField(required=False)


class EndpointCreateSerializer(EndpointFieldsSerializer):
    name = serializers.SlugField(max_length=64)
    project = serializers.SlugField(
        max_length=64,
        required=False,
        allow_null=True,
        help_text="On /api/v1/endpoints: the owning project; empty: site-wide (site admins). Under a project's "
        "route the endpoint is that project's: leave it out.",
    )


class EndpointEditSerializer(EndpointFieldsSerializer):
    base_url = serializers.CharField(max_length=500, required=False)
    model = serializers.CharField(max_length=200, required=False)


def _one(endpoint: LLMEndpoint) -> dict:
    return EndpointOutputSerializer(with_health([endpoint])[0]).data


def _add_project_endpoint(project: Project, values: dict) -> LLMEndpoint:
    values.pop("project", None)  # a project's route names it already (the base refused a different one)
    values.setdefault("is_active", True)
    return save_project_endpoint(project=project, **values)


def _created(request, create) -> Response:
    """201 with the endpoint `create(validated values)` added, or the service's refusal."""
    data = EndpointCreateSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    try:
        endpoint = create(dict(data.validated_data))
    except EndpointError as exc:
        return service_error_response(exc)
    endpoint.refresh_from_db()
    return Response(_one(endpoint), status=status.HTTP_201_CREATED)


class EndpointListCreateApi(APIView):
    @extend_schema(
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter(
                "project", str, description="Only the endpoints this project may use (and its own switched-off ones)."
            ),
        ],
        responses=EndpointOutputSerializer(many=True),
        description="Project admins: the site-wide endpoints and their projects' own; site admins: every one. Each "
        "with its health (last_check_at, last_check_ok, last_latency_ms).",
    )
    def get(self, request):
        endpoints = endpoints_administered_by(user=request.user)
        if request.query_params.get("project"):
            project = get_project_for_user(
                user=request.user, slug=request.query_params["project"][:64], roles=(Role.ADMIN,)
            )
            endpoints = endpoints_of_project(project=project)
        return paginated(
            request, endpoints.select_related("project").order_by("name"), EndpointOutputSerializer, view=self
        )

    @extend_schema(
        request=EndpointCreateSerializer,
        responses={201: EndpointOutputSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
        description="Add an endpoint. A name any endpoint has is refused (400 naming `name`): change one with PATCH "
        "on it. With `project` (its admins): the project's rules (allowed hosts, key variable LLM_KEY_P<id>_…); "
        "without: a site-wide endpoint (site admins).",
    )
    def post(self, request):
        def create(values: dict) -> LLMEndpoint:
            slug = values.pop("project", None)
            if slug:
                project = get_project_for_user(user=request.user, slug=slug, roles=(Role.ADMIN,))
                return _add_project_endpoint(project, values)
            if not request.user.is_staff:
                raise PermissionDenied("only site admins may add a site-wide endpoint; give `project`")
            is_active = values.pop("is_active", True)
            endpoint = add_endpoint(**values)
            if not is_active:
                update_endpoint(endpoint=endpoint, is_active=False)
            return endpoint

        return _created(request, create)


class ProjectEndpointListCreateApi(ProjectEndpoint):
    scopes = {"GET": PROJECT_ADMINS, "POST": PROJECT_ADMINS}

    @extend_schema(
        parameters=PAGE_PARAMETERS,
        responses=EndpointOutputSerializer(many=True),
        description="Project admins: the endpoints the project may use — the site-wide ones and its own — switched-"
        "off ones too, each with its health (last_check_at, last_check_ok, last_latency_ms).",
    )
    def get(self, request):
        endpoints = endpoints_of_project(project=self.project).select_related("project").order_by("name")
        return paginated(request, endpoints, EndpointOutputSerializer, view=self)

    @extend_schema(
        request=EndpointCreateSerializer,
        responses={201: EndpointOutputSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
        description="Add an endpoint of the project (its admins), under the project's rules (allowed hosts, key "
        "variable LLM_KEY_P<id>_…). A name any endpoint has is refused (400 naming `name`): change one with PATCH "
        "on it.",
    )
    def post(self, request):
        return _created(request, lambda values: _add_project_endpoint(self.project, values))


class EndpointDetailHandlers:
    """GET, PATCH and DELETE on one endpoint; the routes differ only in where `_endpoint` looks for it."""

    def _endpoint(self, request, name: str, *, change: bool = False) -> LLMEndpoint:
        raise NotImplementedError

    def _found(self, request, endpoint: LLMEndpoint | None, *, change: bool) -> LLMEndpoint:
        if endpoint is None:
            raise Http404("No such endpoint.")
        if change and endpoint.project_id is None and not request.user.is_staff:
            raise PermissionDenied("only site admins may change a site-wide endpoint")
        return endpoint

    @extend_schema(responses={200: EndpointOutputSerializer, 404: ErrorSerializer})
    def get(self, request, name: str):
        return Response(_one(self._endpoint(request, name)))

    @extend_schema(
        request=EndpointEditSerializer,
        responses={200: EndpointOutputSerializer, 400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer},
        description='Edit the endpoint: the fields given change, the name never does. `{"is_active": false}` '
        "switches it off (no new run may use it; its history stays). A changed URL, model, API style or key "
        "variable makes earlier checks stale.",
    )
    def patch(self, request, name: str):
        endpoint = self._endpoint(request, name, change=True)
        if "name" in request.data and request.data["name"] != endpoint.name:
            return Response({"detail": "name: an endpoint's name never changes (runs and plans name it)"}, status=400)
        data = EndpointEditSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            endpoint = update_endpoint(endpoint=endpoint, **data.validated_data)
        except EndpointError as exc:
            return service_error_response(exc)
        endpoint.refresh_from_db()
        return Response(_one(endpoint))

    @extend_schema(
        request=None,
        responses={204: None, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        description="Delete an endpoint no run, request or completion uses (its checks go with it); one in use "
        "answers 409: switch it off instead (PATCH is_active false).",
    )
    def delete(self, request, name: str):
        endpoint = self._endpoint(request, name, change=True)
        try:
            delete_endpoint(endpoint)
        except EndpointError as exc:
            return service_error_response(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointDetailApi(EndpointDetailHandlers, APIView):
    """An endpoint the caller administers: every one for site admins; the site-wide ones and their projects' own
    for project admins."""

    def _endpoint(self, request, name: str, *, change: bool = False) -> LLMEndpoint:
        found = endpoints_administered_by(user=request.user).filter(name=name).select_related("project").first()
        return self._found(request, found, change=change)


class ProjectEndpointDetailApi(EndpointDetailHandlers, ProjectEndpoint):
    """An endpoint the project may use (a site-wide one or its own); another project's is not found."""

    scopes = {"GET": PROJECT_ADMINS, "PATCH": PROJECT_ADMINS, "DELETE": PROJECT_ADMINS}

    def _endpoint(self, request, name: str, *, change: bool = False) -> LLMEndpoint:
        found = endpoints_of_project(project=self.project).filter(name=name).select_related("project").first()
        return self._found(request, found, change=change)
