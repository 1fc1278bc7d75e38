"""Training from the console: a job started from a ready version with fields (blank numbers: the kind's
defaults), its page live while it runs (status, step, ETA, cancel) and, once done, results, samples, metrics and
artifacts; a queued job cancelled on its page."""

import pytest

from tests.training.conftest import sft_version, tiny_base  # noqa: F401 - fixtures
from training.models import TrainingJob

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


@pytest.mark.long(40)
def test_a_job_starts_from_fields_and_its_page_shows_what_it_made(client, cast, sft_version, tiny_base):  # noqa: F811
    from training.supervisor import run_training_job

    client.force_login(cast["project_admin"])
    form = client.get("/console/alpha/training/").content.decode()
    assert "No training job yet." in form and f'value="{sft_version.pk}"' in form
    missing = client.post("/console/alpha/training/", {"dataset": sft_version.pk, "method": "full", "seed": 0})
    assert missing.status_code == 400 and "Name a base model" in missing.content.decode()
    outside = {"dataset": sft_version.pk, "method": "full", "seed": 0, "base_model": "/etc"}
    refused = client.post("/console/alpha/training/", outside)
    assert refused.status_code == 400 and "no base model named" in refused.content.decode()
    fields = {"dataset": sft_version.pk, "method": "lora", "seed": 0, "base_model": str(tiny_base)}
    made = client.post("/console/alpha/training/", {**fields, "epochs": 1, "max_length": 128, "learning_rate": 1e-3})
    job = TrainingJob.objects.get()
    assert made.status_code == 302 and made["Location"] == f"/console/alpha/training/{job.pk}/"
    assert job.kind == "sft" and job.hyperparameters["epochs"] == 1 and job.hyperparameters["batch_size"] == 4
    queued = client.get(made["Location"]).content.decode()
    assert 'data-status="queued"' in queued and 'id="cancel-job"' in queued and 'hx-trigger="every 2s"' in queued
    run_training_job(job_id=job.pk)  # as the gpu worker would
    done = client.get(f"/console/alpha/training/{job.pk}/live").content.decode()
    assert 'data-status="succeeded"' in done and "hx-trigger" not in done and 'id="cancel-job"' not in done
    assert (
        'id="results"' in done and "Eval loss" in done and 'class="card sample-row"' in done and 'id="metrics"' in done
    )
    assert f"/api/v1/projects/alpha/training-jobs/{job.pk}/artifacts/model/config.json" in done
    page = client.get(f"/console/alpha/training/{job.pk}/").content.decode()
    assert 'data-part="charts"' in page and "vendor/chartjs/chart.umd.min.js" in page and 'id="series-data"' in page
    assert '{"id": "loss", "title": "Loss", "series": [{"key": "loss", "label": "Loss", "points": [[1, ' in page
    second = client.post("/console/alpha/training/", {**fields, "base_model": "", "base_job": job.pk})
    nxt = TrainingJob.objects.exclude(pk=job.pk).get()
    assert second.status_code == 302 and nxt.base_job_id == job.pk  # the next round builds on the trained job
    assert client.post(f"/console/alpha/training/{nxt.pk}/cancel").status_code == 302
    nxt.refresh_from_db()
    assert nxt.status == "cancelled"
    client.force_login(cast["other_admin"])
    assert client.get(f"/console/beta/training/{job.pk}/").status_code == 404
