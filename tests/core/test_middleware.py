"""Request hygiene: NUL characters never reach the database (PostgreSQL cannot hold them: 400), and a body over
MAX_REQUEST_BYTES is refused (413) before anything spools it to disk."""

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


def test_a_body_over_the_request_limit_is_refused_before_it_is_read(client, cast, project, settings):
    import io

    from selfinstruct.models import SeedTask

    settings.MAX_REQUEST_BYTES = 4096
    client.force_login(cast["project_admin"])
    upload = io.BytesIO(b'{"instruction": "Name a river."}\n' * 200)  # about 6.6 KB
    upload.name = "seeds.jsonl"
    page = client.post("/console/alpha/seeds/", {"file": upload, "format": "auto"})
    assert page.status_code == 413 and "the limit is 4096" in page.content.decode()
    upload.seek(0)
    api = client.post("/api/v1/projects/alpha/seeds", {"file": upload})
    assert api.status_code == 413 and "limit" in api.json()["detail"] and not SeedTask.objects.exists()
    small = io.BytesIO(b'{"instruction": "Name a river."}\n')
    small.name = "seeds.jsonl"
    assert client.post("/console/alpha/seeds/", {"file": small, "format": "auto"}).status_code == 302


def test_one_request_carries_at_most_256_mib_and_25_files(client, cast, project):
    """Issue 34, finding 3: the default let one request carry 20 completion files of 200 MB (4 GiB)."""
    import io

    from django.conf import settings

    from annotation.models import Completion

    assert settings.MAX_REQUEST_BYTES == 256 * 2**20 and settings.DATA_UPLOAD_MAX_NUMBER_FILES == 25
    client.force_login(cast["project_admin"])
    oversized = client.post(
        "/console/alpha/completions/import",
        data=b"x",
        content_type="multipart/form-data; boundary=b",
        CONTENT_LENGTH=str(256 * 2**20 + 1),
    )
    assert oversized.status_code == 413
    files = []
    for n in range(26):
        upload = io.BytesIO(b'{"prompt": "Say hi", "completion": "hi"}\n')
        upload.name = f"m{n}_predictions.jsonl"
        files.append(upload)
    response = client.post("/console/alpha/completions/import", {"files": files})
    assert response.status_code == 400 and not Completion.objects.exists()
