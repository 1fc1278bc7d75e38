"""Writes for curation: a project admin edits, re-labels (state, language, task type) or deletes a seed task or a
generated instruction, one at a time or in bulk by filter. Every change is kept as a CurationEvent (who, when, how,
each field old → new) in the same transaction, under the project's pool lock; every change bumps the pool
generation, so each process's near-duplicate index, the batch timelines and the diversity numbers are recounted
(an edited or deleted text must not linger in a cached pool). Dataset versions already built keep their bytes: their
rows were written to files when they were built."""

from __future__ import annotations

from dataclasses import dataclass

from selfinstruct.curation_rules import (
    MAX_BULK_ITEMS,
    CurationError,
    check_kind,
    clean_bulk_action,
    clean_changes,
)
from selfinstruct.curation_selectors import first_example, first_examples
from selfinstruct.filters import Reason
from selfinstruct.models import (
    CurationAction,
    CurationEvent,
    CurationKind,
    GeneratedInstance,
    GeneratedInstruction,
    InstancesStatus,
    InstructionStatus,
    SeedTask,
)
from selfinstruct.pool import invalidate_pool, pool_write_lock
from selfinstruct.taxonomy import taxonomy_for
from selfinstruct.text import conversation_text, instruction_key, normalize_whitespace


@dataclass(frozen=True)
class BulkResult:
    matched: int
    changed: int
    skipped: int
    dry_run: bool = False


def kind_of(item) -> str:
    return CurationKind.SEED if isinstance(item, SeedTask) else CurationKind.INSTRUCTION


def _event(item, action: str, changes: dict, actor, via: str, *, bulk: bool = False) -> CurationEvent:
    return CurationEvent(
        project_id=item.project_id,
        kind=kind_of(item),
        object_id=item.pk,
        action=action,
        changes=changes,
        via=via,
        bulk=bulk,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=getattr(actor, "username", "") or "",
    )


def _seed_key(seed: SeedTask, instruction: str) -> str:
    """As the import keys a seed: its instruction, and for a conversation the turns before it."""
    first = seed.instances[0] if seed.instances and isinstance(seed.instances[0], dict) else {}
    return instruction_key(conversation_text(first.get("system", ""), first.get("history", []), instruction, ""))


def _pool_holder(project_id: int, key: str, *, seed_id=None, instruction_id=None) -> str | None:
    """Which other pool item has this exact-duplicate key ("seed #3", "instruction #9"), if any."""
    seed = SeedTask.objects.filter(project_id=project_id, instruction_key=key).exclude(pk=seed_id).first()
    if seed is not None:
        return f"seed #{seed.pk}"
    accepted = GeneratedInstruction.objects.filter(
        project_id=project_id, instruction_key=key, status=InstructionStatus.ACCEPTED
    ).exclude(pk=instruction_id)
    row = accepted.first()
    return f"instruction #{row.pk}" if row is not None else None


def _apply_seed(seed: SeedTask, clean: dict) -> dict:
    """Set the changed fields on the seed (not saved); {field: [old, new]} of those that changed."""
    diff: dict = {}
    if "instruction" in clean:
        text = normalize_whitespace(clean["instruction"])
        if text != seed.instruction:
            key = _seed_key(seed, text)
            if key != seed.instruction_key:
                holder = SeedTask.objects.filter(project_id=seed.project_id, instruction_key=key).exclude(pk=seed.pk)
                if holder.exists():
                    raise CurationError(f"instruction: seed #{holder.first().pk} already has this instruction")
            diff["instruction"] = [seed.instruction, text]
            seed.instruction, seed.instruction_key = text, key
    example = first_example(seed)
    instances = [dict(i) if isinstance(i, dict) else i for i in (seed.instances or [])]
    for field in ("input", "output"):
        if field in clean and clean[field] != example[field]:
            diff[field] = [example[field], clean[field]]
            if not instances or not isinstance(instances[0], dict):
                instances.insert(0, {"input": "", "output": ""})
            instances[0][field] = clean[field]
    seed.instances = instances
    for field in ("language", "is_classification"):
        if field in clean and clean[field] != getattr(seed, field):
            diff[field] = [getattr(seed, field), clean[field]]
            setattr(seed, field, clean[field])
    return diff


def _apply_instruction(row: GeneratedInstruction, clean: dict, actor) -> tuple[dict, GeneratedInstance | None]:
    """Set the changed fields on the instruction (not saved); the diff, and its first accepted instance when the
    input or output it holds changed (to be saved too)."""
    diff: dict = {}
    if "instruction" in clean and clean["instruction"] != row.instruction:
        diff["instruction"] = [row.instruction, clean["instruction"]]
        row.instruction, row.instruction_key = clean["instruction"], instruction_key(clean["instruction"])
    example = first_example(row)
    instance = example["instance"]
    target = instance if instance is not None else row
    for field in ("input", "output"):
        if field in clean and clean[field] != example[field]:
            diff[field] = [example[field], clean[field]]
            setattr(target, field, clean[field])
    for field in ("language", "task_type"):
        if field in clean and clean[field] != getattr(row, field):
            diff[field] = [getattr(row, field), clean[field]]
            setattr(row, field, clean[field])
    if "status" in clean and clean["status"] != row.status:
        diff["status"] = [row.status, clean["status"]]
        row.status, row.reviewed_by = clean["status"], actor if getattr(actor, "pk", None) else None
        row.reason = "" if row.status == InstructionStatus.ACCEPTED else Reason.REVIEWER
    if row.status == InstructionStatus.ACCEPTED and ("instruction" in diff or "status" in diff):
        holder = _pool_holder(row.project_id, row.instruction_key, instruction_id=row.pk)
        if holder is not None:
            field = "instruction" if "instruction" in diff else "status"
            raise CurationError(f"{field}: the pool already holds the same instruction ({holder})", code="conflict")
    return diff, (instance if instance is not None and {"input", "output"} & set(diff) else None)


def edit_item(*, item, changes: dict, actor=None, via: str = "") -> CurationEvent | None:
    """Change a seed task's or a generated instruction's fields (`curation_rules.EDITABLE`); the input and output
    are its first example's (`first_example`). Returns the change recorded, or None when nothing changed."""
    kind = kind_of(item)
    task_types = taxonomy_for(item.project).keys() if "task_type" in (changes or {}) else ()
    clean = clean_changes(kind, changes, task_types=task_types)
    with pool_write_lock(item.project_id):
        fresh = type(item).objects.select_for_update().filter(pk=item.pk).first()
        if fresh is None:
            raise CurationError(f"{kind}: it was deleted meanwhile", code="not_found")
        if kind == CurationKind.SEED:
            diff, instance = _apply_seed(fresh, clean), None
        else:
            diff, instance = _apply_instruction(fresh, clean, actor)
        if not diff:
            return None
        fresh.save()
        if instance is not None:
            instance.save(update_fields=["input", "output"])
        action = CurationAction.EDIT
        if set(diff) == {"status"}:
            action = CurationAction.ACCEPT if fresh.status == InstructionStatus.ACCEPTED else CurationAction.REJECT
        event = _event(fresh, action, diff, actor, via)
        event.save()
        invalidate_pool(item.project_id)
    return event


def _snapshot(item, example: dict | None = None) -> dict:
    """A deleted item's fields as they were, as {field: [old, None]}."""
    example = example or first_example(item)
    fields = {"instruction": item.instruction, "input": example["input"], "output": example["output"]}
    fields["language"] = item.language
    if isinstance(item, SeedTask):
        fields.update(source=item.source, external_id=item.external_id)
    else:
        fields.update(status=item.status, task_type=item.task_type, batch=item.batch_id)
    return {key: [value, None] for key, value in fields.items()}


def _deletable(row) -> bool:
    """A generated instruction whose instances a lane is writing right now stays until the lane is done."""
    return not (isinstance(row, GeneratedInstruction) and row.instances_status == InstancesStatus.WORKING)


def delete_item(*, item, actor=None, via: str = "") -> CurationEvent:
    """Delete a seed task or a generated instruction (with its instances and scores): it leaves the pool and every
    dataset version built from now on; its history stays, the deletion last with the fields it had."""
    with pool_write_lock(item.project_id):
        fresh = type(item).objects.select_for_update().filter(pk=item.pk).first()
        if fresh is None:
            raise CurationError(f"{kind_of(item)}: it was deleted meanwhile", code="not_found")
        if not _deletable(fresh):
            raise CurationError(
                "instruction: a lane is writing its instances right now; try again later", code="conflict"
            )
        event = _event(fresh, CurationAction.DELETE, _snapshot(fresh), actor, via)
        event.save()
        fresh.delete()
        invalidate_pool(item.project_id)
    return event


def bulk_curate(
    *, project, kind: str, rows, action: str, value: str = "", actor=None, via: str = "", dry_run: bool = False
) -> BulkResult:
    """Apply one action to the selected items (a queryset of the project's, `items_for_curation`): set_language,
    set_task_type, accept, reject or delete. At most MAX_BULK_ITEMS at once, in one transaction, one history row per
    item changed (written together). Items it would not change (already so), accepting an exact duplicate of a
    pool item, or deleting an instruction a lane is working on, are skipped. `dry_run`: count only."""
    check_kind(kind)
    task_types = taxonomy_for(project).keys() if action == "set_task_type" else ()
    value = clean_bulk_action(kind, action, value, task_types=task_types)
    rows = rows.filter(project=project)
    matched = rows.count()
    if matched > MAX_BULK_ITEMS:
        raise CurationError(f"filter: {matched} items match, at most {MAX_BULK_ITEMS} per action; narrow the filter")
    if dry_run:
        return BulkResult(matched=matched, changed=len(_to_change(rows, action, value)), skipped=0, dry_run=True)
    with pool_write_lock(project.pk):
        items = list(rows.select_for_update().order_by("id"))
        targets = _to_change(items, action, value)
        changed, events = _bulk_apply(project, kind, targets, action, value, actor, via)
        CurationEvent.objects.bulk_create(events, batch_size=1000)
        if changed:
            invalidate_pool(project.pk)
    return BulkResult(matched=matched, changed=len(changed), skipped=len(targets) - len(changed))


def _to_change(rows, action: str, value: str) -> list:
    """The items the action would change (those already so are left out)."""
    if action == "set_language":
        return [row for row in rows if row.language != value]
    if action == "set_task_type":
        return [row for row in rows if row.task_type != value]
    if action in ("accept", "reject"):
        state = InstructionStatus.ACCEPTED if action == "accept" else InstructionStatus.REJECTED
        return [row for row in rows if row.status != state]
    return list(rows)


def _bulk_apply(project, kind: str, targets: list, action: str, value: str, actor, via: str):
    model = SeedTask if kind == CurationKind.SEED else GeneratedInstruction
    changed, events = [], []
    if action in ("set_language", "set_task_type"):
        field = "language" if action == "set_language" else "task_type"
        for row in targets:
            events.append(
                _event(row, CurationAction.EDIT, {field: [getattr(row, field), value]}, actor, via, bulk=True)
            )
            changed.append(row.pk)
        model.objects.filter(pk__in=changed).update(**{field: value})
    elif action == "reject":
        for row in targets:
            events.append(
                _event(row, CurationAction.REJECT, {"status": [row.status, "rejected"]}, actor, via, bulk=True)
            )
            changed.append(row.pk)
        model.objects.filter(pk__in=changed).update(
            status=InstructionStatus.REJECTED, reason=Reason.REVIEWER, reviewed_by=_user(actor)
        )
    elif action == "accept":
        keys = set(SeedTask.objects.filter(project=project).values_list("instruction_key", flat=True))
        keys |= set(
            GeneratedInstruction.objects.filter(project=project, status=InstructionStatus.ACCEPTED).values_list(
                "instruction_key", flat=True
            )
        )
        for row in targets:
            if row.instruction_key in keys:
                continue  # an exact duplicate of a pool item (or of one accepted just before it)
            keys.add(row.instruction_key)
            events.append(
                _event(row, CurationAction.ACCEPT, {"status": [row.status, "accepted"]}, actor, via, bulk=True)
            )
            changed.append(row.pk)
        model.objects.filter(pk__in=changed).update(
            status=InstructionStatus.ACCEPTED, reason="", reviewed_by=_user(actor)
        )
    elif action == "delete":
        examples = first_examples(targets)
        for row in targets:
            if _deletable(row):
                snapshot = _snapshot(row, examples.get(row.pk))
                events.append(_event(row, CurationAction.DELETE, snapshot, actor, via, bulk=True))
                changed.append(row.pk)
        model.objects.filter(pk__in=changed).delete()
    return changed, events


def _user(actor):
    return actor if getattr(actor, "pk", None) else None
