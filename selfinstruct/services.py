"""Writes for seed tasks (imports into the pool), prompt templates, review of generated instructions (which
invalidates every process's cached pool) and the difficulty scores a run computed. Generation itself: `batches`
(start, pause, resume, cancel, restart lanes), `engine` (one request of one lane: prompt, budget, parse, filter,
near-duplicate check, accept), and `instances` (Self-Instruct's second stage)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from core.uploads import spool
from selfinstruct.filters import Reason
from selfinstruct.models import (
    DifficultyScore,
    GeneratedInstruction,
    InstructionStatus,
    PromptTemplate,
    SeedTask,
)
from selfinstruct.pool import invalidate_pool, locked_pool
from selfinstruct.seeds import check_seed_file, iter_seed_file
from selfinstruct.templates_builtin import BUILTINS
from selfinstruct.text import detect_language, instruction_key, normalize_whitespace

SEED_BATCH = 500  # seed rows written per INSERT while a file is imported
DUPLICATE_IDS_SHOWN = 20  # source ids a duplicate-id warning lists before "and N more"


@dataclass(frozen=True)
class ImportResult:
    created: int
    duplicates: int
    by_language: dict[str, int]
    duplicate_ids: tuple[str, ...] = ()  # source ids of imported rows that an earlier row or seed already had

    @property
    def duplicate_ids_warning(self) -> str:
        """The warning for seeds imported under a source id the project already had ("" when none did)."""
        if not self.duplicate_ids:
            return ""
        shown = ", ".join(self.duplicate_ids[:DUPLICATE_IDS_SHOWN])
        more = len(self.duplicate_ids) - DUPLICATE_IDS_SHOWN
        n = len(self.duplicate_ids)
        subject = "1 imported seed shares" if n == 1 else f"{n} imported seeds share"
        return f"{subject} a source id with another seed: {shown}" + (f" and {more} more" if more > 0 else "")


def import_seed_upload(*, project, upload, fmt: str = "auto") -> ImportResult:
    """Import an uploaded file (admin form or API): spooled to a private temp file under a safe name (never the
    client's own), then imported all or nothing."""
    with spool([upload]) as [(path, shown)]:
        return import_seed_file(project=project, path=path, display_name=shown, fmt=fmt)


def import_seed_file(*, project, path: Path, display_name: str | None = None, fmt: str = "auto") -> ImportResult:
    """Import a seed file (Self-Instruct/BELLE JSONL, Alpaca JSON list, CSV) into the project, all or nothing.

    Exact duplicates (whitespace-normalized, case-folded instruction), within the file or against the project's
    existing seeds, are skipped and counted. A row imported under a source id that an earlier row of the file or a
    seed already in the project has (two seed files both numbering from seed_task_0) is imported and its id
    reported in `duplicate_ids`. The language is the instruction's own (`detect_language`), not its answers'.
    Raises SeedFileError naming file, line and field. The file is read twice, a row at a time (checked whole, then
    written in batches), so memory never holds the whole file.
    """
    check_seed_file(Path(path), fmt=fmt, display_name=display_name)
    source = (display_name or Path(path).name)[:200]
    created, duplicates, by_language, duplicate_ids = 0, 0, {}, []
    with locked_pool(project.pk):
        seen = set(SeedTask.objects.filter(project=project).values_list("instruction_key", flat=True))
        seen_ids = set(
            SeedTask.objects.filter(project=project).exclude(external_id="").values_list("external_id", flat=True)
        )
        batch = []
        for row in iter_seed_file(Path(path), fmt=fmt, display_name=display_name):
            key = instruction_key(row.key_text)
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            if row.external_id:
                if row.external_id in seen_ids:
                    duplicate_ids.append(row.external_id)
                seen_ids.add(row.external_id)
            language = detect_language(row.instruction)
            by_language[language] = by_language.get(language, 0) + 1
            batch.append(
                SeedTask(
                    project=project,
                    external_id=row.external_id,
                    name=row.name,
                    instruction=normalize_whitespace(row.instruction),
                    instruction_key=key,
                    instances=row.instances,
                    is_classification=row.is_classification,
                    language=language,
                    source=source,
                )
            )
            if len(batch) >= SEED_BATCH:
                created += len(SeedTask.objects.bulk_create(batch))
                batch = []
        created += len(SeedTask.objects.bulk_create(batch))
    return ImportResult(
        created=created, duplicates=duplicates, by_language=by_language, duplicate_ids=tuple(duplicate_ids)
    )


# --- Templates -------------------------------------------------------------------------------------------------


def ensure_builtin_templates() -> None:
    """Create the built-in templates if missing; edits made in the admin are kept."""
    for name, spec in BUILTINS.items():
        PromptTemplate.objects.get_or_create(name=name, defaults={**spec, "is_builtin": True})


def get_template(*, name: str) -> PromptTemplate:
    ensure_builtin_templates()
    template = PromptTemplate.objects.filter(name=name).first()
    if template is None:
        names = ", ".join(PromptTemplate.objects.values_list("name", flat=True))
        raise BatchError(f"template: no template named {name!r} (have: {names})")
    return template


def save_template(*, template: PromptTemplate) -> PromptTemplate:
    """Save an edited template as a new version (batches keep the snapshot they started with)."""
    if template.pk:
        template.version = PromptTemplate.objects.get(pk=template.pk).version + 1
    template.full_clean()
    template.save()
    return template


def template_snapshot(template: PromptTemplate) -> dict:
    return {
        "name": template.name,
        "version": template.version,
        "method": template.method,
        "body": template.body,
        "topic_line": template.topic_line,
        "num_demos": template.num_demos,
        "num_machine_demos": template.num_machine_demos,
        "num_tasks": template.num_tasks,
    }


# --- Batches ---------------------------------------------------------------------------------------------------


class BatchError(ValueError):
    """A batch that cannot be started or changed, with the field or state at fault."""


def review_instructions(*, instructions, accept: bool, reviewer) -> tuple[int, int]:
    """Bulk accept or reject (admin review). Accepting an exact duplicate of an accepted row is skipped.
    Returns (changed, skipped)."""
    changed = skipped = 0
    for row in instructions:
        with locked_pool(row.project_id) as pool:
            if accept:
                if row.status == InstructionStatus.ACCEPTED:
                    continue
                if row.instruction_key in pool.keys:
                    skipped += 1
                    continue
                GeneratedInstruction.objects.filter(pk=row.pk).update(
                    status=InstructionStatus.ACCEPTED, reason="", reviewed_by=reviewer
                )
            else:
                if row.status == InstructionStatus.REJECTED:
                    continue
                GeneratedInstruction.objects.filter(pk=row.pk).update(
                    status=InstructionStatus.REJECTED, reason=Reason.REVIEWER, reviewed_by=reviewer
                )
            invalidate_pool(row.project_id)  # every process's index rebuilds on its next use
            changed += 1
    return changed, skipped


# --- Difficulty scores ----------------------------------------------------------------------------------------


def store_task_tags(*, tags: dict[int, tuple[str, str, str]]) -> None:
    """Keep the tagger's (task type, root verb, object) of instructions; a later tagging replaces an earlier one."""
    with transaction.atomic():
        for iid, (task_type, verb, obj) in tags.items():
            GeneratedInstruction.objects.filter(pk=iid).update(task_type=task_type, root_verb=verb, root_object=obj)


def store_difficulty_scores(*, scorer: str, scores: dict[int, dict]) -> int:
    """Keep `scorer`'s scores of instructions ({instruction id: {ppl_instruction, ppl_response,
    ppl_response_given, ifd}}); a score already stored for an instruction stays (a rerun repeats nothing).
    Returns how many were new."""
    rows = [
        DifficultyScore(
            instruction_id=iid,
            scorer=scorer,
            **{k: (v if v is None or math.isfinite(v) else None) for k, v in values.items()},
        )
        for iid, values in scores.items()
    ]
    with transaction.atomic():
        before = DifficultyScore.objects.filter(scorer=scorer, instruction_id__in=list(scores)).count()
        DifficultyScore.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows) - before
