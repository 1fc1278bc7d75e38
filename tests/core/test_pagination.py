"""Every API list pages with ?limit=&offset= (the body stays a list; Link and X-Total-Count headers say the rest):
nothing is cut silently any more, and bad paging values are a 400 naming the parameter."""

import re

import pytest

from exports.services import create_dataset_version


@pytest.fixture
def three_versions(project):
    return [create_dataset_version(project=project, kind="sft") for _ in range(3)]


def test_a_list_pages_with_links_and_a_total(api_as, three_versions):
    consumer = api_as("consumer")
    first = consumer.get("/api/v1/datasets/?project=alpha&limit=2")
    assert first.status_code == 200 and len(first.json()) == 2 and first["X-Total-Count"] == "3"
    assert [row["id"] for row in first.json()] == [v.pk for v in reversed(three_versions)][:2]
    next_url = re.search(r'<([^>]+)>; rel="next"', first["Link"]).group(1)
    second = consumer.get(next_url)
    assert [row["id"] for row in second.json()] == [three_versions[0].pk]
    assert 'rel="prev"' in second["Link"] and 'rel="next"' not in second["Link"]
    everything = consumer.get("/api/v1/datasets/")
    assert len(everything.json()) == 3 and "Link" not in everything  # one page: no links


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1001", "limit=abc", "offset=-1", "offset=99999999999999999999999", "limit=1.5"]
)
def test_bad_paging_values_are_a_400_naming_the_parameter(api_as, three_versions, query):
    response = api_as("consumer").get(f"/api/v1/datasets/?{query}")
    assert response.status_code == 400 and query.split("=")[0] in response.json()["detail"]


@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("admin", "/api/v1/generation-batches/"),
        ("admin", "/api/v1/sampling-runs/"),
        ("admin", "/api/v1/annotation/judge-runs"),
        ("consumer", "/api/v1/training-jobs/"),
        ("consumer", "/api/v1/evaluations/"),
    ],
)
def test_every_list_pages(api_as, who, url):
    response = api_as(who).get(url + "?limit=1")
    assert response.status_code == 200 and response["X-Total-Count"] == "0" and response.json() == []
