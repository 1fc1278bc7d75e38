"""Where training reads and writes on the server's disk, and how those places are named to users.

Base models come only from the folders a site admin allowed (`TRAINING_MODEL_ROOTS`, default `DATA_DIR/models`):
a user names a checkpoint folder under one of them (`demo-tiny-llama`, `qwen/Qwen2-0.5B`), never an arbitrary
path. A job's own folders (`DATA_DIR/training/<id>`) are never a base model by path: a project builds on its own
earlier jobs through `base_job`, which checks the project. Every refusal reads the same, so the answer says nothing
about what exists on the server. Users see names (`demo-tiny-llama`, `job-12`), never absolute paths.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from django.conf import settings

MAX_NAME_CHARS = 500


class BaseModelNotAllowed(ValueError):
    pass


def jobs_root() -> Path:
    return Path(settings.DATA_DIR).resolve() / "training"


def job_prefix(job) -> str:
    """The job's folder in shared storage (core.storage keys)."""
    return f"training/{job.pk}"


def job_dir(job) -> Path:
    return jobs_root() / str(job.pk)


def model_dir(job) -> Path:
    return job_dir(job) / "model"


def model_roots() -> list[Path]:
    return [Path(root).resolve() for root in settings.TRAINING_MODEL_ROOTS]


def demo_base_model_path() -> Path:
    """Where `load_demo` puts a tiny random Llama, so training can be tried without downloading a model."""
    return Path(settings.DATA_DIR) / "models" / "demo-tiny-llama"


def resolve_base_model(name: str) -> Path:
    """The checkpoint folder (with config.json) that `name` names under an allowed root; BaseModelNotAllowed with
    one message whatever the reason (outside the roots, a job folder, missing, not a checkpoint)."""
    text = (name or "").strip()
    refusal = BaseModelNotAllowed(
        f"base_model: no base model named {text[:100]!r} in the model folders this server allows "
        f"(name a checkpoint folder under them, e.g. demo-tiny-llama, or give base_job)"
    )
    if not text or len(text) > MAX_NAME_CHARS or "\x00" in text:
        raise refusal
    roots, jobs = model_roots(), jobs_root()
    given = Path(text)
    candidates = [given] if given.is_absolute() else [root / given for root in roots]
    for candidate in candidates:
        try:
            real = candidate.resolve()  # symlinks and .. resolved before the containment checks
            allowed = any(real.is_relative_to(root) for root in roots) and not real.is_relative_to(jobs)
            if allowed and (real / "config.json").is_file():
                return real
        except (OSError, RuntimeError):  # a name too long for the file system, a symlink loop
            continue
    raise refusal


def base_model_label(path: str) -> str:
    """What users see for a stored base model path: `job-12` for an earlier job's model, the name under its model
    root, or just the folder's name (for paths stored before the roots existed)."""
    if not path:
        return ""
    real = Path(path)
    jobs = jobs_root()
    if real.is_relative_to(jobs):
        parts = real.relative_to(jobs).parts
        return f"job-{parts[0]}" if parts else real.name
    for root in model_roots():
        if real.is_relative_to(root):
            return str(real.relative_to(root))
    return real.name


def redact_paths(text: str) -> str:
    """Server paths in a text artifact (logs, configs) replaced by placeholders: <jobs>, <models>, <data>, <app>,
    <python>. Longest prefixes first, so the jobs folder inside the data folder reads as <jobs>."""
    prefixes = {str(root): "<models>" for root in model_roots()}
    prefixes.update(
        {
            str(jobs_root()): "<jobs>",
            str(Path(settings.DATA_DIR).resolve()): "<data>",
            str(Path(settings.BASE_DIR).resolve()): "<app>",
            sys.prefix: "<python>",
            sys.base_prefix: "<python>",
        }
    )
    ordered = sorted((p for p in prefixes if len(p) > 1), key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(p) for p in ordered))
    return pattern.sub(lambda m: prefixes[m.group(0)], text)
