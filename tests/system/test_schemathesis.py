"""schemathesis against the OpenAPI document, signed in as each role: no 5xx, and every response (status code,
content type, body) matches the document. A bounded number of generated requests per operation and role."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = 10  # per operation and role
ROLES = ("admin", "labeler", "consumer", "other_consumer")


def _operations():
    import schemathesis
    from django.core.wsgi import get_wsgi_application

    from tests.helpers.openapi import openapi_document

    schema = schemathesis.openapi.from_dict(openapi_document())
    schema.app = get_wsgi_application()
    schema.location = "/api/schema/"
    return [result.ok() for result in schema.get_all_operations()]


def _checks():
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    return [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def tokens(cast):
    from projects.services import issue_token

    return {role: issue_token(user=cast[role]) for role in ROLES}


@pytest.mark.long(25)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ROLES)
def test_generated_requests_get_documented_answers(role, tokens, project):
    operations = [op for op in _operations() if op.method.upper() != "DELETE"]  # token deletion would log us out
    checks = _checks()
    sent = {"n": 0}
    headers = {"Authorization": f"Token {tokens[role]}"}

    def exercise(operation):
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(data=st.data())
        def run(data):
            case = data.draw(operation.as_strategy())
            if case.path == "/api/v1/me/token":
                return  # rotating the token mid-run would sign the rest of the run out
            response = case.call(headers=headers)
            sent["n"] += 1
            case.validate_response(response, checks=checks)

        run()

    for operation in operations:
        exercise(operation)
    print(f"schemathesis: {role}: {sent['n']} requests over {len(operations)} operations")
    assert sent["n"] >= len(operations) * 2  # it really sent requests
