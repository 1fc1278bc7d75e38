"""Static files in production: collected before the first page is served, so a start cannot miss `collectstatic`.

Production stores static files with WhiteNoise's manifest storage (hashed names, compressed copies) under
STATIC_ROOT, and every page that names one fails without the manifest. `ensure_collected` runs collectstatic when
the collected files are missing or were collected from other sources (an upgrade), under a file lock so that
several processes starting at once collect once. Gunicorn's master calls it before forking workers
(gunicorn.conf.py, read from the folder gunicorn starts in); config/wsgi.py calls it too for any other server, where
it costs one walk over the source files' sizes and times.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

from django.conf import settings

STAMP_NAME = ".collected"  # in STATIC_ROOT: the fingerprint of the sources it was collected from


def sources_fingerprint() -> str:
    """A digest of every static source file's name, size and modification time, and of the storage used."""
    from django.contrib.staticfiles.finders import get_finders

    entries = []
    for finder in get_finders():
        for path, storage in finder.list(["CVS", ".*", "*~"]):
            stat = os.stat(storage.path(path))
            entries.append(f"{getattr(storage, 'prefix', None) or ''}/{path}\0{stat.st_size}\0{stat.st_mtime_ns}")
    digest = hashlib.sha256(settings.STORAGES["staticfiles"]["BACKEND"].encode())
    for entry in sorted(entries):
        digest.update(entry.encode() + b"\n")
    return digest.hexdigest()


def ensure_collected() -> bool:
    """In production, collect static files unless STATIC_ROOT already holds these sources'; True when it ran."""
    if not settings.PRODUCTION:
        return False  # development serves them from the apps' folders
    from django.core.management import call_command

    root = Path(settings.STATIC_ROOT)
    stamp = root / STAMP_NAME
    fingerprint = sources_fingerprint()
    if _read(stamp) == fingerprint:
        return False
    locks = Path(settings.DATA_DIR) / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / "collectstatic.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be collecting: wait for it, then look again
        if _read(stamp) == fingerprint:
            return False
        call_command("collectstatic", interactive=False, verbosity=0)
        partial = stamp.with_name(STAMP_NAME + ".tmp")
        partial.write_text(fingerprint)
        partial.replace(stamp)
    return True


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None
