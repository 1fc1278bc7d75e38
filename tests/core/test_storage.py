"""Shared storage (core.storage): the STORAGE_URL reader, and the S3 path against a real S3-protocol server
(s3rver): atomic publish, byte ranges, presigned downloads, a writer killed mid-upload, and a dataset version built
into the bucket and downloaded through the API with nothing on the local disk."""

import hashlib
import subprocess
import sys
import textwrap

import pytest
from django.core.exceptions import ImproperlyConfigured

from core import storage
from core.env import env_storage
from tests.exports.test_build_worker import ranked  # noqa: F401 - fixture
from tests.helpers.processes import REPO
from tests.helpers.s3 import is_shared, s3_server  # noqa: F401 - fixture


def test_storage_url_is_read_strictly(monkeypatch, tmp_path):
    monkeypatch.delenv("STORAGE_URL", raising=False)
    monkeypatch.delenv("AWS_STORAGE_BUCKET_NAME", raising=False)
    assert env_storage(tmp_path) == {"BACKEND": "core.storage.LocalStorage", "OPTIONS": {"location": str(tmp_path)}}
    monkeypatch.setenv(
        "STORAGE_URL", "s3://data/idp/v1?endpoint_url=http://minio:9000&region=eu-1&addressing_style=path"
    )
    options = env_storage(tmp_path)["OPTIONS"]
    assert env_storage(tmp_path)["BACKEND"] == "core.storage.ObjectStorage"
    assert (options["bucket_name"], options["location"], options["endpoint_url"]) == (
        "data",
        "idp/v1",
        "http://minio:9000",
    )
    assert options["region_name"] == "eu-1" and options["addressing_style"] == "path" and "access_key" not in options
    for bad, says in (
        ("s3://KEY:SECRET@data/x", "must not carry keys"),
        ("s3://data/x?endpoint=http://a", "unknown: ['endpoint']"),
        ("ftp://data/x", "scheme s3 or file"),
    ):
        monkeypatch.setenv("STORAGE_URL", bad)
        with pytest.raises(ImproperlyConfigured, match=says.replace("[", r"\[").replace("]", r"\]")):
            env_storage(tmp_path)
    monkeypatch.delenv("STORAGE_URL")
    monkeypatch.setenv("AWS_STORAGE_BUCKET_NAME", "other")
    assert env_storage(tmp_path)["OPTIONS"]["bucket_name"] == "other"


@pytest.fixture
def on_s3(s3_server, settings):  # noqa: F811
    """This process's `artifacts` storage is the S3 server (as on a machine given STORAGE_URL)."""
    import os

    env = s3_server.env()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[name] = env[name]
    os.environ["STORAGE_URL"] = env["STORAGE_URL"]
    os.environ["STORAGE_MAX_ATTEMPTS"] = "2"  # an unreachable store is told quickly
    try:
        settings.STORAGES = {**settings.STORAGES, "artifacts": env_storage(settings.DATA_DIR)}
        yield s3_server
    finally:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "STORAGE_URL", "STORAGE_MAX_ATTEMPTS"):
            os.environ.pop(name, None)


@pytest.mark.services
def test_objects_publish_whole_and_read_by_range(on_s3, tmp_path):
    assert is_shared() and storage.local_path("a/b") is None
    data = bytes(range(256)) * 4096 * 20  # 20 MiB: a multipart upload (16 MiB parts)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    storage.put_file(source, "datasets/1/tok/rows.jsonl")
    storage.write_text("datasets/1/tok/rows.jsonl.sha256", hashlib.sha256(data).hexdigest())
    assert on_s3.keys("datasets/") == ["datasets/1/tok/rows.jsonl", "datasets/1/tok/rows.jsonl.sha256"]
    assert storage.size("datasets/1/tok/rows.jsonl") == len(data)
    assert b"".join(storage.iter_range("datasets/1/tok/rows.jsonl", 1000, 70_000)) == data[1000:71_000]
    fetched = storage.fetch_file("datasets/1/tok/rows.jsonl", tmp_path / "copy" / "rows.jsonl")
    assert storage.sha256_of(fetched) == hashlib.sha256(data).hexdigest()
    assert (
        storage.fetch_tree("datasets/1", tmp_path / "tree") == 2 and (tmp_path / "tree" / "tok" / "rows.jsonl").exists()
    )
    import urllib.request

    url = storage.download_url("datasets/1/tok/rows.jsonl", filename="v1.jsonl")
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Range": "bytes=10-19"})) as resp:
        assert resp.status == 206 and resp.read() == data[10:20]  # a presigned download resumes with Range
    storage.delete_prefix("datasets/1")
    assert on_s3.keys() == []


@pytest.mark.services
def test_a_writer_killed_mid_upload_leaves_no_object(on_s3, tmp_path):
    """The first 16 MiB part is sent, then the writer dies: the key never appears (S3 publishes an object only when
    its multipart upload completes), so nothing half-written can be read."""
    script = textwrap.dedent(
        """
        import io, os, sys, time, django
        django.setup()
        from core import storage

        class Slow(io.RawIOBase):
            sent = 0
            def readable(self): return True
            def readinto(self, buffer):
                if self.sent >= 20 * 1024 * 1024:
                    print("one part sent", flush=True); time.sleep(600)
                n = min(len(buffer), 1024 * 1024); buffer[:n] = b"x" * n; self.sent += n
                return n

        store = storage.store()
        store.bucket.upload_fileobj(Slow(), store._key("training/9/model/model.safetensors"), Config=store.transfer_config)
        """
    )
    env = {**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "one part sent"
    finally:
        proc.kill()
        proc.wait()
    assert not storage.exists("training/9/model/model.safetensors") and on_s3.keys() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
def test_a_version_built_into_the_bucket_downloads_with_nothing_on_local_disk(on_s3, project, ranked, settings):  # noqa: F811
    from pathlib import Path

    from rest_framework.test import APIClient

    from exports.services import build_dataset_version, create_dataset_version
    from projects.services import create_user, issue_token

    version = create_dataset_version(project=project, kind="preference")
    build_dataset_version(version_id=version.pk, token=str(version.build_token))
    version.refresh_from_db()
    assert version.status == "ready" and version.storage_prefix == f"datasets/{version.pk}/{version.build_token}"
    assert hashlib.sha256(on_s3.read(f"{version.storage_prefix}/rows.jsonl")).hexdigest() == version.content_hash
    assert not (Path(settings.DATA_DIR) / "datasets" / str(version.pk)).exists()
    assert not list((Path(settings.DATA_DIR) / "scratch").rglob("*.jsonl"))  # the working copy went away
    user, _, _ = create_user(username="reader", role="consumer", project=project)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user=user)}")
    url = f"/api/v1/datasets/{version.pk}/download?format=trl-preference"
    whole = client.get(url)
    body = b"".join(whole.streaming_content)
    assert whole.status_code == 200 and whole["ETag"] == f'"{hashlib.sha256(body).hexdigest()}"'
    assert body == on_s3.read(f"{version.storage_prefix}/trl-preference.all.jsonl")
    tail = client.get(url, HTTP_RANGE="bytes=100-", HTTP_IF_RANGE=whole["ETag"])
    assert tail.status_code == 206 and b"".join(tail.streaming_content) == body[100:]
    parquet = client.get(f"/api/v1/datasets/{version.pk}/download?format=raw&type=parquet")
    assert parquet.status_code == 200 and f"{version.storage_prefix}/raw.all.parquet" in on_s3.keys("datasets/")
    settings.STORAGE_REDIRECT_DOWNLOADS = True
    moved = client.get(url)
    assert moved.status_code == 302 and moved["Location"].startswith(on_s3.endpoint) and moved["ETag"] == whole["ETag"]
    settings.STORAGE_REDIRECT_DOWNLOADS = False
    on_s3.stop()  # the store goes away: a download says so (503), it does not crash (500)
    down = client.get(url)
    assert down.status_code == 503 and down.json()["detail"].startswith("storage: the file store is unreachable")
