"""A real S3-protocol server for the several-machine tests: s3rver (npm, installed by `make test`), which keeps its
objects in a folder, so stopping and starting it is a real restart (moto's server would lose everything)."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.helpers.processes import REPO, free_port
from tests.testenv import REQUIRE_SERVICES

S3RVER = REPO / "node_modules" / ".bin" / "s3rver"
BUCKET = "idp-test"
KEY = "S3RVER"  # s3rver's own access key and secret


def is_shared() -> bool:
    """Whether files go to an object store other machines reach (else this machine's DATA_DIR)."""
    from core import storage

    return isinstance(storage.store(), storage.ObjectStorage)


def require_s3rver() -> None:
    if S3RVER.exists():
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {S3RVER} is missing (make s3server needs npm)")
    pytest.skip("s3rver is not installed (make s3server needs npm)")


class S3Server:
    def __init__(self, folder: Path):
        self.folder, self.port, self.proc = Path(folder), free_port(), None
        self.prefix = f"run-{uuid.uuid4().hex[:8]}"  # one test's objects, apart from any other's
        self.log = Path(tempfile.mkstemp(prefix="s3rver-", suffix=".log")[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """What every machine is given to share this storage (keys through the environment only)."""
        return {
            "STORAGE_URL": f"s3://{BUCKET}/{self.prefix}?endpoint_url={self.endpoint}&region=us-east-1"
            "&addressing_style=path",
            "AWS_ACCESS_KEY_ID": KEY,
            "AWS_SECRET_ACCESS_KEY": KEY,
        }

    def start(self) -> None:
        with self.log.open("a") as sink:
            self.proc = subprocess.Popen(
                [str(S3RVER), "-a", "127.0.0.1", "-p", str(self.port), "-d", str(self.folder)]
                + ["--configure-bucket", BUCKET],
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.endpoint, timeout=1).close()
                return
            except urllib.error.HTTPError:
                return  # it answers (403 for an anonymous listing)
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError(f"s3rver exited: {self.log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        raise AssertionError("s3rver did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=KEY,
            aws_secret_access_key=KEY,
            region_name="us-east-1",
            config=Config(
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                s3={"addressing_style": "path"},
            ),
        )

    def keys(self, under: str = "") -> list[str]:
        prefix = f"{self.prefix}/{under}"
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return sorted(obj["Key"][len(self.prefix) + 1 :] for page in pages for obj in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client().get_object(Bucket=BUCKET, Key=f"{self.prefix}/{key}")["Body"].read()


@pytest.fixture
def s3_server(tmp_path):
    require_s3rver()
    server = S3Server(tmp_path / "s3rver")
    server.start()
    try:
        yield server
    finally:
        server.stop()
