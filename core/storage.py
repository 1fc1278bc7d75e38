"""Shared storage for every file one machine writes and another reads: dataset rows and downloads, training
checkpoints, adapters, models, logs and curves.

Django's storage API, `storages["artifacts"]` (settings: `core.env.env_storage`): an S3-compatible bucket through
django-storages when STORAGE_URL (or AWS_STORAGE_BUCKET_NAME) is set, else the local filesystem under DATA_DIR with
the paths files always had there (so one machine needs no server). Keys are POSIX paths
(`datasets/<id>/<token>/rows.jsonl`, `training/<id>/model/config.json`).

What stays on each machine's own disk: SQLite and the embedded broker, locks, the cache, the dedup index, a
training job's working folder while it runs, and the local caches of datasets and models fetched from storage.

Publishing is atomic on both: an S3 object appears only when its (multipart) upload completes, and a local file is
written under a temporary name and renamed. Readers only read keys a database row names after the writer finished
(a dataset version's `storage_prefix`, a job's `artifacts_uploaded_at`), so a writer killed mid-upload leaves
nothing anyone reads.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ConnectionError as _StoreConnectionError
from botocore.exceptions import HTTPClientError as _StoreHTTPError
from django.core.files.storage import FileSystemStorage, storages
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

CHUNK = 1024 * 1024
# The store could not be reached (down, restarting, timing out): requests answer 503, runs go to the reconciler.
UNAVAILABLE = (_StoreConnectionError, _StoreHTTPError)
_PART = 16 * 1024 * 1024  # multipart part size: memory per upload stays at a few parts whatever the file's size


class LocalStorage(FileSystemStorage):
    """The filesystem (one machine, or a shared mount). Keys are paths under `location`."""

    def local_path(self, key: str) -> Path:
        return Path(self.path(key))

    def put_file(self, source: Path, key: str) -> None:
        target = self.local_path(key)
        if Path(source).resolve() == target.resolve():
            return  # written in place (the working folder is the storage folder)
        _copy_atomically(Path(source), target)

    def fetch_file(self, key: str, dest: Path) -> None:
        _copy_atomically(self.local_path(key), dest)

    def iter_range(self, key: str, start: int, length: int) -> Iterator[bytes]:
        with self.local_path(key).open("rb") as handle:
            handle.seek(start)
            left = length
            while left > 0:
                chunk = handle.read(min(CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk

    def keys(self, prefix: str) -> list[str]:
        root = self.local_path(prefix)
        if not root.is_dir():
            return []
        base = Path(self.location).resolve()
        return sorted(
            str(path.resolve().relative_to(base).as_posix())
            for path in root.rglob("*")
            if path.is_file() and not path.name.endswith(".tmp")
        )

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.local_path(prefix), ignore_errors=True)

    def download_url(self, key: str, *, filename: str) -> str | None:
        return None


class ObjectStorage(S3Storage):
    """An S3-compatible bucket. Uploads are multipart (constant memory); reads stream by byte range."""

    def __init__(self, **settings):
        attempts = settings.pop("max_attempts", 5)
        settings.setdefault(
            "client_config",
            # Checksums only where S3 requires them: MinIO, Ceph RGW and older S3 servers reject the newer default.
            Config(
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"max_attempts": attempts, "mode": "standard"},
                s3={"addressing_style": settings.pop("addressing_style", None) or "auto"},
            ),
        )
        settings.setdefault(
            "transfer_config", TransferConfig(multipart_threshold=_PART, multipart_chunksize=_PART, max_concurrency=4)
        )
        super().__init__(**settings)

    def local_path(self, key: str) -> None:
        return None

    def _key(self, key: str) -> str:
        return self._normalize_name(clean_name(key))

    def put_file(self, source: Path, key: str) -> None:
        self.bucket.upload_file(str(source), self._key(key), Config=self.transfer_config)

    def fetch_file(self, key: str, dest: Path) -> None:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        try:
            self.bucket.download_file(self._key(key), str(tmp), Config=self.transfer_config)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def iter_range(self, key: str, start: int, length: int) -> Iterator[bytes]:
        if length <= 0:
            return
        body = self.bucket.Object(self._key(key)).get(Range=f"bytes={start}-{start + length - 1}")["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def keys(self, prefix: str) -> list[str]:
        full = self._key(prefix).rstrip("/") + "/"
        strip = len(self.location.strip("/")) + 1 if self.location.strip("/") else 0
        return sorted(obj.key[strip:] for obj in self.bucket.objects.filter(Prefix=full))

    def delete_prefix(self, prefix: str) -> None:
        self.bucket.objects.filter(Prefix=self._key(prefix).rstrip("/") + "/").delete()

    def download_url(self, key: str, *, filename: str) -> str | None:
        """Presigned, short-lived (STORAGE_URL_EXPIRE_SECONDS); the store answers Range itself."""
        return self.url(key, parameters={"ResponseContentDisposition": f'attachment; filename="{filename}"'})


def store() -> LocalStorage | ObjectStorage:
    return storages["artifacts"]


def _copy_atomically(source: Path, dest: Path) -> None:
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def put_file(source: Path, key: str) -> None:
    store().put_file(Path(source), key)


def put_tree(folder: Path, prefix: str, *, skip=lambda path: False) -> int:
    """Upload every file under `folder` to `prefix/<relative path>`; returns how many."""
    folder = Path(folder)
    count = 0
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not skip(path):
            put_file(path, f"{prefix}/{path.relative_to(folder).as_posix()}")
            count += 1
    return count


def fetch_file(key: str, dest: Path) -> Path:
    store().fetch_file(key, Path(dest))
    return Path(dest)


def fetch_tree(prefix: str, dest: Path) -> int:
    """Download every object under `prefix/` into `dest` (same relative paths); returns how many."""
    count = 0
    for key in store().keys(prefix):
        fetch_file(key, Path(dest) / key[len(prefix.rstrip("/")) + 1 :])
        count += 1
    return count


def exists(key: str) -> bool:
    return store().exists(key)


def size(key: str) -> int:
    return store().size(key)


def read_text(key: str, *, limit: int = 10 * 1024 * 1024) -> str:
    with store().open(key, "rb") as handle:
        return handle.read(limit).decode("utf-8", errors="replace")


def write_text(key: str, text: str) -> None:
    with tempfile.NamedTemporaryFile(delete=False) as handle:
        handle.write(text.encode("utf-8"))
    try:
        put_file(Path(handle.name), key)
    finally:
        os.unlink(handle.name)


def iter_range(key: str, start: int, length: int) -> Iterator[bytes]:
    return store().iter_range(key, start, length)


def download_url(key: str, *, filename: str) -> str | None:
    return store().download_url(key, filename=filename)


def keys(prefix: str) -> list[str]:
    return store().keys(prefix)


def delete_prefix(prefix: str) -> None:
    store().delete_prefix(prefix)


def local_path(key: str) -> Path | None:
    """The key's file on this machine's disk when storage is local (else None: fetch it)."""
    return store().local_path(key)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
