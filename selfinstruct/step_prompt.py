"""A generation step's prompt: the demonstrations (human seeds and machine-generated pool items, or the pool item
an Evol-Instruct step evolves), drawn by a random stream fixed by batch, lane and step, rendered with the template."""

from __future__ import annotations

import random

from django.db.models import Max, Min

from selfinstruct.evolution import MAX_DEPTH, OPERATIONS, render_evolution
from selfinstruct.models import GeneratedInstruction, GenerationBatch, InstructionStatus, Method, SeedTask
from selfinstruct.prompts import BuiltPrompt, Demo, choose_human_demos, render
from selfinstruct.selectors import type_counts
from selfinstruct.taxonomy import taxonomy_for


def _human_demos(batch: GenerationBatch, n: int, rng: random.Random) -> list[Demo]:
    seeds = [
        Demo("seed", seed_id, text, (instances or [{}])[0].get("input", ""), (instances or [{}])[0].get("output", ""))
        for seed_id, text, instances in SeedTask.objects.filter(project=batch.project, language=batch.language)
        .order_by("id")
        .values_list("id", "instruction", "instances")
    ]
    return choose_human_demos(seeds, n, rng, batch.topic)


def _machine_demos(batch: GenerationBatch, n: int, rng: random.Random) -> list[Demo]:
    pool = GeneratedInstruction.objects.filter(
        project=batch.project, status=InstructionStatus.ACCEPTED, language=batch.language
    )
    bounds = pool.aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        return []
    demos: dict[int, Demo] = {}
    for _ in range(n * 3):
        row = pool.filter(id__gte=rng.randint(bounds["low"], bounds["high"])).order_by("id").first()
        if row and row.id not in demos:
            demos[row.id] = Demo("machine", row.id, row.instruction, row.input, row.output)
        if len(demos) == n:
            break
    return list(demos.values())


def _evolution_parent(batch: GenerationBatch, rng: random.Random) -> Demo | None:
    """A pool item of the batch's language to evolve, uniformly among the seeds and the accepted instructions
    fewer than MAX_DEPTH evolutions from a seed."""
    seeds = SeedTask.objects.filter(project=batch.project, language=batch.language).order_by("id")
    generated = GeneratedInstruction.objects.filter(
        project=batch.project,
        status=InstructionStatus.ACCEPTED,
        language=batch.language,
        evolution_depth__lt=MAX_DEPTH,
    ).order_by("id")
    n_seeds, n_generated = seeds.count(), generated.count()
    if n_seeds + n_generated == 0:
        return None
    pick = rng.randrange(n_seeds + n_generated)
    if pick < n_seeds:
        seed = seeds.values_list("id", "instruction")[pick]
        return Demo("seed", seed[0], seed[1])
    row = generated.values_list("id", "instruction")[pick - n_seeds]
    return Demo("machine", row[0], row[1])


def build_prompt(batch: GenerationBatch, lane: int, step: int) -> BuiltPrompt:
    snapshot = batch.template_snapshot
    rng = random.Random(f"{batch.seed}:{batch.pk}:{lane}:{step}")
    if snapshot["method"] == Method.EVOL_INSTRUCT:
        parent = _evolution_parent(batch, rng)
        if parent is None:
            raise ValueError(f"project {batch.project_id} has no {batch.language} instruction to evolve")
        operation = rng.choice(OPERATIONS)
        text = render_evolution(
            snapshot["body"], parent=parent.instruction, operation=operation, language=batch.language
        )
        return BuiltPrompt(text=text, demos=[parent], stop=[], first_number=1, evolution=operation)
    machine = _machine_demos(batch, snapshot["num_machine_demos"], rng) if snapshot["num_machine_demos"] else []
    human = _human_demos(batch, snapshot["num_demos"] - len(machine), rng)
    demos = human + machine
    if snapshot["method"] == Method.SELF_INSTRUCT:
        rng.shuffle(demos)
    steer = ""
    if batch.type_quotas:
        taxonomy = taxonomy_for(batch.project_id)
        steer = taxonomy.steering_line(batch.language, type_counts(batch=batch), batch.type_quotas)
    return render(snapshot, demos=demos, language=batch.language, topic=batch.topic, steer=steer)
