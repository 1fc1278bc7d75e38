"""The labelers' two hot calls on PostgreSQL as prepared statements: claiming the next task with everything its
page shows (one statement), and storing a ranking (two, each its own transaction: the task read with the labeler's
claim and the other rankings; then the task's counters, the assignment, the ranking and the consensus, written only
if the task's row is still the version read).

They are the common case of `claims.claim_next_ranking_task` and `claims.submit_ranking` — the same rules, fewer
round trips and no ORM compilation (about a millisecond per query, which is what the API pays on top of DRF). They
take only the plain path and answer None for everything else (gold draws, lapsed leases, a task another claim holds,
resubmissions, expired or skipped assignments, SQLite), which the ORM path then handles as it always has. Every
rule both paths apply (limits, states, order, lease, time spent, completion) comes from annotation/ranking_rules.py
(the questions asked besides the order, from annotation/aspects.py); tests/annotation/test_fastpath.py checks that
the two agree (two labelers, one through each path, on the same tasks).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from django.db import connection

from annotation import ranking_rules as rules
from annotation.agreement import task_pairwise_agreement
from annotation.aspects import AspectError, Questions, clean_answers
from annotation.models import Assignment, Prompt, Ranking, RankingTask
from annotation.rankings import RankingError, normalize_ranking, pairwise_agreement, ranked_pairs
from annotation.services import AnnotationError
from core.sql import first_row_prepared

# A claim's transaction commits without waiting for its WAL record to reach the disk (synchronous_commit off for
# that transaction alone; PostgreSQL's WAL writer flushes it within a fraction of a second). If the database server
# crashes in that window, the newest claims vanish whole — never half: the task's counters go with the assignment —
# and their labelers are told "never assigned to you; ask for the next task" when they submit, which hands them a
# fresh claim. Submissions, the data, still wait for the flush. On this project's 2-core VM, under 50 labelers with
# no think time, backends waiting on the flush (two thirds of them claims) left the CPU 10–20% idle
# (bench/labelers.py). Only when the claim is its own transaction: inside a caller's, the setting would cover the
# caller's writes too.
_LEASE_COMMIT = "set_config('synchronous_commit', 'off', true)"
_CLAIM = """
WITH live AS (
    SELECT a.id FROM annotation_assignment a JOIN annotation_rankingtask t ON t.id = a.task_id
    WHERE a.labeler_id = %(user)s AND a.status = '{held}' AND t.project_id = %(project)s
    ORDER BY a.claimed_at LIMIT 1
), renewed AS (
    UPDATE annotation_assignment a SET lease_expires_at = %(lease)s FROM live
    WHERE a.id = live.id AND a.status = '{held}'
    RETURNING {assignment_a}
), lapsed AS (
    SELECT EXISTS (
        SELECT 1 FROM annotation_rankingtask WHERE project_id = %(project)s AND next_lease_expiry <= %(now)s
        AND NOT is_complete AND NOT is_gold
    ) AS yes
), pick AS (
    SELECT t.id FROM annotation_rankingtask t
    WHERE t.project_id = %(project)s AND NOT t.is_gold AND NOT t.is_complete AND t.fill < t.required
      AND NOT EXISTS (SELECT 1 FROM live) AND NOT (SELECT yes FROM lapsed)
      AND NOT EXISTS (SELECT 1 FROM annotation_assignment x WHERE x.task_id = t.id AND x.labeler_id = %(user)s)
    ORDER BY {order} LIMIT 1
    FOR UPDATE OF t SKIP LOCKED
), claimed AS (
    INSERT INTO annotation_assignment (task_id, labeler_id, status, claimed_at, lease_expires_at)
    SELECT id, %(user)s, '{held}', %(now)s::timestamptz, %(lease)s::timestamptz FROM pick
    ON CONFLICT (task_id, labeler_id) DO NOTHING  -- the same labeler claiming from two tabs: the ORM path answers
    RETURNING {assignment}
), bumped AS (
    UPDATE annotation_rankingtask t
    SET active_count = t.active_count + 1, fill = t.fill + 1,
        next_lease_expiry = LEAST(COALESCE(t.next_lease_expiry, %(lease)s::timestamptz), %(lease)s::timestamptz)
    FROM claimed WHERE t.id = claimed.task_id
    RETURNING t.id
)
SELECT {assignment_a}, {task_t}, {prompt_p},
    {lease_commit},
    (SELECT json_object_agg(c.id, c.text) FROM annotation_completion c
     WHERE c.id = ANY(ARRAY(SELECT e::bigint FROM jsonb_array_elements_text(t.completion_ids) AS e))),
    (SELECT count(*) FROM annotation_ranking r
     WHERE r.project_id = %(project)s AND r.labeler_id = %(user)s AND NOT r.is_gold),
    (SELECT count(*) FROM annotation_rankingtask rt
     WHERE rt.project_id = %(project)s AND NOT rt.is_gold AND NOT rt.is_complete),
    (SELECT count(*) FROM bumped)
FROM (SELECT * FROM renewed UNION ALL SELECT * FROM claimed) a
JOIN annotation_rankingtask t ON t.id = a.task_id
JOIN annotation_prompt p ON p.id = t.prompt_id
"""


@dataclass
class Claimed:
    assignment: Assignment  # with .task (its project and prompt attached)
    completions: dict[int, str] | None  # {completion id: text}; None: not read
    progress: dict[str, int] | None  # the labeler's {done, remaining}; None: not read


def usable(config) -> bool:
    """PostgreSQL, and a claim that can never be a gold draw (those keep the ORM path and its random draws)."""
    return connection.vendor == "postgresql" and not config.gold_rate


def _columns(model, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + connection.ops.quote_name(f.column) for f in model._meta.concrete_fields)


def _instance(model, values):
    """A model instance from a row of _columns(model), as the ORM would load it."""
    fields = model._meta.concrete_fields
    values = [
        f.from_db_value(v, None, connection) if hasattr(f, "from_db_value") else v
        for f, v in zip(fields, values, strict=True)
    ]
    return model.from_db(connection.alias, [f.attname for f in fields], values)


@cache
def _claim_sql(task_order: str, own_transaction: bool) -> str:
    return _CLAIM.format(
        order=rules.claim_order_sql(task_order, "t"),
        held=rules.HELD,
        lease_commit=_LEASE_COMMIT if own_transaction else "NULL",
        assignment=_columns(Assignment),
        assignment_a=_columns(Assignment, "a"),
        task_t=_columns(RankingTask, "t"),
        prompt_p=_columns(Prompt, "p"),
    )


def claim(*, project, labeler, config, now) -> Claimed | None:
    """The labeler's live assignment (lease renewed) or a fresh claim on the project's next open task, or None when
    the plain path does not apply (no open task it may take, lapsed leases to recount first, a race lost)."""
    lease = rules.lease_until(config, now)
    sql = _claim_sql(config.task_order, not connection.in_atomic_block)
    row = first_row_prepared(sql, {"user": labeler.pk, "project": project.pk, "now": now, "lease": lease})
    if row is None:
        return None
    n_a, n_t, n_p = (len(m._meta.concrete_fields) for m in (Assignment, RankingTask, Prompt))
    assignment = _instance(Assignment, row[:n_a])
    task = _instance(RankingTask, row[n_a : n_a + n_t])
    prompt = _instance(Prompt, row[n_a + n_t : n_a + n_t + n_p])
    _, texts, done, remaining, bumped = row[n_a + n_t + n_p :]
    if bumped:  # the row was read before the claim's own update: the same update, here
        task.active_count += 1
        task.fill += 1
        if task.next_lease_expiry is None or lease < task.next_lease_expiry:
            task.next_lease_expiry = lease
    prompt.project = task.project = project
    task.prompt = prompt
    assignment.task, assignment.labeler = task, labeler
    completions = {int(k): v for k, v in _json(texts).items()}
    return Claimed(assignment, completions, {"done": done, "remaining": remaining})


_READ = """
SELECT t.xmin::text, t.project_id, t.completion_ids, t.is_gold, t.rm_order, t.rm_job_id, coalesce(c.allow_ties, false),
    coalesce(c.show_rm_hint, false),
    coalesce(c.aspects, '[]'::jsonb), coalesce(c.ask_strength, false), coalesce(c.rationale, 'off'),
    c.consensus_method,
    a.id, a.status, a.claimed_at, r.id IS NOT NULL,
    (SELECT coalesce(json_agg(x.ranking ORDER BY x.id), '[]') FROM annotation_ranking x
     WHERE x.task_id = t.id AND x.ranking <> '[]'::jsonb AND NOT x.rejected)
FROM annotation_rankingtask t
LEFT JOIN annotation_rankingconfig c ON c.project_id = t.project_id
LEFT JOIN annotation_assignment a ON a.task_id = t.id AND a.labeler_id = %(user)s
LEFT JOIN annotation_ranking r ON r.assignment_id = a.id
WHERE t.id = %(task)s AND (%(staff)s OR EXISTS (
    SELECT 1 FROM projects_membership m WHERE m.project_id = t.project_id AND m.user_id = %(user)s
    AND m.role = ANY(%(roles)s)))
"""

# Stores only if the task row is still the version _READ saw (its xmin: every write that touches the task's
# counters, its assignments' states or its rankings also updates the row); else nothing, and no row comes back.
_STORE = """
WITH counted AS (
    UPDATE annotation_rankingtask SET active_count = active_count - 1, rankings_count = rankings_count + 1,
        is_complete = {complete}, agreement = %(agreement)s::double precision
    WHERE id = %(task)s AND xmin = %(version)s::xid
    RETURNING id
), finished AS (
    UPDATE annotation_assignment SET status = '{submitted}', finished_at = %(now)s
    WHERE id = %(assignment)s AND EXISTS (SELECT 1 FROM counted)
), stored AS (
    INSERT INTO annotation_ranking (task_id, project_id, labeler_id, assignment_id, ranking, flag, comment,
        time_spent_ms, is_gold, flag_resolved, rm_job_id, rm_agreement, rm_hint_shown, created_at,
        aspects, strengths, rationale, rejected, reject_reason)
    SELECT %(task)s, %(project)s, %(user)s, %(assignment)s, %(ranking)s::jsonb, %(flag)s, %(comment)s, %(spent)s,
        %(gold)s, false, %(rm_job)s, %(rm_agreement)s, %(rm_shown)s, %(now)s::timestamptz,
        %(aspects)s::jsonb, %(strengths)s::jsonb, %(rationale)s, false, ''
    FROM counted
    RETURNING id
), agreed AS (
    INSERT INTO annotation_consensus (task_id, ranking, method, n_rankings, computed_at)
    SELECT %(task)s, %(consensus)s::jsonb, '{method}', %(n)s, %(now)s::timestamptz
    FROM counted WHERE %(consensus)s::jsonb IS NOT NULL
    ON CONFLICT (task_id) DO UPDATE SET ranking = EXCLUDED.ranking, n_rankings = EXCLUDED.n_rankings,
        method = EXCLUDED.method, computed_at = EXCLUDED.computed_at
    WHERE annotation_consensus.method <> '{adjudicated}'
)
SELECT id FROM stored
""".format(
    complete=rules.is_complete_sql(is_gold="is_gold", rankings_count="rankings_count + 1", required="required"),
    submitted=rules.SUBMITTED,
    method=rules.CONSENSUS_METHOD,
    adjudicated=rules.ADJUDICATED_METHOD,
)


class NotFound(Exception):
    """The task does not exist or is in a project the user does not label in."""


def submit(*, task_id: int, labeler, roles, ranking, flag: str, comment: str, time_spent_ms, now, answers=None):
    """(the stored Ranking, True) for a labeler's first submission on a task they hold a live claim on; None for
    every other case (the ORM path answers those); NotFound for a task they may not see; AnnotationError for a
    ranking that does not fit the task.

    Optimistic: the task is read without a lock and the store (one statement, its own transaction) applies only if
    the task's row is still the version read — two round trips and no BEGIN/COMMIT, where locking took four."""
    who = {"task": task_id, "user": labeler.pk, "staff": labeler.is_staff, "roles": list(roles)}
    # A store that finds the task changed since its read (another labeler's submission or claim landed between
    # the two) reads again; after rules.STORE_ATTEMPTS tries the ORM path, which locks the task, answers.
    for _ in range(rules.STORE_ATTEMPTS):
        row = first_row_prepared(_READ, who)
        if row is None:
            raise NotFound
        version, project_id, completion_ids, is_gold, rm_order, rm_job_id, allow_ties, show_hint = row[:8]
        asked = Questions(aspects=_json(row[8]), ask_strength=row[9], rationale=row[10])
        if row[11] not in (None, rules.CONSENSUS_METHOD):  # a weighted consensus needs labelers' weights: ORM path
            return None
        aid, status, claimed_at, has_ranking, others = row[12:]
        completion_ids, rm_order = _json(completion_ids), _json(rm_order)
        groups = []
        if ranking not in (None, []):
            try:
                groups = normalize_ranking(ranking, item_ids=completion_ids, allow_ties=allow_ties)
            except RankingError as exc:
                raise AnnotationError(f"ranking: {exc}") from None
        try:  # the project's questions besides the order (annotation/aspects.py): as the ORM path checks them
            stored_answers = clean_answers(
                questions=asked, completion_ids=completion_ids, groups=groups, flag=flag, answers=answers
            )
        except AspectError as exc:
            raise AnnotationError(str(exc)) from None
        if aid is None or has_ranking or status != rules.HELD:
            return None
        spent = rules.time_spent(time_spent_ms, claimed_at, now)
        comparison = {"rm_job": None, "rm_agreement": None, "rm_shown": False}
        if groups and rm_order:
            shown = rules.rm_hint_shown(show_rm_hint=show_hint, rm_order=rm_order, is_gold=is_gold)
            agreement = pairwise_agreement(groups, [[cid] for cid in rm_order])
            comparison = {"rm_job": rm_job_id, "rm_agreement": agreement, "rm_shown": shown}
        rankings = _json(others) + ([groups] if groups else [])
        consensus = None
        if rules.has_consensus(is_gold=is_gold) and rankings:
            consensus = json.dumps(ranked_pairs(rankings, items=completion_ids))
        values = {
            "task": task_id,
            "version": version,
            "project": project_id,
            "user": labeler.pk,
            "assignment": aid,
            "ranking": json.dumps(groups),
            "flag": flag,
            "comment": rules.stored_comment(comment),
            "spent": spent,
            "gold": is_gold,
            "consensus": consensus,
            "n": len(rankings),
            "agreement": task_pairwise_agreement(rankings) if rules.has_consensus(is_gold=is_gold) else None,
            "now": now,
            "aspects": json.dumps(stored_answers["aspects"]),
            "strengths": json.dumps(stored_answers["strengths"]),
            "rationale": stored_answers["rationale"],
            **comparison,
        }
        stored = first_row_prepared(_STORE, values)
        if stored is not None:
            break
    else:
        return None
    (ranking_id,) = stored
    row = Ranking(
        id=ranking_id,
        task_id=task_id,
        project_id=project_id,
        labeler=labeler,
        assignment_id=aid,
        ranking=groups,
        flag=flag,
        comment=rules.stored_comment(comment),
        time_spent_ms=spent,
        is_gold=is_gold,
        rm_job_id=comparison["rm_job"],
        rm_agreement=comparison["rm_agreement"],
        rm_hint_shown=comparison["rm_shown"],
        created_at=now,
        **stored_answers,
    )
    return row, True


def _json(value):
    return json.loads(value) if isinstance(value, str) else value
