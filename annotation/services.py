"""Writes for a project's ranking setup: its ranking config, prompts (collected from generation and seeds, or
imported), completions imported from files, ranking tasks and gold tasks. The rest of the ranking app's writes live
by use case: `claims` (labelers claim, rank, skip, undo), `consensus` (consensus, flags, reward-model scores),
`sampling` (sampling runs), `judging` (LLM-judge runs)."""

from __future__ import annotations

import logging
import random
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.aspects import AspectError, clean_aspect_definitions
from annotation.duplicates import merge_identical
from annotation.files import AnnotationFileError, PromptRow, iter_completion_file, iter_prompt_list
from annotation.models import (
    MAX_K,
    MIN_K,
    Completion,
    Prompt,
    PromptSource,
    RankingConfig,
    RankingTask,
)
from annotation.rankings import (
    normalize_ranking,
)
from core.errors import ServiceError
from core.uploads import spool
from selfinstruct.selectors import prompt_candidates
from selfinstruct.text import detect_language, instruction_key, prompt_text

logger = logging.getLogger(__name__)


class AnnotationError(ServiceError):
    """A request that cannot be honoured; `code` lets the API choose the status, the message says why."""


# --- Settings -------------------------------------------------------------------------------------------------


def get_ranking_config(*, project) -> RankingConfig:
    """The project's settings, read once per project object (a request reads them several times)."""
    cached = getattr(project, "_ranking_config_cache", None)
    if cached is not None:
        return cached
    config = None
    if type(project).ranking_config.is_cached(project):  # read with the project (select_related)
        config = getattr(project, "ranking_config", None)
    if config is None:
        config, _ = RankingConfig.objects.get_or_create(project=project)
    project._ranking_config_cache = config
    return config


def update_ranking_config(*, project, **fields) -> RankingConfig:
    """Set the given settings; a ValidationError names each field that breaks a rule (the aspects asked with each
    ranking: annotation/aspects.py's)."""
    if "aspects" in fields:
        try:
            fields["aspects"] = clean_aspect_definitions(fields["aspects"])
        except AspectError as exc:
            raise ValidationError({"aspects": [exc.message]}) from None
    config = get_ranking_config(project=project)
    for name, value in fields.items():
        setattr(config, name, value)
    config.full_clean()
    config.save()
    project._ranking_config_cache = config
    return config


def apply_overlap_to_open_tasks(*, project) -> dict:
    """Give every open (not complete, not gold) task the project's current overlap: tasks that already hold that
    many rankings complete now, the others need more (or fewer). Complete tasks stay complete. Returns counts."""
    overlap = get_ranking_config(project=project).overlap
    open_tasks = RankingTask.objects.filter(project=project, is_gold=False, is_complete=False).exclude(required=overlap)
    with transaction.atomic():
        completed = open_tasks.filter(rankings_count__gte=overlap).update(required=overlap, is_complete=True)
        changed = open_tasks.update(required=overlap)
    return {"changed": completed + changed, "completed": completed}


# --- Prompts --------------------------------------------------------------------------------------------------


def prompt_text_key(instruction: str, input_text: str) -> str:
    return instruction_key(prompt_text(instruction, input_text))


def _get_or_create_prompt(project, *, source: str, source_ref: str, instruction: str, input_text: str, **extra):
    prompt, created = Prompt.objects.get_or_create(
        project=project,
        text_key=prompt_text_key(instruction, input_text),
        defaults={
            "source": source,
            "source_ref": source_ref[:200],
            "instruction": instruction,
            "input": input_text,
            "language": extra.get("language") or detect_language(f"{instruction} {input_text}"),
            "category": extra.get("category", "")[:100],
        },
    )
    return prompt, created


def collect_prompts(*, project, sources: tuple[str, ...] = ("generated",)) -> int:
    """Make ranking prompts from accepted generated instructions and/or seeds; returns how many are new."""
    created = 0
    with transaction.atomic():
        for row in prompt_candidates(project=project, sources=sources):
            _, new = _get_or_create_prompt(
                project,
                source=row["source"],
                source_ref=row["source_ref"],
                instruction=row["instruction"],
                input_text=row["input"],
                language=row["language"],
                category=row["category"],
            )
            created += new
    return created


@dataclass
class ImportSummary:
    prompts_created: int = 0
    completions_created: int = 0
    completions_skipped: int = 0
    completions_merged: int = 0  # identical (up to whitespace) to another model's answer: one item with it
    prompts_single_answer: int = 0  # every model gave the same answer: nothing to rank, no task
    tasks_created: int = 0
    models: list[str] = field(default_factory=list)


def import_prompt_list(*, project, path: Path) -> ImportSummary:
    for _ in iter_prompt_list(Path(path)):  # check the whole file first (all or nothing), holding a row at a time
        pass
    summary = ImportSummary()
    with transaction.atomic():
        for row in iter_prompt_list(Path(path)):
            _, new = _prompt_from_row(project, row, PromptSource.IMPORTED)
            summary.prompts_created += new
    return summary


def _prompt_from_row(project, row: PromptRow, source: str):
    return _get_or_create_prompt(
        project,
        source=source,
        source_ref=row.where,
        instruction=row.instruction,
        input_text=row.input,
        category=row.category,
    )


def import_completion_uploads(*, project, uploads) -> ImportSummary:
    """Import uploaded completion files (admin form): each spooled under a safe name of its own, so two files with
    the same name never overwrite each other (their models must still differ: see import_completions)."""
    with spool(uploads) as spooled:
        return import_completions(project=project, paths=[path for path, _ in spooled])


def import_completions(*, project, paths: list[Path], make_tasks: bool = True) -> ImportSummary:
    """Each file = one model's responses keyed by prompt. All files are read and checked before anything is
    written, and everything is written in one transaction. With make_tasks, every prompt that now has ≥ 2 distinct
    imported completions (at most 9; answers identical up to whitespace are one item) gets a ranking task (origin
    "import") if it has none yet.
    Files are read twice, a row at a time (check, then write), so memory never holds a whole file."""
    paths = [Path(p) for p in paths]
    owner: dict[str, Path] = {}
    for path in paths:
        for model in dict.fromkeys(row.model for row in iter_completion_file(path)):
            if owner.setdefault(model, path) != path:  # two files (maybe of the same name) answer for one model
                raise AnnotationFileError(
                    f"{path.name}: model {model!r} is also in {owner[model].name}; each file holds one model's "
                    f"answers — rename one file or give its rows a 'model' field"
                )
    summary = ImportSummary()
    touched: set[int] = set()
    with transaction.atomic():
        for path in paths:
            for row in iter_completion_file(path):
                prompt, new_prompt = _prompt_from_row(project, row.prompt, PromptSource.IMPORTED)
                summary.prompts_created += new_prompt
                _, created = Completion.objects.get_or_create(
                    prompt=prompt,
                    origin_key=f"import:{row.model}"[:200],
                    defaults={"text": row.text, "model": row.model, "source_file": path.name[:300]},
                )
                summary.completions_created += created
                summary.completions_skipped += not created
                touched.add(prompt.pk)
                if row.model not in summary.models:
                    summary.models.append(row.model)
        if make_tasks:
            config = get_ranking_config(project=project)
            for prompt in Prompt.objects.filter(pk__in=touched).order_by("pk"):
                imported = list(prompt.completions.filter(origin_key__startswith="import:").order_by("pk"))
                if len(imported) < MIN_K:
                    continue
                made = make_ranking_task(prompt=prompt, origin="import", completions=imported, required=config.overlap)
                summary.tasks_created += made.created
                summary.completions_merged += made.merged
                summary.prompts_single_answer += made.single_answer
    return summary


# --- Tasks ----------------------------------------------------------------------------------------------------


def create_ranking_task(*, prompt: Prompt, origin: str, completion_ids: list[int], required: int):
    """(task, created). The shown order is shuffled once here and stored, so every labeler sees the same order
    and the order never reveals which model wrote what."""
    order = list(completion_ids)
    random.Random(secrets.randbits(64)).shuffle(order)
    task, created = RankingTask.objects.get_or_create(
        prompt=prompt,
        origin=origin,
        defaults={"project_id": prompt.project_id, "completion_ids": order, "required": required},
    )
    return task, created


@dataclass(frozen=True)
class TaskMade:
    task: RankingTask | None
    created: bool = False
    merged: int = 0  # completions folded into another with the same text
    single_answer: bool = False  # fewer than two distinct answers: no task
    too_many: bool = False  # more than MAX_K distinct answers: no task


def make_ranking_task(*, prompt: Prompt, origin: str, completions: list[Completion], required: int) -> TaskMade:
    """The ranking task of a prompt's completions (in their given order), unless it exists: completions identical up
    to whitespace become one item first (the first stands for them; the others point at it). A prompt left with
    fewer than two distinct answers gets no task, nor one with more than MAX_K. An existing task is left as it is."""
    existing = RankingTask.objects.filter(prompt=prompt, origin=origin).first()
    if existing is not None:
        return TaskMade(task=existing)
    with transaction.atomic():
        distinct = merge_identical(completions)
        merged = len(completions) - len(distinct)
        if len(distinct) < MIN_K:
            return TaskMade(task=None, merged=merged, single_answer=True)
        if len(distinct) > MAX_K:
            return TaskMade(task=None, merged=merged, too_many=True)
        task, created = create_ranking_task(prompt=prompt, origin=origin, completion_ids=distinct, required=required)
    return TaskMade(task=task, created=created, merged=merged)


def set_gold(*, task: RankingTask, ranking) -> RankingTask:
    """Make a task a gold task with a known ranking (groups, best first). Gold tasks are served to every labeler
    once, at the project's gold rate, to score them; their rankings never count as data."""
    groups = normalize_ranking(ranking, item_ids=task.completion_ids, allow_ties=True)
    RankingTask.objects.filter(pk=task.pk).update(is_gold=True, gold_ranking=groups, is_complete=False)
    task.refresh_from_db()
    return task


def make_gold_from_consensus(*, task: RankingTask) -> RankingTask:
    """Make a task gold with its consensus ranking as the known answer (refused while it has none)."""
    from annotation.models import Consensus

    consensus = Consensus.objects.filter(task=task).first()
    if consensus is None:
        raise AnnotationError(f"task: task {task.pk} has no consensus yet (no ranking)", code="conflict")
    return set_gold(task=task, ranking=consensus.ranking)
