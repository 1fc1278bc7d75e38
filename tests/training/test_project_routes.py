"""Training's API at its project-scoped routes (/api/v1/projects/<slug>/…): the same answers as the flat routes,
objects found only within the project named in the URL, and the flat twins marked deprecated."""

from __future__ import annotations

import pytest


@pytest.fixture
def job(project, sft_version, tiny_base):
    from training.services import create_training_job

    return create_training_job(project=project, dataset_version=sft_version, kind="sft", base_model=str(tiny_base))


def test_jobs_at_the_project_scoped_routes(api_as, project, other_project, sft_version, tiny_base, job):
    admin, consumer = api_as("project_admin"), api_as("consumer")
    base = f"/api/v1/projects/{project.slug}"
    listed = consumer.get(f"{base}/training-jobs")
    assert listed.status_code == 200 and [row["id"] for row in listed.json()] == [job.pk]
    assert "Deprecation" not in listed
    assert consumer.get(f"{base}/training-jobs/{job.pk}").json()["id"] == job.pk
    assert consumer.get(f"{base}/training-jobs/{job.pk}/metrics").status_code == 200
    body = {"dataset": sft_version.pk, "kind": "sft", "base_model": str(tiny_base)}
    refused = consumer.post(f"{base}/training-jobs", body, format="json")
    assert refused.status_code == 403 and refused.json()["detail"] == "only project admins may start training"
    created = admin.post(f"{base}/training-jobs", body, format="json")
    assert created.status_code == 201 and created.json()["project"] == project.slug
    assert admin.post(f"{base}/training-jobs/{job.pk}/cancel").json() == {"status": "cancelled"}
    # another project's route finds none of alpha's jobs, for a site admin too; its members learn nothing
    other = f"/api/v1/projects/{other_project.slug}"
    assert api_as("admin").get(f"{other}/training-jobs/{job.pk}").status_code == 404
    assert api_as("admin").post(f"{other}/training-jobs", body, format="json").status_code == 404  # alpha's version
    assert api_as("other_admin").get(f"{base}/training-jobs/{job.pk}").status_code == 404
    assert api_as("labeler").get(f"{base}/training-jobs").status_code == 404


def test_flat_training_routes_are_deprecated_twins(api_as, project, job):
    consumer = api_as("consumer")
    flat = consumer.get(f"/api/v1/training-jobs/{job.pk}")
    assert (
        flat.status_code == 200 and flat.json() == consumer.get(f"/api/v1/projects/alpha/training-jobs/{job.pk}").json()
    )
    assert flat["Deprecation"].startswith("@")
    assert flat["Link"] == f'</api/v1/projects/alpha/training-jobs/{job.pk}>; rel="successor-version"'
    assert consumer.get("/api/v1/evaluations")["Deprecation"].startswith("@")
    # the flat form of a project-wide read still takes the project from the query
    scoped = consumer.get("/api/v1/projects/alpha/difficulty")
    assert scoped.status_code == 200 and consumer.get("/api/v1/difficulty?project=alpha").json() == scoped.json()
