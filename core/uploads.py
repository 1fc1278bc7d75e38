"""Uploaded files on the server's disk: never under the name the client chose.

A client's file name can be anything: 250 CJK characters (750 bytes, over the 255-byte limit of most file
systems), a path (`../../x`), control characters, or the same name as another file of the same upload — which,
written into one folder, would silently replace it. `spool` writes each upload into its own private folder under
a bounded, cleaned version of its name (the suffix kept, so formats are still told by it), and hands back
(path, shown name) pairs; the shown name is for messages and records only.
"""

from __future__ import annotations

import contextlib
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

MAX_NAME_BYTES = 120  # well under the 255-byte file-name limit, with room for the suffix
MAX_SHOWN_CHARS = 200


def _last_part(name: str | None) -> str:
    raw = PureWindowsPath(PurePosixPath(name or "").name).name
    cleaned = "".join(ch for ch in raw if unicodedata.category(ch)[0] != "C").strip()
    return "" if cleaned in (".", "..") else cleaned


def shown_name(name: str | None) -> str:
    """The client's name, reduced to its last path part, printable and at most MAX_SHOWN_CHARS characters."""
    return _last_part(name)[:MAX_SHOWN_CHARS] or "upload"


def safe_file_name(name: str | None) -> str:
    """A name that is safe on any file system: the client's, its stem cut to fit MAX_NAME_BYTES in UTF-8."""
    shown = _last_part(name) or "upload"
    path = PurePosixPath(shown)
    suffix = path.suffix if 1 < len(path.suffix) <= 10 and path.suffix[1:].isascii() else ""
    stem = shown[: len(shown) - len(suffix)] if suffix else shown
    budget = MAX_NAME_BYTES - len(suffix.encode())
    encoded = stem.encode("utf-8")[:budget].decode("utf-8", "ignore").strip(". ") or "upload"
    return encoded + suffix


@contextlib.contextmanager
def spool(uploads) -> Iterator[list[tuple[Path, str]]]:
    """Write each Django UploadedFile to its own temporary folder; yields [(path, shown name)] in upload order.
    Everything is removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix="upload-") as folder:
        spooled = []
        for number, upload in enumerate(uploads):
            target = Path(folder) / str(number) / safe_file_name(upload.name)
            target.parent.mkdir()
            with target.open("wb") as sink:
                for chunk in upload.chunks():
                    sink.write(chunk)
            spooled.append((target, shown_name(upload.name)))
        yield spooled
