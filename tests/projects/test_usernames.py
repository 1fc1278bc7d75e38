"""Look-alike usernames (finding 11 of issue 34): new names are ASCII and unique ignoring case — in the service, the
CLI, the console and the database itself."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction


@pytest.mark.parametrize("lookalike", ["Admin", "ADMIN", "\u0430dmin", "adm\u0456n"])  # Cyrillic а and і
def test_look_alikes_of_an_existing_name_are_refused(db, lookalike):
    from projects.services import create_user

    create_user(username="admin", role="labeler")
    with pytest.raises(ValidationError) as refused:
        create_user(username=lookalike, role="labeler")
    assert "username" in refused.value.message_dict
    with pytest.raises(CommandError):
        call_command("create_user", lookalike, "--role", "labeler")
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["admin"]


def test_the_database_refuses_a_name_equal_ignoring_case(db):
    user_model = get_user_model()
    user_model.objects.create(username="admin")
    with pytest.raises(IntegrityError), transaction.atomic():
        user_model.objects.create(username="Admin")


def test_a_site_admin_creating_a_look_alike_in_the_console_is_told_why(client, cast):
    client.force_login(cast["admin"])
    answer = client.post("/console/alpha/members/", {"username": "PADMIN", "role": "labeler", "create": "on"})
    assert answer.status_code == 400 and "ignoring case" in answer.content.decode()
    answer = client.post("/console/alpha/members/", {"username": "\u0440admin", "role": "labeler", "create": "on"})
    assert answer.status_code == 400 and not get_user_model().objects.filter(username="\u0440admin").exists()


def test_the_django_admin_creates_no_look_alike(client, cast):
    client.force_login(cast["admin"])
    for name in ("ROOT", "r\u043eot"):  # Cyrillic о
        answer = client.post(
            "/admin/auth/user/add/",
            {"username": name, "password1": "a-long-test-password-9", "password2": "a-long-test-password-9"},
        )
        assert answer.status_code == 200 and "errorlist" in answer.content.decode(), name
    assert not get_user_model().objects.filter(username__iexact="root").exclude(pk=cast["admin"].pk).exists()
    made = client.post(
        "/admin/auth/user/add/",
        {"username": "plain", "password1": "a-long-test-password-9", "password2": "a-long-test-password-9"},
    )
    assert made.status_code == 302 and get_user_model().objects.filter(username="plain").exists()
