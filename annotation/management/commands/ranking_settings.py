"""manage.py ranking_settings --project SLUG [--set NAME=VALUE …] [--aspects helpsteer2|none|FILE.json]

Show a project's ranking settings (JSON), or change some: `--set ask_strength=true --set rationale=required`, and
the aspects rated per answer from a JSON file ([{key, label, label_zh, min, max}, …]), HelpSteer2's five, or none.
The same rules as the console's settings page and the API (annotation.services.update_ranking_config): a bad value
is refused naming the field, and nothing is changed."""

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from annotation.aspects import helpsteer2_aspects
from annotation.models import RankingConfig
from annotation.services import get_ranking_config, update_ranking_config
from projects.selectors import get_project_by_slug

SETTINGS = [f.name for f in RankingConfig._meta.concrete_fields if f.name not in ("id", "project")]


def _aspects(value: str):
    if value == "helpsteer2":
        return helpsteer2_aspects()
    if value == "none":
        return []
    try:
        return json.loads(Path(value).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"--aspects: {value}: not a readable JSON file ({exc})") from None


def _setting(text: str) -> tuple[str, object]:
    name, sep, raw = text.partition("=")
    if not sep or name not in SETTINGS:
        raise CommandError(f"--set {text}: give NAME=VALUE with NAME one of {', '.join(SETTINGS)}")
    if name == "aspects":
        raise CommandError("--set aspects: use --aspects helpsteer2|none|FILE.json")
    field = RankingConfig._meta.get_field(name)
    if field.get_internal_type() == "BooleanField":
        raw = {"true": True, "on": True, "yes": True, "false": False, "off": False, "no": False}.get(raw.lower(), raw)
    try:
        return name, field.to_python(raw)
    except ValidationError as exc:
        raise CommandError(f"{name}: {' '.join(exc.messages)}") from None


class Command(BaseCommand):
    help = "Show or change a project's ranking settings (aspects, strength, rationale, overlap, …)."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="change one setting")
        parser.add_argument("--aspects", help="helpsteer2, none, or a JSON file of [{key, label, label_zh, min, max}]")

    def handle(self, *args, **o):
        project = get_project_by_slug(slug=o["project"])
        if project is None:
            raise CommandError(f"--project: no project with slug {o['project']!r}")
        changes = dict(_setting(text) for text in o["set"])
        if o["aspects"] is not None:
            changes["aspects"] = _aspects(o["aspects"])
        config = get_ranking_config(project=project)
        if changes:
            try:
                config = update_ranking_config(project=project, **changes)
            except ValidationError as exc:
                said = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in exc.message_dict.items())
                raise CommandError(said) from None
        shown = {name: getattr(config, name) for name in SETTINGS}
        self.stdout.write(json.dumps(shown, ensure_ascii=False, indent=2))
