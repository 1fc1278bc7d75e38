"""Writes for seed tasks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from selfinstruct.models import SeedTask
from selfinstruct.seeds import read_selfinstruct_jsonl
from selfinstruct.text import detect_language, instruction_key, normalize_whitespace


@dataclass(frozen=True)
class ImportResult:
    created: int
    duplicates: int
    by_language: dict[str, int]


def import_seed_file(*, project, path: Path, display_name: str | None = None) -> ImportResult:
    """Import a Self-Instruct/BELLE JSONL seed file into the project, all or nothing.

    Exact duplicates (whitespace-normalized, case-folded instruction), within the file or against the project's
    existing seeds, are skipped and counted. Raises SeedFileError naming file, line and field.
    """
    rows = read_selfinstruct_jsonl(Path(path), display_name=display_name)
    source = display_name or Path(path).name
    created, duplicates, by_language = 0, 0, {}
    with transaction.atomic():
        seen = set(SeedTask.objects.filter(project=project).values_list("instruction_key", flat=True))
        batch = []
        for row in rows:
            key = instruction_key(row.instruction)
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            language = detect_language(row.instruction + " " + " ".join(i["output"] for i in row.instances))
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
        SeedTask.objects.bulk_create(batch, batch_size=500)
        created = len(batch)
    return ImportResult(created=created, duplicates=duplicates, by_language=by_language)
