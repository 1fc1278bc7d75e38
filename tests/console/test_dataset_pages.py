"""Datasets from the console: build a version from fields (kind, split, the filters of its kind), its page with
status (polled while building), stats, lineage, downloads and the first rows read from storage."""

import pytest

from exports.models import DatasetVersion
from tests.annotation.conftest import labelers, make_tasks  # noqa: F401 - fixtures
from tests.exports.test_build_worker import ranked  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_version_is_built_from_fields_and_shown_with_its_rows(client, cast, project, ranked):  # noqa: F811
    from exports.services import build_dataset_version

    client.force_login(cast["project_admin"])
    page = client.get("/console/alpha/datasets/").content.decode()
    assert "No dataset version yet." in page and 'id="new-version"' in page
    bad = client.post("/console/alpha/datasets/", {"kind": "preference", "test_fraction": 2, "split_seed": 0})
    assert bad.status_code == 400 and "less than or equal to 0.99" in bad.content.decode()
    assert 'name="disagreement_below"' in page
    above = {"kind": "preference", "test_fraction": 0.25, "split_seed": 3, "disagreement_below": 1.5}
    refused = client.post("/console/alpha/datasets/", above)
    assert refused.status_code == 400 and "less than or equal to 1" in refused.content.decode()
    made = client.post(
        "/console/alpha/datasets/",
        {
            "kind": "preference",
            "test_fraction": 0.25,
            "split_seed": 3,
            "consensus": "on",
            "languages": ["en"],
            "disagreement_below": 0.4,
        },
    )
    version = DatasetVersion.objects.get()
    assert made.status_code == 302 and made["Location"] == f"/console/alpha/datasets/{version.pk}/"
    assert version.filters == {"languages": ["en"], "consensus": True, "disagreement_below": 0.4}
    assert version.split_seed == 3
    building = client.get(made["Location"]).content.decode()
    assert 'data-status="building"' in building and 'hx-trigger="every 2s"' in building
    build_dataset_version(version_id=version.pk, token=str(version.build_token))  # as a worker would
    ready = client.get(f"/console/alpha/datasets/{version.pk}/live").content.decode()
    assert 'data-status="ready"' in ready and "hx-trigger" not in ready
    assert f"/api/v1/projects/alpha/datasets/{version.pk}/download?format=trl-preference" in ready
    assert ready.count('class="row-preview"') == 5 and "#1 ·" in ready  # the first rows, from storage
    version.refresh_from_db()
    for chart in ("stats-lengths", "stats-languages", "stats-margins"):  # stats as bar charts
        assert f'<script id="{chart}" type="application/json">' in ready and f'data-bars="{chart}"' in ready
    histograms = version.stats["length_histograms"]
    assert sum(histograms["chosen"]) == version.row_count == sum(version.stats["margins"].values())
    assert '<a href="/label/alpha/dashboard/">' in ready  # lineage as links (tasks and rankings: the dashboard)
    assert "Review policy" in ready and "No review" in ready and "Adjudicated tasks" in ready
    assert "Pairs by margin (rank distance)" in ready  # no labeler gave strengths: every margin a rank distance
    from console.dataset_display import lineage_summary

    sampled = lineage_summary({"review_policy": "sample", "review_threshold": 0.2}, slug="alpha")
    assert [(e["label"], e["value"]["text"]) for e in sampled] == [("Review policy", "A sampled share of tasks (0.2)")]
    listed = client.get("/console/alpha/datasets/").content.decode()
    assert f'href="/console/alpha/datasets/{version.pk}/"' in listed
    client.force_login(cast["other_admin"])
    assert client.get(f"/console/beta/datasets/{version.pk}/").status_code == 404
