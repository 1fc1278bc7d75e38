"""One base for the API views of project-owned resources: the project is resolved once, from the URL, and the
caller's role is checked once, by HTTP method (Sentry's ProjectEndpoint with its scope map).

Routes come in two forms, both served by the same view:
- `/api/v1/projects/<slug>/<resource>…` — the form to use. The view finds its objects within `self.project`, so an
  id of another project's object answers 404 exactly like an id that does not exist.
- the older flat form `/api/v1/<resource>…` (the project named in the query or body, or found from the object in the
  URL). It keeps answering for one release, with `Deprecation`, `Sunset` and a `Link: <…>; rel="successor-version"`
  header naming the project-scoped route, and is left out of the OpenAPI schema. See docs/api.md.

Who may do what is the view's `scopes`: for each HTTP method, the roles that may *see* the resource (members in
other roles get 404, as outsiders do: nobody learns what a project holds from its status codes) and the roles that
may *act* (the others who see it get 403 naming the action).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from django.db.models import Model, QuerySet
from django.http import Http404
from django.urls import NoReverseMatch, path, reverse
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.views import APIView

from projects.models import DATA_ROLES, Project, Role
from projects.selectors import get_project_for_user, projects_for_user, role_in_project

ALL_ROLES = tuple(Role.values)

# The flat routes answer until SUNSET (one release after the project-scoped routes came, RFC 8594 / RFC 9745).
DEPRECATED_SINCE = datetime(2026, 12, 7, tzinfo=UTC)
SUNSET = datetime(2027, 6, 7, tzinfo=UTC)
SCOPED_PREFIX = "projects/<slug:slug>/"
SCOPED_NAME = "project-{}"  # the project-scoped twin of the flat route named {}


@dataclass(frozen=True)
class Scope:
    """Who may take one HTTP method on a resource of a project."""

    see: tuple[str, ...] = ALL_ROLES  # other members get 404, as outsiders do
    act: tuple[str, ...] | None = None  # None: whoever sees it may act; else the others who see it get 403
    action: str = ""  # what the 403 says they may not do: "only project admins may <action>"

    def check(self, role: str | None) -> None:
        if role not in self.see:  # a member in another role: nothing here for them (the project itself exists)
            raise Http404("Not found.")
        if self.act is not None and role not in self.act:
            raise PermissionDenied(f"only project admins may {self.action}")


MEMBERS = Scope()  # any member: admins, labelers, consumers
DATA = Scope(see=DATA_ROLES)  # the project's data products: admins and consumers


def admins(action: str, *, see: tuple[str, ...] = DATA_ROLES) -> Scope:
    """Acting is for project admins (site admins count as admins); `see` may see the resource and get a 403."""
    return Scope(see=see, act=(Role.ADMIN,), action=action)


class ProjectEndpoint(APIView):
    """A view of a project-owned resource. After `initial`, `self.project` is the project (or None on a flat list
    route called without a project: then `self.projects` holds every project the caller may see) and `self.role` the
    caller's role in it.

    Subclasses set `scopes` ({"GET": DATA, "POST": admins("start training")}, methods left out: any member), and for
    their flat routes either `flat_object = (Model, "url kwarg", "orm path to the project")` (the object named in the
    URL leads to its project) or nothing (the project comes from the `project` query parameter or body field;
    `flat_lists_all = True` lets a GET without one list across the caller's projects)."""

    scopes: dict[str, Scope] = {}
    flat_object: tuple[type[Model], str, str] | None = None
    flat_lists_all = False

    project: Project | None = None
    projects: QuerySet[Project]
    role: str | None = None
    project_slug: str | None = None
    deprecated = False

    def dispatch(self, request, *args, **kwargs):
        # the handlers never see the slug: they work within self.project
        self.project_slug = kwargs.pop("slug", None)
        self.deprecated = self.project_slug is None
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, permission classes, throttles
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        scope = self.scopes.get(method, MEMBERS)
        slug = self.project_slug if not self.deprecated else self._flat_project_slug(request, kwargs)
        if slug is None:  # a flat list across the caller's projects
            self.projects = projects_for_user(user=request.user, roles=scope.see)
            return
        try:
            self.project = get_project_for_user(user=request.user, slug=slug)
            self.role = role_in_project(user=request.user, project=self.project)
            scope.check(self.role)
        except Http404:
            if self.deprecated and self.flat_object is not None:
                # found from an id in the URL: another project's object reads like one that does not exist
                raise Http404(self._missing()) from None
            raise
        if not self.deprecated:
            self.refuse_another_project(request, self.project.slug)
        self.projects = Project.objects.filter(pk=self.project.pk)

    @staticmethod
    def refuse_another_project(request, slug: str) -> None:
        """On a project-scoped route the project is the URL's: a `project` in the query or body naming another is a
        400 (the same one is tolerated: clients moving from the flat routes may still send it)."""
        for named in (request.query_params.get("project"), _body_field(request, "project")):
            if named not in (None, "", slug):
                raise ValidationError({"project": ["Does not match the project in the URL; leave it out."]})

    def _flat_project_slug(self, request, kwargs) -> str | None:
        if self.flat_object is not None:
            model, kwarg, project_path = self.flat_object
            slug = model.objects.filter(pk=kwargs[kwarg]).values_list(f"{project_path}__slug", flat=True).first()
            if slug is None:
                raise Http404(self._missing())
            return slug
        named = request.query_params.get("project")
        if not named and request.method not in ("GET", "HEAD", "OPTIONS"):
            named = _body_field(request, "project")
        if named:
            return str(named)
        if request.method in ("GET", "HEAD") and self.flat_lists_all:
            return None
        raise ValidationError({"project": ["This field is required."]})

    def _missing(self) -> str:
        """The 404 of a flat route's object, the same whether it is missing or another project's."""
        return f"No such {self.flat_object[0]._meta.verbose_name}."

    def in_project(self, queryset: QuerySet, *, project_path: str = "project") -> QuerySet:
        """`queryset` narrowed to the resolved project (or the caller's projects on a flat list)."""
        if self.project is not None:
            return queryset.filter(**{project_path: self.project})
        return queryset.filter(**{f"{project_path}__in": self.projects})

    def object_or_404(self, queryset: QuerySet, pk, *, project_path: str = "project", what: str = "object"):
        found = self.in_project(queryset, project_path=project_path).filter(pk=pk).first()
        if found is None:
            raise Http404(f"No such {what}.")
        return found

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.deprecated:
            response["Deprecation"] = f"@{int(DEPRECATED_SINCE.timestamp())}"
            response["Sunset"] = format_datetime(SUNSET, usegmt=True)
            successor = self._successor()
            if successor:
                link = f'<{successor}>; rel="successor-version"'
                # a paginated list's next/prev links stay (RFC 8288: one header, links comma-separated)
                response["Link"] = f"{response['Link']}, {link}" if response.has_header("Link") else link
        return response

    def _successor(self) -> str:
        match = getattr(self.request, "resolver_match", None)
        if self.project is None or match is None or not match.url_name:
            return ""
        try:
            url = reverse(SCOPED_NAME.format(match.url_name), kwargs={"slug": self.project.slug, **self.kwargs})
        except NoReverseMatch:
            return ""
        query = self.request.query_params.copy()  # the same request on the new route: its query, less `project`
        query.pop("project", None)
        return f"{url}?{query.urlencode()}" if query else url


def _body_field(request, name: str):
    data = request.data
    value = data.get(name) if hasattr(data, "get") else None
    return value if isinstance(value, str | int) or value is None else str(value)


def project_routes(*routes) -> tuple[list, list]:
    """(project-scoped patterns, flat patterns) for routes given as `path()` arguments ("training-jobs/<int:job_id>",
    view, name="training-job-detail"): each is served at `projects/<slug>/…` named `project-<name>`, and at its old
    flat path under its old name (deprecated, see the module docstring)."""
    scoped, flat = [], []
    for route, view, name in routes:
        scoped.append(path(SCOPED_PREFIX + route, view, name=SCOPED_NAME.format(name)))
        flat.append(path(route, view, name=name))
    return scoped, flat


def drop_flat_routes(endpoints, **kwargs):
    """drf-spectacular preprocessing hook: the schema documents the project-scoped routes only (the flat ones are
    deprecated twins of them, described in docs/api.md)."""
    kept = []
    for route, regex, method, callback in endpoints:
        view = getattr(callback, "cls", None)
        if view is not None and issubclass(view, ProjectEndpoint) and "{slug}" not in route:
            continue
        kept.append((route, regex, method, callback))
    return kept


def drop_project_fields(result, generator, request, public):
    """drf-spectacular postprocessing hook: on a project-scoped route the project is the URL's, so the `project` query
    parameter and body field (kept by the views for their deprecated flat twins) are left out of what it documents."""
    bodies = set()
    for route, operations in result.get("paths", {}).items():
        if "{slug}" not in route:
            continue
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            if "parameters" in operation:
                operation["parameters"] = [
                    p for p in operation["parameters"] if not (p.get("name") == "project" and p.get("in") == "query")
                ]
            for media in operation.get("requestBody", {}).get("content", {}).values():
                ref = media.get("schema", {}).get("$ref", "")
                if ref.startswith("#/components/schemas/"):
                    bodies.add(ref.rsplit("/", 1)[-1])
    schemas = result.get("components", {}).get("schemas", {})
    for name in bodies:
        schema = schemas.get(name, {})
        if "project" in schema.get("properties", {}):
            del schema["properties"]["project"]
            required = [f for f in schema.get("required", []) if f != "project"]
            if required:
                schema["required"] = required
            else:
                schema.pop("required", None)
    return result
