"""Move DRF's plaintext API tokens (table authtoken_token) into projects.ApiToken as SHA-256 digests and empty that
table: every key issued before keeps working, and the database holds none of them any more.

rest_framework.authtoken is no longer installed, so its table is read with SQL, where it exists (databases made
before this migration); a fresh database has none and nothing is done."""

import hashlib

from django.db import migrations

TABLE = "authtoken_token"


def hash_plaintext_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("projects", "ApiToken")
    quoted = connection.ops.quote_name(TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {connection.ops.quote_name('key')}, user_id FROM {quoted}")  # noqa: S608 - fixed names
        rows = cursor.fetchall()
    for key, user_id in rows:
        ApiToken.objects.update_or_create(
            user_id=user_id, defaults={"digest": hashlib.sha256(key.encode()).hexdigest(), "prefix": key[:6]}
        )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {quoted}")  # noqa: S608 - a fixed name


class Migration(migrations.Migration):
    dependencies = [("projects", "0002_api_tokens_and_invitations")]

    operations = [migrations.RunPython(hash_plaintext_tokens, migrations.RunPython.noop)]
