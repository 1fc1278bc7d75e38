"""A unique index on LOWER(name) of the LLM endpoints: no `Demo-Teacher` beside `demo-teacher`, even from two requests
at once (pickers would list two near-identical entries).

Plain SQL, the same on SQLite and PostgreSQL, as for usernames (projects 0004). A database that already holds names
equal ignoring case cannot take the index: the migration then skips it with a warning (renaming an endpoint would
break the runs, plans and scripts that name it), and llm.services.taken_name_problem still refuses every new
look-alike on the page, the API and the CLI; delete or switch off and replace one of each pair it lists, then run
`manage.py migrate llm 0005` and `migrate` again."""

import sys

from django.db import migrations
from django.db.models.functions import Lower

INDEX = "llm_endpoint_name_lower_uniq"


def create_index(apps, schema_editor):
    LLMEndpoint = apps.get_model("llm", "LLMEndpoint")
    lowered = LLMEndpoint.objects.annotate(low=Lower("name")).values_list("low", flat=True)
    seen, clashes = set(), set()
    for name in lowered.iterator():
        (clashes if name in seen else seen).add(name)
    if clashes:
        sys.stderr.write(
            f"llm 0006: not adding {INDEX}: endpoint names equal ignoring case: {sorted(clashes)[:20]}; new ones are "
            "refused all the same\n"
        )
        return
    table = LLMEndpoint._meta.db_table
    schema_editor.execute(f"CREATE UNIQUE INDEX {INDEX} ON {table} (LOWER(name))")


def drop_index(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("llm", "0005_endpoint_health_and_config_changes")]

    operations = [migrations.RunPython(create_index, drop_index)]
