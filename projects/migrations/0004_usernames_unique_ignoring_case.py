"""A unique index on LOWER(username) of auth_user: no `Admin` beside `admin`, even from two requests at once.

auth.User is Django's model, so the index is plain SQL (the same on SQLite and PostgreSQL). A database that already
holds names equal ignoring case cannot take the index: the migration then skips it with a warning (renaming a
user would break their sign-in), and projects.services.validate_new_username still refuses every new look-alike;
rename the pairs it lists in the Django admin and run `manage.py migrate projects 0003` then `migrate` again."""

import sys

from django.db import migrations
from django.db.models.functions import Lower

INDEX = "auth_user_username_lower_uniq"


def create_index(apps, schema_editor):
    User = apps.get_model("auth", "User")
    lowered = User.objects.annotate(low=Lower("username")).values_list("low", flat=True)
    seen, clashes = set(), set()
    for name in lowered.iterator():
        (clashes if name in seen else seen).add(name)
    if clashes:
        sys.stderr.write(
            f"projects 0004: not adding {INDEX}: usernames equal ignoring case: {sorted(clashes)[:20]}; rename them\n"
        )
        return
    schema_editor.execute(f"CREATE UNIQUE INDEX {INDEX} ON auth_user (LOWER(username))")


def drop_index(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("projects", "0003_hash_plaintext_tokens"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_index, drop_index)]
