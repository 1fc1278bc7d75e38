"""Thin DRF views for projects and the signed-in account. A project's detail is a project-owned resource
(projects.endpoints): any member reads it; the list, `me` and the caller's token are the caller's own."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ErrorSerializer, service_error_response
from projects.endpoints import MEMBERS, ProjectEndpoint
from projects.models import Role
from projects.selectors import projects_for_user, user_roles
from projects.services import MAX_DESCRIPTION_CHARS, ProjectError, create_project_as, revoke_token, rotate_token


class ProjectOutputSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    description = serializers.CharField()
    guidelines = serializers.CharField()
    created_at = serializers.DateTimeField()


class ProjectDetailOutputSerializer(ProjectOutputSerializer):
    role = serializers.ChoiceField(choices=Role.values, help_text="The caller's role here.")


class ProjectInputSerializer(serializers.Serializer):
    slug = serializers.CharField(max_length=64, help_text="Letters, digits, - and _; in URLs and the CLI.")
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=MAX_DESCRIPTION_CHARS, required=False, allow_blank=True, default="")
    guidelines = serializers.CharField(
        max_length=MAX_DESCRIPTION_CHARS,
        required=False,
        allow_blank=True,
        default="",
        help_text="Markdown shown to labelers on every ranking page.",
    )


class ProjectListApi(ListAPIView):
    serializer_class = ProjectOutputSerializer

    def get_queryset(self):
        return projects_for_user(user=self.request.user)

    @extend_schema(
        request=ProjectInputSerializer,
        responses={201: ProjectOutputSerializer, 400: ErrorSerializer, 403: ErrorSerializer, 409: ErrorSerializer},
        description="Create a project, as the site's PROJECT_CREATION allows: `staff` (site admins), `permission` "
        "(site admins and users given projects.add_project; the default) or `anyone` (every signed-in user). The "
        "creator becomes the project's admin; a refusal (403) says whom to ask.",
    )
    def post(self, request):
        values = ProjectInputSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        try:
            project = create_project_as(user=request.user, **values.validated_data)
        except ProjectError as exc:
            return service_error_response(exc)
        return Response(ProjectOutputSerializer(project).data, status=201)


class ProjectDetailApi(ProjectEndpoint):
    scopes = {"GET": MEMBERS}

    @extend_schema(responses=ProjectDetailOutputSerializer)
    def get(self, request):
        data = ProjectOutputSerializer(self.project).data | {"role": self.role}
        return Response(ProjectDetailOutputSerializer(data).data)


class MeOutputSerializer(serializers.Serializer):
    username = serializers.CharField()
    is_admin = serializers.BooleanField()
    projects = serializers.DictField(child=serializers.CharField(), help_text="{project slug: role}")


class MeApi(APIView):
    @extend_schema(responses=MeOutputSerializer)
    def get(self, request):
        data = {
            "username": request.user.username,
            "is_admin": request.user.is_staff,
            "projects": user_roles(user=request.user),
        }
        return Response(MeOutputSerializer(data).data)


class TokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as 'Authorization: Token <token>'. Shown once.")


class MyTokenApi(APIView):
    """The caller's own API token: POST issues a new one (revoking the old), DELETE revokes it."""

    @extend_schema(request=None, responses={201: TokenOutputSerializer})
    def post(self, request):
        return Response(TokenOutputSerializer({"token": rotate_token(user=request.user)}).data, status=201)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        revoke_token(user=request.user)
        return Response(status=204)
