"""manage.py review — the review stage from the command line (issue 37):

  review list       --project SLUG [--limit N]             the queue under the project's policy, and its counts
  review show       --project SLUG --task ID               one task: answers, every order, agreement, decisions
  review accept     --project SLUG --task ID [--reason …]  the consensus stands
  review reject     --project SLUG --task ID --ranking ID --reason …   a labeler's ranking stops counting
  review adjudicate --project SLUG --task ID --order "B > A = D > C" [--reason …]   your order is the consensus
  review policy     --project SLUG [--set none|sample|low_agreement|flagged] [--sample-rate X] [--below X]

Decisions are recorded as made by --reviewer (a reviewer or admin of the project; none: an operator's decision)
on the task's current review version, or on --review-version when given (another decision since then: refused)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotation import review, review_selectors
from annotation.models import ReviewPolicy
from annotation.services import AnnotationError, get_ranking_config
from projects.selectors import get_project_by_slug, role_in_project


class Command(BaseCommand):
    help = "List, show and decide the tasks waiting for review; set a project's review policy."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "show", "accept", "reject", "adjudicate", "policy"])
        parser.add_argument("--project", required=True)
        parser.add_argument("--task", type=int)
        parser.add_argument("--ranking", type=int, help="reject: the labeler's ranking id (see `show`)")
        parser.add_argument("--order", help='adjudicate: the answers\' letters best first, e.g. "B > A = D > C"')
        parser.add_argument("--reason", default="", help=f"why (≤ {review.REASON_MAX_CHARS} characters)")
        parser.add_argument("--reviewer", help="username the decision is recorded under")
        parser.add_argument("--review-version", type=int, help="the review version you decided on (default: current)")
        parser.add_argument("--limit", type=int, default=50)
        parser.add_argument("--set", dest="policy", choices=ReviewPolicy.values)
        parser.add_argument("--sample-rate", type=float, help="policy sample: the share of tasks reviewed, 0–1")
        parser.add_argument("--below", type=float, help="policy low_agreement: the agreement threshold, 0–1")

    def handle(self, *args, action, **o):
        project = get_project_by_slug(slug=o["project"])
        if project is None:
            raise CommandError(f"--project: no project with slug {o['project']!r}")
        try:
            getattr(self, f"do_{action}")(project, o)
        except AnnotationError as exc:
            raise CommandError(str(exc)) from None

    def do_list(self, project, o):
        config = get_ranking_config(project=project)
        counts = review_selectors.review_counts(project=project, config=config)
        self.stdout.write(
            f"policy {config.review_policy}: {counts['queued']} waiting, {counts['accepted']} accepted, "
            f"{counts['adjudicated']} adjudicated"
        )
        for task in review_selectors.review_queue(project=project, config=config).select_related("prompt")[
            : max(1, o["limit"])
        ]:
            agreement = "–" if task.agreement is None else f"{task.agreement:.2f}"
            self.stdout.write(
                f"task {task.pk}  agreement {agreement}  rankings {task.rankings_count}  "
                f"{task.prompt.instruction[:70]!r}"
            )

    def do_show(self, project, o):
        view = review_selectors.review_task_view(task=self._task(project, o))
        self.stdout.write(
            f"task {view['task']} (review version {view['review_version']}, state {view['review_state']!r})"
        )
        self.stdout.write(f"prompt: {view['prompt']['instruction'][:200]}")
        for c in view["completions"]:
            self.stdout.write(f"  {c['label']}: {' '.join(c['text'].split())[:100]}")
        agreement = "–" if view["agreement"] is None else f"{view['agreement']:.2f}"
        self.stdout.write(f"agreement between labelers: {agreement}")
        for row in view["orders"]:
            self.stdout.write(f"  {row['source']:13} {row['letters']}  {row['method']}")
        for r in view["rankings"]:
            note = f"  REJECTED: {r['reject_reason']}" if r["rejected"] else ""
            self.stdout.write(f"  ranking {r['id']:<6} {r['labeler']:16} {r['letters'] or '–'}{note}")
        for rec in view["reviews"]:
            self.stdout.write(
                f"  {rec['created_at']:%Y-%m-%d %H:%M} {rec['reviewer'] or '-'} {rec['decision']} {rec['reason']}"
            )

    def do_accept(self, project, o):
        task = self._task(project, o)
        review.accept_task(
            task=task, reviewer=self._reviewer(project, o), version=self._version(task, o), reason=o["reason"]
        )
        self.stdout.write(f"task {task.pk}: accepted (review version {task.review_version})")

    def do_reject(self, project, o):
        task = self._task(project, o)
        if o["ranking"] is None:
            raise CommandError("--ranking: the id of the ranking to reject (see `review show`)")
        review.reject_ranking(
            task=task,
            reviewer=self._reviewer(project, o),
            version=self._version(task, o),
            ranking_id=o["ranking"],
            reason=o["reason"],
        )
        self.stdout.write(f"task {task.pk}: ranking {o['ranking']} rejected; the task asks for one more ranking")

    def do_adjudicate(self, project, o):
        task = self._task(project, o)
        if not o["order"]:
            raise CommandError('--order: the answers\' letters best first, e.g. "B > A = D > C"')
        order = review.order_from_labels(o["order"], completion_ids=task.completion_ids)
        review.adjudicate_task(
            task=task,
            reviewer=self._reviewer(project, o),
            version=self._version(task, o),
            order=order,
            reason=o["reason"],
        )
        self.stdout.write(f"task {task.pk}: adjudicated, its consensus is now {o['order']}")

    def do_policy(self, project, o):
        config = review.set_review_policy(
            project=project, policy=o["policy"], sample_rate=o["sample_rate"], agreement_below=o["below"]
        )
        self.stdout.write(
            f"review policy {config.review_policy}; sample rate {config.review_sample_rate}; "
            f"agreement below {config.review_agreement_below}"
        )

    def _task(self, project, o):
        if o["task"] is None:
            raise CommandError("--task: the task id")
        task = review_selectors.get_review_task(project=project, task_id=o["task"])
        if task is None:
            raise CommandError(f"--task: no task {o['task']} in project {project.slug}")
        return task

    @staticmethod
    def _version(task, o) -> int:
        return task.review_version if o["review_version"] is None else o["review_version"]

    @staticmethod
    def _reviewer(project, o):
        if not o["reviewer"]:
            return None
        user = get_user_model().objects.filter(username=o["reviewer"]).first()
        if user is None or role_in_project(user=user, project=project) not in review_selectors.REVIEW_ROLES:
            raise CommandError(f"--reviewer: {o['reviewer']!r} is no reviewer or admin of {project.slug}")
        return user
