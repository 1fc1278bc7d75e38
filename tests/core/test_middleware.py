"""NUL characters never reach the database (PostgreSQL cannot hold them): the request is refused with 400."""

import pytest


@pytest.mark.parametrize(
    "url",
    ["/api/v1/annotation/next?project=a%00b", "/api/v1/training-jobs/?status=%00", "/api/v1/datasets/?project%00=x"],
)
def test_nul_in_the_query_is_a_400_not_a_database_error(api_as, url):
    response = api_as("admin").get(url)
    assert response.status_code == 400 and "NUL" in response.json()["detail"]


def test_nul_in_a_form_field_is_refused_on_pages(client, cast):
    client.force_login(cast["labeler"])
    response = client.post("/accounts/login/", {"username": "lab\x00", "password": "x"})
    assert response.status_code == 400


def test_ordinary_requests_pass(api_as):
    assert api_as("admin").get("/api/v1/projects/?limit=5").status_code == 200
