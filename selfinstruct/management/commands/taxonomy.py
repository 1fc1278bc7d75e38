"""manage.py taxonomy --project SLUG [--set FILE | --reset] [--json]

The project's task types (what the tagger chooses from, what batch quotas and stratified dataset versions name):
print them, replace them from a file, or go back to BELLE's categories. FILE is JSON — a list of {key, name,
name_zh, definition}, or {"types": [...]} as the API takes it — or text with one type per line,
`key | name | 中文名 | definition`."""

import json

from django.core.management.base import BaseCommand, CommandError

from core import safejson
from core.jsonfiles import MB, JsonFileError, read_text
from projects.selectors import get_project_by_slug
from selfinstruct.taxonomy import TaxonomyError, parse_lines, reset_taxonomy, set_taxonomy, taxonomy_for

MAX_FILE = 1 * MB


def _types_in(path: str) -> list:
    try:
        text = read_text(path, limit=MAX_FILE)
    except JsonFileError as exc:
        raise CommandError(f"--set {path}: {exc}") from None
    if text.lstrip().startswith(("[", "{")):
        try:
            value = safejson.loads(text)
        except ValueError as exc:
            raise CommandError(f"--set {path}: not JSON ({exc})") from None
        return value.get("types") if isinstance(value, dict) else value
    return parse_lines(text)


class Command(BaseCommand):
    help = "Print, replace or reset a project's task-type taxonomy."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--set", metavar="FILE", help="replace the types with those in FILE (JSON or lines)")
        action.add_argument("--reset", action="store_true", help="back to BELLE's categories")
        parser.add_argument("--json", action="store_true", help="print the types as JSON")

    def handle(self, *args, **o):
        project = get_project_by_slug(slug=o["project"])
        if project is None:
            raise CommandError(f"--project: no project {o['project']!r}")
        try:
            if o["set"]:
                taxonomy = set_taxonomy(project=project, types=_types_in(o["set"]))
            elif o["reset"]:
                taxonomy = reset_taxonomy(project=project)
            else:
                taxonomy = taxonomy_for(project)
        except TaxonomyError as exc:
            raise CommandError(str(exc)) from None
        if o["json"]:
            self.stdout.write(json.dumps({"custom": taxonomy.custom, "types": taxonomy.as_list()}, ensure_ascii=False))
            return
        source = "the project's own" if taxonomy.custom else "BELLE's categories (the default)"
        self.stdout.write(f"{len(taxonomy.types)} task types, {source}:")
        for t in taxonomy.types:
            self.stdout.write(f"  {t.key:<16} {t.name} / {t.name_zh or '-'}: {t.definition}")
