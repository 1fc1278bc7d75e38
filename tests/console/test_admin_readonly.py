"""The Django admin stays for site admins, with immutable records and runs' internal state read-only: no Save and
no Delete on a dataset version, a training job or a generation batch, and a POST changes nothing."""

from llm.services import create_endpoint
from selfinstruct.batches import start_batch
from tests.training.conftest import sft_version, tiny_base  # noqa: F401 - shared fixtures
from training.services import create_training_job


def test_immutable_records_have_no_save_or_delete_in_the_admin(admin_client, project, sft_version, tiny_base):  # noqa: F811
    endpoint = create_endpoint(name="teach", base_url="http://127.0.0.1:9/v1", model="m")
    batch = start_batch(project=project, endpoint=endpoint, template_name="alpaca", target=5)
    job = create_training_job(project=project, dataset_version=sft_version, kind="sft", base_model=str(tiny_base))
    pages = {
        f"/admin/exports/datasetversion/{sft_version.pk}/change/": sft_version,
        f"/admin/training/trainingjob/{job.pk}/change/": job,
        f"/admin/selfinstruct/generationbatch/{batch.pk}/change/": batch,
    }
    for url, record in pages.items():
        page = admin_client.get(url)
        text = page.content.decode()
        assert page.status_code == 200 and 'name="_save"' not in text and "deletelink" not in text, url
        assert admin_client.post(url.replace("change/", "delete/"), {"post": "yes"}).status_code == 403
        record.refresh_from_db()  # still there
