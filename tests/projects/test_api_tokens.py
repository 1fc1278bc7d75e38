"""API tokens are stored as digests (finding 6 of issue 34): a key is shown once, the database never holds it, a
rotated key stops at once, and keys issued as DRF plaintext tokens before the migration keep working."""

import importlib
from types import SimpleNamespace

from django.db import connection


def _token(**where):
    from projects.models import ApiToken

    return ApiToken.objects.get(**where)


def _columns_hold(key: str) -> bool:
    from projects.models import ApiToken

    return any(key in str(value) for row in ApiToken.objects.values_list() for value in row)


def test_a_token_is_stored_as_a_digest_shown_once_and_rotated(api, cast):
    from projects.services import issue_token, rotate_token

    key = issue_token(user=cast["labeler"])
    assert len(key) == 40 and not _columns_hold(key) and not _columns_hold(key[6:])
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/me").json()["username"] == "lab"
    new = rotate_token(user=cast["labeler"])
    assert api.get("/api/v1/me").status_code == 401  # the old key stopped at once
    api.credentials(HTTP_AUTHORIZATION=f"Token {new}")
    assert api.get("/api/v1/me").status_code == 200
    assert _token(user=cast["labeler"]).last_used_at is not None


def test_a_plaintext_token_made_before_the_migration_still_works_and_is_gone_from_the_database(api, cast):
    """The data migration's function, on a database that still has DRF's authtoken_token table with a key."""
    from django.apps import apps

    migration = importlib.import_module("projects.migrations.0003_hash_plaintext_tokens")
    user = cast["labeler"]
    old_key = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        if "authtoken_token" not in connection.introspection.table_names():
            cursor.execute('CREATE TABLE authtoken_token ("key" varchar(40) PRIMARY KEY, user_id integer NOT NULL)')
        cursor.execute("DELETE FROM authtoken_token")
        cursor.execute('INSERT INTO authtoken_token ("key", user_id) VALUES (%s, %s)', [old_key, user.pk])
    # The function uses only the editor's connection (SQLite allows no schema editor inside the test's transaction).
    migration.hash_plaintext_tokens(apps, SimpleNamespace(connection=connection))
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,)
    assert not _columns_hold(old_key) and _token(user=user).prefix == old_key[:6]
    api.credentials(HTTP_AUTHORIZATION=f"Token {old_key}")
    assert api.get("/api/v1/me").json()["username"] == "lab"


def test_the_cli_and_the_console_show_a_key_once(client, cast, capsys):
    from django.core.management import call_command

    call_command("create_user", "ann", "--role", "consumer", "--token")
    key = capsys.readouterr().out.split("token: ")[1].strip()
    token = _token(user__username="ann")
    assert not _columns_hold(key) and key.startswith(token.prefix)
    client.force_login(cast["project_admin"])
    shown = client.post("/console/alpha/token", {"action": "rotate"}).content.decode()
    assert _token(user=cast["project_admin"]).prefix in shown
    assert (
        'id="shown-token"' in shown and 'id="shown-token"' not in client.get("/console/alpha/members/").content.decode()
    )
