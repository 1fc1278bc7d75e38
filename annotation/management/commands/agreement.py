"""manage.py agreement --project SLUG [--since ISO] [--until ISO] [--json] [--refresh-consensus]

A project's agreement: Krippendorff's α (ordinal) of its rankings and per aspect, and each labeler's reliability
(agreement with the leave-one-out consensus and with gold) with their weight in the weighted consensus. With
--refresh-consensus, every task's agreement and consensus are computed again first (after changing the consensus
method, or to let the weighted consensus follow the labelers' reliability now)."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive, make_aware

from annotation.agreement import project_agreement
from annotation.consensus import refresh_project_consensus
from projects.selectors import get_project_by_slug


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3f}"


class Command(BaseCommand):
    help = "Print a project's agreement: α of its rankings and per aspect, and each labeler's reliability."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("--since", help="only rankings made at or after this moment (ISO 8601)")
        parser.add_argument("--until", help="only rankings made before this moment (ISO 8601)")
        parser.add_argument("--json", action="store_true", help="the report as JSON")
        parser.add_argument(
            "--refresh-consensus", action="store_true", help="compute every task's agreement and consensus again first"
        )

    def handle(self, *args, **o):
        project = get_project_by_slug(slug=o["project"])
        if project is None:
            raise CommandError(f"--project: no project {o['project']!r}")
        window = {name: self._moment(o, name) for name in ("since", "until")}
        if o["refresh_consensus"]:
            done = refresh_project_consensus(project=project)
            if not o["json"]:
                self.stdout.write(f"consensus computed again for {done} task(s)")
        report = project_agreement(project, **window)
        if o["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2, default=str))
            return
        rankings = report["rankings"]
        self.stdout.write(
            f"consensus method: {report['consensus_method']}; rankings α (ordinal): {_fmt(rankings['alpha'])} "
            f"over {rankings['units']} completion(s) ranked by 2+ labelers ({rankings['rankings']} ranking(s))"
        )
        for aspect in report["aspects"]:
            self.stdout.write(
                f"aspect {aspect['key']}: α {_fmt(aspect['alpha'])} over {aspect['units']} completion(s), "
                f"{aspect['ratings']} rating(s)"
            )
        for row in report["labelers"]:
            self.stdout.write(
                f"{row['labeler'] or row['labeler_id']}: reliability {_fmt(row['reliability'])} (weight "
                f"{_fmt(row['weight'])}); with the others' consensus {_fmt(row['consensus_agreement'])} over "
                f"{row['n']}; with gold {_fmt(row['gold_accuracy'])} over {row['gold_n']}"
            )

    @staticmethod
    def _moment(o, name: str):
        raw = o[name]
        if not raw:
            return None
        moment = parse_datetime(raw)
        if moment is None:
            raise CommandError(f"--{name}: {raw!r} is not an ISO 8601 date and time")
        return make_aware(moment) if is_naive(moment) else moment
