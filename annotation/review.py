"""The review stage's writes (issue 37): a reviewer accepts a task's consensus, rejects one labeler's ranking (with
the reason that labeler then reads), or writes the adjudicated order, which becomes the task's consensus. Each
decision is kept as a Review row (who, when, why) and names the task's `review_version` it was made on: a decision
on an older version — another reviewer acted first — is refused as a conflict, never applied over theirs. The
project's review policy (which tasks the queue holds) is set here too; annotation/review_selectors.py reads."""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from annotation import ranking_rules as rules
from annotation.consensus import add_rankings_needed, refresh_consensus
from annotation.models import Consensus, Ranking, RankingTask, ReviewPolicy, ReviewState
from annotation.rankings import RankingError, normalize_ranking
from annotation.review_models import Review, ReviewDecision
from annotation.services import AnnotationError, get_ranking_config, update_ranking_config

# A reviewer's reason, as the API accepts it and the labeler reads it: a few sentences, not an essay.
REASON_MAX_CHARS = 2000

# Recorded on the Consensus row of a task whose order a reviewer wrote (no later ranking replaces it).
ADJUDICATED_METHOD = rules.ADJUDICATED_METHOD


def _version(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise AnnotationError("version: the task's review_version you decided on (an integer ≥ 0)")
    return value


def _reason(value, *, required: bool) -> str:
    if not isinstance(value, str):
        raise AnnotationError("reason: a text")
    value = value.strip()
    if required and not value:
        raise AnnotationError("reason: say why (the labeler reads it)")
    if len(value) > REASON_MAX_CHARS:
        raise AnnotationError(f"reason: at most {REASON_MAX_CHARS} characters, got {len(value)}")
    return value


def _reviewable(task: RankingTask) -> None:
    if task.is_gold:
        raise AnnotationError("task: a gold task is not reviewed (its ranking is the reference)", code="conflict")


def _bump(task: RankingTask, version: int, state: str) -> None:
    """The conditional UPDATE that makes a decision the only one on `version`: 0 rows means someone else acted."""
    won = RankingTask.objects.filter(pk=task.pk, review_version=version).update(
        review_version=F("review_version") + 1, review_state=state
    )
    if not won:
        current = RankingTask.objects.filter(pk=task.pk).values_list("review_version", flat=True).first()
        raise AnnotationError(
            f"version: another reviewer decided on this task first (version {current}, you sent {version}); "
            "reload it and decide again",
            code="conflict",
        )
    task.review_version, task.review_state = version + 1, state


def accept_task(*, task: RankingTask, reviewer, version, reason: str = "") -> Review:
    """The task's consensus stands as it is."""
    version, reason = _version(version), _reason(reason, required=False)
    _reviewable(task)
    with transaction.atomic():
        if not Consensus.objects.filter(task=task).exists():
            raise AnnotationError("task: no consensus to accept yet (no usable ranking)", code="conflict")
        _bump(task, version, ReviewState.ACCEPTED)
        return Review.objects.create(task=task, reviewer=reviewer, decision=ReviewDecision.ACCEPT, reason=reason)


def reject_ranking(*, task: RankingTask, reviewer, version, ranking_id, reason) -> Review:
    """One labeler's ranking stops counting (consensus, agreement, exports); the labeler sees `reason`. The task asks
    for one more ranking and stays in the review queue until a reviewer accepts or adjudicates it."""
    version, reason = _version(version), _reason(reason, required=True)
    _reviewable(task)
    if isinstance(ranking_id, bool) or not isinstance(ranking_id, int):
        raise AnnotationError("ranking: the id of the labeler's ranking to reject")
    with transaction.atomic():
        ranking = Ranking.objects.select_for_update().filter(pk=ranking_id, task=task).first()
        if ranking is None:
            raise AnnotationError(f"ranking: no ranking {ranking_id} in task {task.pk}")
        if ranking.rejected:
            raise AnnotationError(f"ranking: ranking {ranking_id} is rejected already", code="conflict")
        _bump(task, version, ReviewState.QUEUED)
        ranking.rejected, ranking.reject_reason = True, reason
        ranking.save(update_fields=["rejected", "reject_reason"])
        review = Review.objects.create(
            task=task, reviewer=reviewer, decision=ReviewDecision.REJECT, ranking=ranking, reason=reason
        )
        refresh_consensus(task=RankingTask.objects.get(pk=task.pk))
    add_rankings_needed(task=task, extra=1)
    return review


def adjudicate_task(*, task: RankingTask, reviewer, version, order, reason: str = "") -> Review:
    """The reviewer's order becomes the task's consensus (method "adjudicated"); later rankings leave it as it is."""
    version, reason = _version(version), _reason(reason, required=False)
    _reviewable(task)
    config = get_ranking_config(project=task.project)
    try:
        groups = normalize_ranking(order, item_ids=task.completion_ids, allow_ties=config.allow_ties)
    except RankingError as exc:
        raise AnnotationError(f"order: {exc}") from None
    with transaction.atomic():
        _bump(task, version, ReviewState.ADJUDICATED)
        counted = Ranking.objects.filter(task=task, rejected=False).exclude(ranking=[]).count()
        Consensus.objects.update_or_create(
            task=task, defaults={"ranking": groups, "method": ADJUDICATED_METHOD, "n_rankings": counted}
        )
        return Review.objects.create(
            task=task, reviewer=reviewer, decision=ReviewDecision.ADJUDICATE, order=groups, reason=reason
        )


def order_from_labels(text: str, *, completion_ids: list[int]) -> list[list[int]]:
    """An order as a reviewer types it on the page or the CLI: the answers' letters best first, `>` (or a space,
    comma or nothing) between places and `=` joining ties — "B > A = D > C", "BADC". Raises AnnotationError naming
    `order`; whether every answer is there once is normalize_ranking's to say."""
    if not isinstance(text, str) or len(text) > 200:
        raise AnnotationError("order: the answers' letters best first, e.g. B > A = D > C")
    ids = {chr(ord("A") + n): cid for n, cid in enumerate(completion_ids)}
    groups: list[list[int]] = []
    for place in re.split(r"[>,;\s]+", re.sub(r"\s*=\s*", "=", text.strip().upper())):
        group: list[int] = []
        joined = False
        for char in place:
            if char == "=":
                joined = True
                continue
            if char not in ids:
                raise AnnotationError(f"order: {char!r} is not an answer of this task (A–{max(ids)})")
            if group and not joined:  # "BADC": letters side by side are places of their own
                groups.append(group)
                group = []
            group.append(ids[char])
            joined = False
        if group:
            groups.append(group)
    if not groups:
        raise AnnotationError("order: the answers' letters best first, e.g. B > A = D > C")
    _refuse_repeats_and_gaps([cid for group in groups for cid in group], ids)
    return groups


def _refuse_repeats_and_gaps(given: list[int], ids: dict[str, int]) -> None:
    """Every answer once, said in the letters the reviewer typed (normalize_ranking would name completion ids,
    which the page never shows)."""
    letter = {cid: char for char, cid in ids.items()}
    repeated = sorted({letter[cid] for cid in given if given.count(cid) > 1})
    if repeated:
        raise AnnotationError(_("order: %(letters)s more than once") % {"letters": ", ".join(repeated)})
    missing = sorted(char for char, cid in ids.items() if cid not in given)
    if missing:
        raise AnnotationError(
            _("order: %(letters)s left out; order all %(n)d answers") % {"letters": ", ".join(missing), "n": len(ids)}
        )


def set_review_policy(*, project, policy=None, sample_rate=None, agreement_below=None):
    """Which completed tasks the review queue holds (annotation/review_selectors.review_queue)."""
    fields = {}
    if policy is not None:
        if policy not in ReviewPolicy.values:
            raise AnnotationError(f"review_policy: one of {ReviewPolicy.values}")
        fields["review_policy"] = policy
    for name, value in (("review_sample_rate", sample_rate), ("review_agreement_below", agreement_below)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise AnnotationError(f"{name}: a number from 0 to 1")
        fields[name] = float(value)
    if not fields:
        return get_ranking_config(project=project)
    return update_ranking_config(project=project, **fields)
