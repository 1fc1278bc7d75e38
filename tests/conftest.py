"""Shared fixtures: the healthchecks-style cast of users, schema-checked API clients and the demo teacher."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.helpers.openapi import SchemaCheckedClient


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """pytest-django's fixture, except that xdist processes clone one migrated template (tests/dbtemplate.py)."""
    from django.test.utils import setup_databases, teardown_databases

    from tests.dbtemplate import setup_from_template, template_dir

    folder = template_dir()
    with django_db_blocker.unblock():
        if folder is None:
            db_cfg = setup_databases(verbosity=0, interactive=False, aliases={"default"}, serialized_aliases=set())
        else:
            db_cfg = setup_from_template(folder)
    yield
    with django_db_blocker.unblock():
        try:
            teardown_databases(db_cfg, verbosity=0)
        except Exception as exc:  # noqa: BLE001 - as pytest-django's: a thread's leftover connection, say
            request.node.warn(pytest.PytestWarning(f"Error when trying to teardown test databases: {exc!r}"))


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Fast hashes for users made here; the default hashers stay so logins made by subprocesses still verify.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]


@pytest.fixture(autouse=True)
def _fresh_pool_cache():
    from tests.helpers.pool import forget_pools

    forget_pools()  # rolled-back test transactions can reuse ids the cached pools have already seen
    yield
    forget_pools()


@pytest.fixture
def project(db):
    from projects.services import create_project

    return create_project(slug="alpha", name="Alpha")


@pytest.fixture
def other_project(db):
    from projects.services import create_project

    return create_project(slug="beta", name="Beta")


@pytest.fixture
def cast(db, project, other_project):
    """site admin; project admin (not staff), labeler and consumer of `project`; project admin, labeler and
    consumer of `other_project`."""
    from projects.services import create_user

    def make(name, role, proj):
        user, _, _ = create_user(
            username=name, role=role, password="a-long-test-password-1", project=proj, with_token=role == "consumer"
        )
        return user

    return {
        "admin": make("root", "admin", None),
        "project_admin": make("padmin", "project-admin", project),
        "other_admin": make("padmin2", "project-admin", other_project),
        "labeler": make("lab", "labeler", project),
        "consumer": make("con", "consumer", project),
        "other_labeler": make("lab2", "labeler", other_project),
        "other_consumer": make("con2", "consumer", other_project),
    }


@pytest.fixture
def api():
    return SchemaCheckedClient()


@pytest.fixture
def api_as(cast):
    """api_as('labeler') -> a schema-checked client authenticated as that cast member (token for consumers)."""

    def make(who: str | None) -> SchemaCheckedClient:
        client = SchemaCheckedClient()
        if who is None:
            return client
        user = cast[who]
        if who.endswith("consumer"):
            client.credentials(HTTP_AUTHORIZATION=f"Token {user.auth_token.key}")
        else:
            client.force_authenticate(user)
        return client

    return make


class Teacher:
    def __init__(self, server):
        self.server = server
        self.url = server.url

    def control(self, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url.removesuffix("/v1") + path,
            data=data,
            headers={"Content-Type": "application/json"},
            method="POST" if data else "GET",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def faults(self, **body) -> dict:
        return self.control("/_teacher/faults", body)

    def stats(self) -> dict:
        return self.control("/_teacher/stats")


@pytest.fixture
def teacher():
    from demo.teacher import make_server

    server = make_server("127.0.0.1", 0, seed=7)
    server.start_in_thread()
    try:
        yield Teacher(server)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def endpoint(db, teacher):
    from llm.services import create_endpoint

    return create_endpoint(
        name="teach", base_url=teacher.url, model="demo-teacher", max_concurrency=4, request_timeout_s=5, max_retries=3
    )
