"""Every API response in the tests is checked against the OpenAPI document the server publishes (Zulip-style)."""

from __future__ import annotations

import re
from functools import lru_cache

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from rest_framework.test import APIClient


def _nullable_to_json_schema(node):
    """OpenAPI 3.0's `nullable: true` (still emitted by DRF's paginators) as JSON Schema's null type."""
    if isinstance(node, list):
        return [_nullable_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_to_json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return _nullable_to_json_schema(SchemaGenerator().get_schema(request=None, public=True))


def _path_template(path: str) -> str | None:
    if path.startswith("/api/v1/"):
        path = path.rstrip("/")  # the slashed forms older clients use are answered as the canonical path
    # literal segments first: /seeds/bulk is its own operation, not /seeds/{item_id}
    for template in sorted(openapi_document()["paths"], key=lambda t: t.count("{")):
        pattern = re.escape(template).replace(r"\{name\}", ".+")  # a file path inside a job's folder
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", r"[^/]+", pattern) + "$"
        if re.match(pattern, path):
            return template
    if path.startswith("/api/v1/") and not path.startswith("/api/v1/projects/"):
        # a deprecated flat route (projects/endpoints.py) answers as its project-scoped twin documents
        return _path_template("/api/v1/projects/any/" + path.removeprefix("/api/v1/"))
    return None


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def validate_response(method: str, path: str, response) -> None:
    """Raise AssertionError unless the response is documented and its JSON body matches the schema."""
    template = _path_template(path)
    if template is None:
        raise AssertionError(f"{path} is not in the OpenAPI document")
    operation = openapi_document()["paths"][template].get(method.lower())
    if operation is None:
        if response.status_code == 405:
            return
        raise AssertionError(f"{method} {template} is not in the OpenAPI document")
    status = str(response.status_code)
    if response.status_code in (401, 403, 404) and status not in operation["responses"]:
        return  # auth and scoping errors are uniform ({"detail": …}) and implied for every operation
    if status not in operation["responses"]:
        raise AssertionError(f"{method} {template} returned undocumented status {status}")
    content = operation["responses"][status].get("content", {})
    if "application/json" not in content:
        return
    pointer = "/".join(
        [
            "#",
            "paths",
            _escape(template),
            method.lower(),
            "responses",
            status,
            "content",
            _escape("application/json"),
            "schema",
        ]
    )
    registry = Registry().with_resource("urn:openapi", Resource.from_contents(openapi_document(), DRAFT202012))
    validator = jsonschema.Draft202012Validator({"$ref": f"urn:openapi{pointer}"}, registry=registry)
    errors = sorted(validator.iter_errors(response.json()), key=lambda e: e.path)
    if errors:
        raise AssertionError(f"{method} {path} -> {status} does not match the schema: {errors[0].message}")


class SchemaCheckedClient(APIClient):
    """An APIClient that validates every /api/v1/ response against the OpenAPI document."""

    def generic(self, method, path, *args, **kwargs):
        response = super().generic(method, path, *args, **kwargs)
        if path.split("?")[0].startswith("/api/v1/"):
            validate_response(method, path.split("?")[0], response)
        return response
