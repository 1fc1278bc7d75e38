"""manage.py curate --project SLUG --kind seed|instruction … — edit, re-label or delete seed tasks or generated
instructions, one (--id N --set field=value) or in bulk by filter; every change is kept in the item's history."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from projects.selectors import get_project_by_slug
from selfinstruct.curation import bulk_curate, edit_item
from selfinstruct.curation_rules import FILTERS, CurationError, parse_filter_pairs
from selfinstruct.curation_selectors import get_curated_item, items_for_curation


class Command(BaseCommand):
    help = (
        "Curate a project's seed tasks or generated instructions: --id N --set field=value edits one; otherwise one "
        "bulk action (--set-language, --set-task-type, --set-state, --delete) on the items --filter/--id select."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("--kind", required=True, choices=["seed", "instruction"])
        parser.add_argument("--id", type=int, action="append", default=[], dest="ids", help="An item (repeatable).")
        parser.add_argument(
            "--filter",
            dest="filters",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help=f"seeds: {', '.join(FILTERS['seed'])}; instructions: {', '.join(FILTERS['instruction'])}",
        )
        actions = parser.add_mutually_exclusive_group(required=True)
        actions.add_argument("--set", action="append", metavar="FIELD=VALUE", help="Edit fields of one --id.")
        actions.add_argument("--set-language", choices=["en", "zh"])
        actions.add_argument("--set-task-type", metavar="TYPE", help="A task type of the project; '' untags.")
        actions.add_argument("--set-state", choices=["accepted", "rejected"])
        actions.add_argument("--delete", action="store_true")
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; change nothing.")
        parser.add_argument("--by", default="", help="The username the history records (default: none, via cli).")

    def handle(self, *args, project, kind, ids, filters, by, dry_run, **options):
        project_obj = get_project_by_slug(slug=project)
        if project_obj is None:
            raise CommandError(f"--project: no project with slug {project!r}")
        actor = None
        if by:
            actor = get_user_model().objects.filter(username=by).first()
            if actor is None:
                raise CommandError(f"--by: no user named {by!r}")
        try:
            if options["set"]:
                self._edit(project_obj, kind, ids, options["set"], actor, dry_run)
            else:
                self._bulk(project_obj, kind, ids, filters, options, actor, dry_run)
        except CurationError as exc:
            raise CommandError(str(exc)) from None

    def _edit(self, project, kind, ids, pairs, actor, dry_run):
        if len(ids) != 1:
            raise CommandError("--set: name exactly one item with --id")
        item = get_curated_item(project=project, kind=kind, item_id=ids[0])
        if item is None:
            raise CommandError(f"--id: no {kind} {ids[0]} in project {project.slug}")
        changes = {}
        for pair in pairs:
            field, sep, value = pair.partition("=")
            if not sep:
                raise CommandError(f"--set: {pair!r} is not field=value")
            changes[field] = {"true": True, "false": False}.get(value, value) if field == "is_classification" else value
        if dry_run:
            self.stdout.write(f"would edit {kind} {item.pk}: {', '.join(changes)}")
            return
        event = edit_item(item=item, changes=changes, actor=actor, via="cli")
        if event is None:
            self.stdout.write(f"{kind} {item.pk}: nothing changed")
        else:
            fields = ", ".join(f"{f}: {old!r} → {new!r}" for f, (old, new) in event.changes.items())
            self.stdout.write(f"{kind} {item.pk}: {fields}")

    def _bulk(self, project, kind, ids, filter_pairs, options, actor, dry_run):
        pairs = list(filter_pairs) + ([f"ids={','.join(map(str, ids))}"] if ids else [])
        if not pairs:
            raise CommandError("--filter or --id: say which items (e.g. --filter language=en); none selects nothing")
        if options["set_language"]:
            action, value = "set_language", options["set_language"]
        elif options["set_task_type"] is not None:
            action, value = "set_task_type", options["set_task_type"]
        elif options["set_state"]:
            action, value = ("accept" if options["set_state"] == "accepted" else "reject"), ""
        else:
            action, value = "delete", ""
        rows = items_for_curation(project=project, kind=kind, filters=parse_filter_pairs(kind, pairs))
        result = bulk_curate(
            project=project, kind=kind, rows=rows, action=action, value=value, actor=actor, via="cli", dry_run=dry_run
        )
        verb = "would change" if dry_run else "changed"
        line = f"{result.matched} {kind}s matched, {result.changed} {verb}"
        self.stdout.write(line + (f", {result.skipped} skipped" if result.skipped else ""))
