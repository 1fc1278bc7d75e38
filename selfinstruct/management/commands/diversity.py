"""manage.py diversity --project SLUG [--batch ID] [--json]

How diverse the project's accepted instructions are (or one batch's): language mix, length spread, distinct-1/2,
nearest-neighbour ROUGE-L spread and the most frequent opening words; once a rating run has tagged instructions,
their task types and the commonest root verbs with their objects."""

import json

from django.core.management.base import BaseCommand, CommandError

from projects.selectors import get_project_by_slug
from selfinstruct.diversity import diversity_report


class Command(BaseCommand):
    help = "Print the diversity report of a project's accepted instructions."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("--batch", type=int, help="one generation batch of the project")
        parser.add_argument("--json", action="store_true", help="the report as JSON")

    def handle(self, *args, **o):
        project = get_project_by_slug(slug=o["project"])
        if project is None:
            raise CommandError(f"project: no project {o['project']!r}")
        report = diversity_report(project=project, batch_id=o["batch"])
        if o["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
            return
        self.stdout.write(
            f"{report['instructions']} instruction(s) {report['languages']}; distinct-1 {report['distinct_1']}, "
            f"distinct-2 {report['distinct_2']}; {report['distinct_openings']} distinct opening words; "
            f"mean nearest-neighbour ROUGE-L {report['mean_nearest_similarity']}"
        )
        for name in ("length", "nearest_similarity"):
            spread = ", ".join(f"{a}: {n}" for a, n in zip(report[name]["labels"], report[name]["counts"], strict=True))
            self.stdout.write(f"{name.replace('_', ' ')}: {spread}")
        self.stdout.write("openings: " + ", ".join(f"{o['word']} {o['n']}" for o in report["openings"]))
        if report["tagged"]:
            types = ", ".join(f"{t['type']} {t['n']}" for t in report["task_types"])
            self.stdout.write(f"task types ({report['tagged']} tagged, {report['task_type_entropy']} bits): {types}")
            for verb in report["verb_objects"]:
                objects = ", ".join(f"{o['object']} {o['n']}" for o in verb["objects"])
                self.stdout.write(f"  {verb['verb']} {verb['n']}: {objects}")
