"""The rows of a dataset version as it is built, streamed from the pool (SFT) or the rankings (preference), with
their stats and lineage gathered on the way. A preference pair whose two answers are one text (up to whitespace)
is never written: it teaches nothing; lineage["dropped"]["identical_pair"] counts them."""

from __future__ import annotations

import statistics

from annotation.agreement import aspects_alpha, rankings_alpha
from annotation.duplicates import same_text
from annotation.models import RankingConfig
from annotation.rankings import ordered_pairs, positions
from annotation.review_selectors import adjudicated_count
from annotation.selectors import iter_ranked_tasks
from exports.models import DatasetVersion
from exports.stats import Stats
from exports.task_records import consensus_margin, pair_margin, strength_steps, task_record
from selfinstruct.difficulty_selectors import difficulty_band_ids
from selfinstruct.sft_selectors import iter_sft_examples, sft_instructions, stratified_ids
from selfinstruct.text import conversation_text, prompt_text


def sft_rows(version: DatasetVersion, stats: Stats, lineage: dict):
    f = version.filters
    batches, endpoints, templates, seeds, instructions = set(), set(), set(), set(), set()
    conversations = 0
    depths: dict[str, int] = {}
    band = f.get("difficulty")
    keep = None
    if band:  # generated rows outside the band (or never scored by its scorer) are left out; seeds stay
        keep = difficulty_band_ids(
            project=version.project,
            scorer=band["scorer"],
            metric=band["metric"],
            drop_easiest=band["drop_easiest"],
            drop_hardest=band["drop_hardest"],
        )
        outside = 0
    selection = {
        "project": version.project,
        "batch_ids": f.get("batches"),
        "date_from": f.get("date_from"),
        "date_to": f.get("date_to"),
        "accepted_only": f.get("accepted_only", True),
        "languages": f.get("languages"),
        "evolution": f.get("evolution"),
    }
    stratify, strata = f.get("stratify"), None
    if stratify:  # generated rows of types over their share (or of other types) are left out; seeds stay
        strata, per_type = stratified_ids(
            instructions=sft_instructions(**selection),
            per_type=stratify["per_type"],
            types=stratify.get("types"),
            seed=version.split_seed,
        )
        beyond = 0
    include_seeds = f.get("include_seeds", True) and not f.get("evolution", {}).get("min_depth")
    for example in iter_sft_examples(**selection, include_seeds=include_seeds):
        source = example["source"]
        if keep is not None and source["type"] == "generated" and source["instruction_id"] not in keep:
            outside += 1
            continue
        if strata is not None and source["type"] == "generated" and source["instruction_id"] not in strata:
            beyond += 1
            continue
        if source["type"] == "generated":
            batches.add(source["batch_id"])
            endpoints.add(source["endpoint"])
            templates.add(source["template"])
            instructions.add(source["instruction_id"])
            if "evolution" in source and source["example"] == 0:
                depth = str(source["evolution"]["depth"])
                depths[depth] = depths.get(depth, 0) + 1
        else:
            seeds.add(source["seed_id"])
        system, history = example.get("system", ""), example.get("history", [])
        context = conversation_text(system, history, "", "") if system or history else ""
        stats.length("prompt", context + example["instruction"] + example["input"])
        stats.length("output", example["output"])
        row = {
            "group_id": example["group"],
            "instruction": example["instruction"],
            "input": example["input"],
            "output": example["output"],
            "language": example["language"],
            "category": example["category"],
            "source": source,
        }
        if system or history:  # a turn of a conversation (single-turn rows keep their bytes and hashes)
            row.update(system=system, history=history)
            conversations += 1
        yield row
    lineage.update(
        batches=sorted(batches),
        endpoints=sorted(e for e in endpoints if e),
        templates=sorted(t for t in templates if t),
        generated_instructions=len(instructions),
        seeds=len(seeds),
        seed_ids=sorted(seeds)[:10_000],
        **({"multi_turn_rows": conversations} if conversations else {}),
        **({"evolved_instructions_by_depth": dict(sorted(depths.items()))} if depths else {}),
    )
    if keep is not None:
        lineage["difficulty"] = {**band, "instructions_in_band": len(keep), "rows_left_out": outside}
    if strata is not None:
        lineage["stratify"] = {**stratify, "instructions_per_type": per_type, "rows_left_out": beyond}


def preference_rows(version: DatasetVersion, stats: Stats, lineage: dict, *, write_task=None):
    """The pairs; `write_task` is given each task's record (exports/task_records.py). A margin comes from the
    labeler's preference strength where there is one, else from the rank distance; a pair the labeler called a tie
    (strength tie on every step between the two) is not a preference and is not written (dropped.tie_strength)."""
    f = version.filters
    use_consensus = f.get("consensus", False)
    with_margin = f.get("margin", True)
    config = RankingConfig.objects.filter(project=version.project).first() or RankingConfig()
    below = f.get("disagreement_below", config.review_agreement_below)
    labelers, models, endpoints, runs, rankings, agreements, tasks = set(), set(), set(), set(), 0, [], 0
    identical, tie_strength, disputed, consensus_methods = 0, 0, 0, {}
    margin_from = {"strength": 0, "rank_distance": 0}
    ranked, scored = [], []  # (task id, ranking) and (task id, aspect scores): the version's α
    for task in iter_ranked_tasks(
        project=version.project,
        labelers=f.get("labelers"),
        date_from=f.get("date_from"),
        date_to=f.get("date_to"),
        languages=f.get("languages"),
        categories=f.get("categories"),
        use_consensus=use_consensus,
        min_agreement=f.get("min_agreement"),
    ):
        tasks += 1
        for r in task["raw"]:
            ranked.append((task["task_id"], r.ranking))
            if r.aspects:
                scored.append((task["task_id"], r.aspects))
        if write_task is not None:
            record = task_record(task, disputed_below=below)
            disputed += record["disputed"]
            write_task(record)
        if use_consensus:
            method = task["consensus"].method
            consensus_methods[method] = consensus_methods.get(method, 0) + 1
        labelers.update(task["labelers"])
        rankings += len(task["ranking_ids"])
        if task["agreement"] is not None:
            agreements.append(task["agreement"])
        completions = task["completions"]
        for c in completions.values():
            models.add(c["model"])
            if c["endpoint__name"]:
                endpoints.add(c["endpoint__name"])
            if c["sampling_run_id"]:
                runs.add(c["sampling_run_id"])
            for other in c.get("also_from", []):
                models.add(other["model"])
                if other["endpoint"]:
                    endpoints.add(other["endpoint"])
        prompt = prompt_text(task["instruction"], task["input"])
        by_id = {r.pk: r for r in task["raw"]}
        for ordering in task["orderings"]:
            steps, pos = None, positions(ordering["ranking"])
            if ordering["ranking_id"] is not None:
                steps = strength_steps(ordering["ranking"], by_id[ordering["ranking_id"]].strengths)
            for chosen, rejected, distance in ordered_pairs(ordering["ranking"]):
                if chosen not in completions or rejected not in completions:
                    continue
                if same_text(completions[chosen]["text"], completions[rejected]["text"]):
                    identical += 1  # a task made before identical answers were merged
                    continue
                if steps is not None:
                    strength = pair_margin(pos, steps, chosen, rejected)
                    if strength == 0:
                        tie_strength += 1
                        continue
                else:
                    strength = consensus_margin(task["raw"], chosen, rejected) if use_consensus else None
                margin_from["rank_distance" if strength is None else "strength"] += 1
                margin = float(distance if strength is None else strength)
                stats.length("prompt", prompt)
                stats.length("chosen", completions[chosen]["text"])
                stats.length("rejected", completions[rejected]["text"])
                stats.margins[int(margin) if margin.is_integer() else margin] += 1
                source = {
                    "task_id": task["task_id"],
                    "ranking_id": ordering["ranking_id"],
                    "labeler": ordering["labeler"],
                    "consensus": use_consensus,
                    "chosen_id": chosen,
                    "rejected_id": rejected,
                    "chosen_model": completions[chosen]["model"],
                    "rejected_model": completions[rejected]["model"],
                }
                for side, cid in (("chosen", chosen), ("rejected", rejected)):
                    if completions[cid].get("also_from"):  # only then: other rows keep their bytes and hashes
                        source[f"{side}_also_from"] = completions[cid]["also_from"]
                yield {
                    "group_id": f"prompt-{task['prompt_id']}",
                    "prompt": prompt,
                    "chosen": completions[chosen]["text"],
                    "rejected": completions[rejected]["text"],
                    "margin": margin if with_margin else 0.0,
                    "language": task["language"],
                    "category": task["category"],
                    "source": source,
                }
    lineage.update(
        tasks=tasks,
        rankings=rankings,
        labelers=sorted(labelers),
        models=sorted(models),
        endpoints=sorted(endpoints),
        sampling_runs=sorted(runs),
        from_consensus=use_consensus,
        dropped={"identical_pair": identical, **({"tie_strength": tie_strength} if tie_strength else {})},
        consensus_method=config.consensus_method,
        # the review stage (annotation/review.py): which tasks went to review, and how many orders a reviewer wrote
        review_policy=config.review_policy,
        # the policy's own threshold (a sampled share, an agreement bar), so the version says which tasks it meant
        review_threshold={"sample": config.review_sample_rate, "low_agreement": config.review_agreement_below}.get(
            config.review_policy
        ),
        adjudicated_tasks=adjudicated_count(project=version.project),
        margin_from=margin_from,
        disagreements={"below": below, "tasks": disputed},
        ranking_alpha=_rounded(rankings_alpha(ranked)["alpha"]),
        # {key: {"alpha", "ratings"}}: the project's aspects in its order, then others the rankings scored (asked
        # before the project changed its questions); its keys are the aspects shape's columns
        aspects={
            a["key"]: {"alpha": _rounded(a["alpha"]), "ratings": a["ratings"]}
            for a in aspects_alpha(scored, [d for d in config.aspects or [] if isinstance(d, dict) and "key" in d])
        },
    )
    if consensus_methods:  # what made the consensus rows: the project's method, or a reviewer's order
        lineage["consensus_methods"] = dict(sorted(consensus_methods.items()))
    if agreements:
        lineage["mean_agreement"] = round(statistics.fmean(agreements), 4)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
