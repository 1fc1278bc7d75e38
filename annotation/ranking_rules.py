"""The rules of claiming and ranking a task, in one place: which submissions are accepted, what a ranking stores
(comment, time spent), how long a lease runs, which open task a claim takes next, and when a task is complete.

Both ways of applying them read them from here: the ORM path in annotation/claims.py and its PostgreSQL statements
in annotation/fastpath.py, whose SQL fragments are made from the same definitions as the ORM expressions. Limits are
read when a claim or a submission runs, not copied at import, so tests/annotation/test_fastpath.py can change one
here and see both paths follow it (the API's comment bound, a serializer field, is set when api.py loads).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, OrderBy

from annotation.models import AssignmentStatus, Flag, RankingTask, TaskOrder

# A labeler's note on a ranking: what the API accepts, and what is stored from any other caller (longer is cut).
COMMENT_MAX_CHARS = 5000

# A ranking's time spent is at most this (a tab left open overnight says nothing about the work).
MAX_TIME_SPENT_MS = 6 * 60 * 60 * 1000

# SKIP LOCKED can pass over every open task while other claims hold their rows; a claim tries this often.
CLAIM_ATTEMPTS = 6

# The fast path stores only if the task is unchanged since its read; after this many tries the ORM path (which
# locks the task) answers.
STORE_ATTEMPTS = 3

# The assignment states the fast path's statements read and write, as stored.
HELD = AssignmentStatus.ACTIVE  # a live claim (its lease may have run out until someone recounts the task)
SUBMITTED = AssignmentStatus.SUBMITTED

# How a task's consensus is computed (annotation.rankings.ranked_pairs), as recorded on the Consensus row.
CONSENSUS_METHOD = "ranked_pairs"

# The method of a consensus a reviewer wrote (annotation/review.py): no later ranking replaces it, on either path.
ADJUDICATED_METHOD = "adjudicated"


def submission_error(ranking, flag: str) -> str | None:
    """Why a submission cannot be taken before the task is even read (an unknown flag, nothing ranked or
    flagged); None when it can."""
    if flag not in Flag.values:
        return f"flag: unknown flag {flag!r}; use one of {[f for f in Flag.values if f]}"
    if ranking in (None, []) and not flag:
        return "ranking: rank the completions, or flag the task"
    return None


def stored_comment(comment: str) -> str:
    return comment[:COMMENT_MAX_CHARS]


def time_spent(time_spent_ms, claimed_at: datetime, now: datetime) -> int:
    """What a ranking records as time spent: the client's figure when it gave a usable one, else the time since the
    claim; at most MAX_TIME_SPENT_MS either way."""
    if not (isinstance(time_spent_ms, int) and time_spent_ms >= 0):
        time_spent_ms = int((now - claimed_at).total_seconds() * 1000)
    return min(time_spent_ms, MAX_TIME_SPENT_MS)


def lease_until(config, now: datetime) -> datetime:
    """When a claim made or renewed at `now` lapses (the project's RankingConfig.lease_minutes)."""
    return now + timedelta(minutes=config.lease_minutes)


def rm_hint_shown(*, show_rm_hint: bool, rm_order, is_gold: bool) -> bool:
    """Whether the labeler sees the reward model's order: the project turned hints on, an RM scored the task, and
    it is not a gold task (a hint there would give the answer away)."""
    return bool(show_rm_hint and rm_order and not is_gold)


def is_complete(*, is_gold: bool, rankings_count: int, required: int) -> bool:
    """A task is complete once it has its required rankings; gold tasks never are (they keep being drawn)."""
    return not is_gold and rankings_count >= required


def has_consensus(*, is_gold: bool) -> bool:
    """Whether a task's rankings are combined into a consensus: gold tasks check labelers, not the data."""
    return not is_gold


def is_complete_sql(*, is_gold: str, rankings_count: str, required: str) -> str:
    """is_complete as a SQL expression over the given column expressions."""
    return f"NOT {is_gold} AND {rankings_count} >= {required}"


@dataclass(frozen=True)
class _Key:
    field: str
    descending: bool = False
    nulls_last: bool = False


# Started tasks (highest fill) first in every order, so overlap finishes tasks instead of spreading thin; then the
# project's order. Uncertainty first: the smallest reward-model margin first; tasks no RM has scored come last.
CLAIM_ORDER = {
    TaskOrder.SEQUENTIAL: (_Key("fill", descending=True), _Key("id")),
    TaskOrder.RANDOM: (_Key("fill", descending=True), _Key("shuffle_key"), _Key("id")),
    TaskOrder.UNCERTAINTY: (_Key("fill", descending=True), _Key("rm_margin", nulls_last=True), _Key("id")),
}


def claim_order(task_order: str) -> list[OrderBy]:
    """CLAIM_ORDER for a RankingTask queryset's order_by."""
    return [
        (F(key.field).desc if key.descending else F(key.field).asc)(nulls_last=key.nulls_last or None)
        for key in CLAIM_ORDER[task_order]
    ]


def claim_order_sql(task_order: str, alias: str) -> str:
    """CLAIM_ORDER as an SQL ORDER BY list over the rankingtask table aliased `alias`."""
    columns = {key.field: RankingTask._meta.get_field(key.field).column for key in CLAIM_ORDER[task_order]}
    return ", ".join(
        f"{alias}.{columns[key.field]} {'DESC' if key.descending else 'ASC'}{' NULLS LAST' if key.nulls_last else ''}"
        for key in CLAIM_ORDER[task_order]
    )
