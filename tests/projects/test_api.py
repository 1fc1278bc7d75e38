"""The API skeleton: IsAuthenticated by default, token + session auth, project scoping, schema-checked bodies."""

import pytest

PROJECT_ROLES = {  # who may see project "alpha"
    "admin": True,
    "labeler": True,
    "consumer": True,
    "other_labeler": False,
    "other_consumer": False,
}


@pytest.mark.parametrize(("who", "allowed"), PROJECT_ROLES.items())
def test_project_detail_is_scoped(api_as, who, allowed):
    response = api_as(who).get("/api/v1/projects/alpha/")
    assert response.status_code == (200 if allowed else 404)  # outsiders cannot tell it exists
    assert "Deprecation" not in response  # the project's own route (projects.endpoints) has no deprecated twin
    if allowed:
        assert response.json()["slug"] == "alpha"


@pytest.mark.parametrize(
    ("who", "expected"),
    [("admin", ["alpha", "beta"]), ("labeler", ["alpha"]), ("consumer", ["alpha"]), ("other_consumer", ["beta"])],
)
def test_project_list_is_scoped(api_as, who, expected):
    body = api_as(who).get("/api/v1/projects/").json()
    assert [p["slug"] for p in body["results"]] == expected and body["count"] == len(expected)


@pytest.mark.parametrize("url", ["/api/v1/projects/", "/api/v1/projects/alpha/", "/api/v1/me/"])
def test_anonymous_is_refused(api_as, url):
    assert api_as(None).get(url).status_code == 401


def test_me_reports_roles(api_as):
    body = api_as("consumer").get("/api/v1/me/").json()
    assert body == {"username": "con", "is_admin": False, "projects": {"alpha": "consumer"}}


def test_bad_and_revoked_tokens_are_refused(api, cast):
    from projects.services import revoke_token

    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api.get("/api/v1/me/").status_code == 401
    key = cast["consumer"].auth_token.key
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/me/").status_code == 200
    assert revoke_token(user=cast["consumer"])
    assert api.get("/api/v1/me/").status_code == 401


def test_session_auth_works_for_the_browser(client, cast):
    client.force_login(cast["labeler"])
    assert client.get("/api/v1/me/").json()["username"] == "lab"


def test_health_is_public_and_minimal(api, db):
    response = api.get("/api/v1/health/")
    assert response.status_code == 200 and response.json() == {"status": "ok", "database": True}


def test_schema_and_docs_are_served_without_a_cdn(client, cast):
    client.force_login(cast["labeler"])
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    doc = schema.json()
    assert doc["openapi"].startswith("3.1") and "/api/v1/projects/{slug}" in doc["paths"]
    assert {"tokenAuth", "cookieAuth"} <= set(doc["components"]["securitySchemes"])
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs and "/static/drf_spectacular_sidecar/" in docs
    assert "cdn" not in docs.lower() and "unpkg" not in docs.lower()


def test_schema_checker_catches_an_undocumented_shape(api_as):
    """The validator used by every API test must be able to fail."""
    from tests.helpers.openapi import validate_response

    class Fake:
        status_code = 200

        @staticmethod
        def json():
            return {"slug": 5}

    with pytest.raises(AssertionError, match="does not match the schema"):
        validate_response("GET", "/api/v1/projects/alpha/", Fake())
    Fake.status_code = 418
    with pytest.raises(AssertionError, match="undocumented status 418"):
        validate_response("GET", "/api/v1/projects/alpha/", Fake())


def test_the_project_list_bounds_its_paging_values(api_as):
    """`?limit=2**63` reached the database and answered 500 (issue 34's re-probe); every value is bounded now."""
    client = api_as("admin")
    for query, field in (("limit=9223372036854775808", "limit"), ("limit=1001", "limit"), ("offset=-1", "offset")):
        answer = client.get(f"/api/v1/projects/?{query}")
        assert answer.status_code == 400 and field in answer.json()["detail"], (query, answer.content)
    assert [p["slug"] for p in client.get("/api/v1/projects/?limit=1&offset=1").json()["results"]] == ["beta"]
