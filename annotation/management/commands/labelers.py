"""manage.py labelers --project SLUG [--reinstate USERNAME [--by ADMIN]] [--check] [--json]

Every labeler's standing in the project — paused by a quality guardrail or not, why, their reliability and gold
accuracy — and what admins do about it: --reinstate lets a paused labeler claim tasks again (they are judged afresh
from then on); --check judges every labeler now (e.g. right after the project's minimums were raised) and pauses
those under them."""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

from annotation import guardrails, quality_selectors
from annotation.services import AnnotationError, get_ranking_config
from projects.selectors import get_project_by_slug


def _figure(value) -> str:
    return "–" if value is None else f"{value:.3f}"


class Command(BaseCommand):
    help = "List a project's labelers with their standing and quality; reinstate a paused labeler; judge them now."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("--reinstate", metavar="USERNAME", help="let this paused labeler claim tasks again")
        parser.add_argument("--by", metavar="USERNAME", help="the admin recorded as reinstating (default: nobody)")
        parser.add_argument("--check", action="store_true", help="judge every labeler now; pause those under a minimum")
        parser.add_argument("--json", action="store_true", help="print the labelers as JSON")

    def handle(self, *args, **o):
        project = get_project_by_slug(slug=o["project"])
        if project is None:
            raise CommandError(f"--project: no project with slug {o['project']!r}")
        if o["reinstate"]:
            self._reinstate(project, o["reinstate"], o["by"])
        if o["check"]:
            self._check(project)
        rows = quality_selectors.quality_overview(project=project)["labelers"]
        if o["json"]:
            keep = ("labeler", "paused", "reason", "paused_at", "reinstated_by", "reinstated_at")
            keep += ("consensus_agreement", "n", "gold_accuracy", "gold_n", "reliability")
            self.stdout.write(json.dumps([{k: r[k] for k in keep} for r in rows], cls=DjangoJSONEncoder, indent=2))
            return
        config = get_ranking_config(project=project)
        self.stdout.write(
            f"guardrails: min reliability {config.min_reliability:g}, min gold accuracy {config.min_gold_accuracy:g}"
            + ("" if guardrails.guarded(config) else " (off)")
        )
        for r in rows:
            state = "PAUSED" if r["paused"] else "active"
            self.stdout.write(
                f"{r['labeler']:<24} {state:<7} reliability {_figure(r['consensus_agreement'])} ({r['n'] or 0})  "
                f"gold {_figure(r['gold_accuracy'])} ({r['gold_n'] or 0})" + (f"  {r['reason']}" if r["paused"] else "")
            )

    def _reinstate(self, project, username: str, by: str | None) -> None:
        labeler = quality_selectors.get_project_labeler(project=project, username=username)
        if labeler is None:
            raise CommandError(f"--reinstate: {username!r} does not label in {project.slug}")
        admin = None
        if by:
            admin = get_user_model().objects.filter(username=by).first()
            if admin is None:
                raise CommandError(f"--by: no user named {by!r}")
        try:
            guardrails.reinstate_labeler(project=project, labeler=labeler, by=admin)
        except AnnotationError as exc:
            raise CommandError(f"--reinstate: {exc}") from None
        self.stdout.write(f"reinstated {username} in {project.slug}")

    def _check(self, project) -> None:
        paused = guardrails.evaluate_project(project=project)
        for status in paused:
            self.stdout.write(f"paused {status.labeler.username}: {quality_selectors.pause_message(status.reason)}")
        self.stdout.write(f"checked: {len(paused)} labeler(s) paused now")
