"""Admin: "Train reward model" from a version page, the job form with field errors, the job page with its loss
and accuracy curves, results and artifacts, and cancel."""

from django.test import Client

from core.lifecycle import RunStatus
from training.models import TrainingJob, TrainingMetric


def test_train_from_the_version_page_watch_and_cancel(cast, preference_version, tiny_base):
    client = Client()
    client.force_login(cast["admin"])
    version_page = client.get(f"/admin/exports/datasetversion/{preference_version.pk}/change/").content.decode()
    link = f"/admin/training/trainingjob/add/?dataset={preference_version.pk}&amp;kind=reward"
    assert link in version_page and "Train reward model" in version_page
    form = client.get(link.replace("&amp;", "&")).content.decode()
    assert "Train a reward model" in form and f'value="{preference_version.pk}" selected' in form
    fields = {
        "dataset_version": preference_version.pk,
        "kind": "reward",
        "method": "lora",
        "seed": 0,
        "hyperparameters": '{"epochs": 2}',
    }
    bad = client.post("/admin/training/trainingjob/add/", {**fields, "base_model": "/no/such/folder"})
    assert "no base model named" in bad.content.decode() and not TrainingJob.objects.exists()
    bad_json = client.post(
        "/admin/training/trainingjob/add/", {**fields, "base_model": str(tiny_base), "hyperparameters": "{epochs: 2"}
    )
    assert "not valid JSON" in bad_json.content.decode()
    created = client.post("/admin/training/trainingjob/add/", {**fields, "base_model": str(tiny_base)})
    job = TrainingJob.objects.get()
    assert created.status_code == 302 and job.method == "lora" and job.hyperparameters["epochs"] == 2.0
    TrainingJob.objects.filter(pk=job.pk).update(step=4, total_steps=8, results={"accuracy": 0.75})
    TrainingMetric.objects.bulk_create(
        [TrainingMetric(job=job, step=s, values={"loss": 1.0 / s, "accuracy": 0.5 + s / 20}) for s in range(1, 5)]
        + [TrainingMetric(job=job, step=4, values={"eval_accuracy": 0.75, "eval_loss": 0.4})]
    )
    page = client.get(f"/admin/training/trainingjob/{job.pk}/change/").content.decode()
    assert (
        page.count('aria-label="loss"') == 1
        and 'aria-label="reward accuracy"' in page
        and "<polyline" in page
        and "eval_accuracy" in page
    )
    assert "4/8 (50%" in page and "&quot;accuracy&quot;: 0.75" in page and "Cancel this job" in page
    assert client.post(f"/admin/training/trainingjob/{job.pk}/cancel/").status_code == 302
    job.refresh_from_db()
    assert job.status == RunStatus.CANCELLED
    assert "Cancel this job" not in client.get(f"/admin/training/trainingjob/{job.pk}/change/").content.decode()
