"""Quality guardrails (issue 37): a labeler whose gold accuracy or reliability falls under the project's minimum
(RankingConfig.min_gold_accuracy / min_reliability) is paused with a message, their claims are refused with it, and a
project admin reinstates them. A project with both minimums at 0 has no guardrails: nothing here runs for it (no
query on the labelers' hot calls), and a labeler paused earlier may claim again while they stay off.

A labeler is judged on their recent work only (the last WINDOW rankings since they were last reinstated, so a
reinstatement is a fresh start), once they have MIN_RANKINGS to judge, every EVERY-th submission: the check reads
two small sets of rows, never the project's whole history."""

from __future__ import annotations

import logging
import statistics
from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from annotation.agreement import leave_one_out_agreements
from annotation.models import LabelerStatus, Ranking, RankingConfig, RankingTask
from annotation.quality_selectors import REASON_LANGUAGES, pause_message
from annotation.rankings import pairwise_agreement
from annotation.services import AnnotationError, get_ranking_config

MIN_RANKINGS = 10  # rankings compared (gold ones for gold accuracy) before a labeler is judged on them
EVERY = 5  # a labeler is judged after every EVERY-th submission in the project
WINDOW = 100  # the most recent rankings judged

logger = logging.getLogger(__name__)


def guarded(config: RankingConfig) -> bool:
    """Whether the project has a guardrail at all (else nothing here runs for it)."""
    return bool(config.min_reliability or config.min_gold_accuracy)


@dataclass(frozen=True)
class Scores:
    """A labeler's recent quality: mean agreement with the others' consensus (leave-one-out) and with gold, each
    with how many rankings it is over (None: no ranking to compare)."""

    reliability: float | None
    reliability_n: int
    gold_accuracy: float | None
    gold_n: int


def recent_scores(*, project, labeler, since=None, window: int = WINDOW) -> Scores:
    """The labeler's scores over their last `window` counted rankings (after `since`, when given), as the
    dashboards measure them (annotation/agreement.py): an ordinary ranking's agreement with the leave-one-out
    consensus of the task's other counted rankings, a gold ranking's pairwise agreement with the known ranking."""
    mine = Ranking.objects.filter(project=project, labeler=labeler, rejected=False).exclude(ranking=[])
    if since is not None:
        mine = mine.filter(created_at__gt=since)
    rows = list(mine.order_by("-id").values_list("id", "task_id", "ranking", "is_gold")[:window])
    plain = [task_id for _, task_id, _, gold in rows if not gold]
    golds = dict(
        RankingTask.objects.filter(pk__in=[t for _, t, _, gold in rows if gold], is_gold=True).values_list(
            "pk", "gold_ranking"
        )
    )
    by_task: dict[int, list] = defaultdict(list)
    for ranking_id, task_id, ranking in (
        Ranking.objects.filter(task_id__in=plain, rejected=False)
        .exclude(ranking=[])
        .order_by("task_id", "id")
        .values_list("id", "task_id", "ranking")
    ):
        by_task[task_id].append((ranking_id, ranking))
    tasks = list(by_task.values())
    own = {ranking_id for ranking_id, _, _, _ in rows}
    reliability = [
        value
        for rankings, values in zip(tasks, leave_one_out_agreements([[r for _, r in t] for t in tasks]), strict=True)
        for (ranking_id, _), value in zip(rankings, values, strict=True)
        if ranking_id in own and value is not None
    ]
    gold = [pairwise_agreement(r, golds[t]) for _, t, r, is_gold in rows if is_gold and golds.get(t)]
    return Scores(
        reliability=round(statistics.fmean(reliability), 4) if reliability else None,
        reliability_n=len(reliability),
        gold_accuracy=round(statistics.fmean(gold), 4) if gold else None,
        gold_n=len(gold),
    )


def _reason(scores: Scores, config: RankingConfig) -> str:
    """Why the scores pause the labeler, in every language of REASON_LANGUAGES ("" when they do not)."""
    lines = []
    for language in REASON_LANGUAGES:
        with translation.override(language):
            parts = []
            if config.min_gold_accuracy and scores.gold_n >= MIN_RANKINGS:
                if scores.gold_accuracy < config.min_gold_accuracy:
                    parts.append(
                        _(
                            "your agreement with the gold rankings is %(value).2f over your last %(n)d gold tasks, "
                            "under this project's minimum of %(minimum).2f"
                        )
                        % {"value": scores.gold_accuracy, "n": scores.gold_n, "minimum": config.min_gold_accuracy}
                    )
            if config.min_reliability and scores.reliability_n >= MIN_RANKINGS:
                if scores.reliability < config.min_reliability:
                    parts.append(
                        _(
                            "your agreement with the other labelers' consensus is %(value).2f over your last %(n)d "
                            "rankings, under this project's minimum of %(minimum).2f"
                        )
                        % {"value": scores.reliability, "n": scores.reliability_n, "minimum": config.min_reliability}
                    )
            if not parts:
                return ""
            lines.append(
                _("You are paused in this project: %(why)s. A project admin can reinstate you.")
                % {"why": _("; ").join(parts)}
            )
    return "\n".join(lines)


def pause_notice(*, project, labeler, config: RankingConfig) -> str | None:
    """The message a paused labeler is shown (in the active language), or None when they are not paused. One
    indexed read, and none at all for a project without guardrails."""
    if not guarded(config):
        return None
    reason = (
        LabelerStatus.objects.filter(project=project, labeler=labeler, paused=True)
        .values_list("reason", flat=True)
        .first()
    )
    if reason is None:
        return None
    return pause_message(reason) or _("You are paused in this project.")


def refuse_if_paused(*, project, labeler, config: RankingConfig) -> None:
    """A claim's check: AnnotationError (403) with the pause message when the labeler is paused in the project."""
    notice = pause_notice(project=project, labeler=labeler, config=config)
    if notice is not None:
        raise AnnotationError(notice, code="forbidden")


def after_submission(*, project, labeler, config: RankingConfig) -> LabelerStatus | None:
    """Judge the labeler after a submission, cheaply: only in a project with guardrails and only every EVERY-th
    submission. `project`: the project or its id. Returns their status when this paused them (else None)."""
    if not guarded(config):
        return None
    if Ranking.objects.filter(project=project, labeler=labeler).count() % EVERY:
        return None
    try:
        return evaluate_labeler(project=project, labeler=labeler, config=config)
    except Exception:  # the ranking is stored: a failed judgement must not answer it as failed
        logger.exception("judging labeler %s in project %s failed", labeler.pk, getattr(project, "pk", project))
        return None


def evaluate_labeler(*, project, labeler, config: RankingConfig | None = None, now=None) -> LabelerStatus | None:
    """Judge the labeler now: pause them (with the reason, in every language) when a score over at least
    MIN_RANKINGS recent rankings is under the project's minimum. `project`: the project or its id (then `config`
    is given). Returns the status when this paused them; a labeler already paused stays as they are (None)."""
    config = config or get_ranking_config(project=project)
    if not guarded(config):
        return None
    status = LabelerStatus.objects.filter(project=project, labeler=labeler).first()
    if status is not None and status.paused:
        return None
    since = status.reinstated_at if status is not None else None
    reason = _reason(recent_scores(project=project, labeler=labeler, since=since), config)
    if not reason:
        return None
    try:
        return pause_labeler(project=project, labeler=labeler, reason=reason, now=now)
    except AnnotationError:  # a judgement running at the same moment (two submissions) paused them first
        return None


def evaluate_project(*, project, now=None) -> list[LabelerStatus]:
    """Judge every labeler who ranked in the project (what `manage.py labelers --check` runs, e.g. right after
    the minimums were raised). Returns the statuses of those it paused."""
    labeler_ids = Ranking.objects.filter(project=project).values("labeler_id")
    paused = []
    for labeler in get_user_model().objects.filter(pk__in=labeler_ids).order_by("pk"):
        status = evaluate_labeler(project=project, labeler=labeler, now=now)
        if status is not None:
            paused.append(status)
    return paused


def pause_labeler(*, project, labeler, reason: str, now=None) -> LabelerStatus:
    """Pause the labeler in the project with the reason they are shown. Pausing someone already paused keeps the
    first reason (the second pause is refused as a conflict: nothing is silently overwritten)."""
    now = now or timezone.now()
    changes = {"paused": True, "reason": reason, "paused_at": now}
    if not LabelerStatus.objects.filter(project=project, labeler=labeler, paused=False).update(**changes):
        try:
            with transaction.atomic():
                LabelerStatus.objects.create(project_id=getattr(project, "pk", project), labeler=labeler, **changes)
        except IntegrityError:
            raise AnnotationError(
                _("%(name)s is already paused in this project") % {"name": labeler.username}, code="conflict"
            ) from None
    return LabelerStatus.objects.get(project=project, labeler=labeler)


def reinstate_labeler(*, project, labeler, by, now=None) -> LabelerStatus:
    """An admin lets a paused labeler claim again; they are judged afresh on rankings made from now on. A labeler
    who is not paused (or whom another admin reinstated a moment ago) is a conflict."""
    now = now or timezone.now()
    if not LabelerStatus.objects.filter(project=project, labeler=labeler, paused=True).update(
        paused=False, reinstated_by=by, reinstated_at=now
    ):
        raise AnnotationError(_("%(name)s is not paused in this project") % {"name": labeler.username}, code="conflict")
    return LabelerStatus.objects.get(project=project, labeler=labeler)
