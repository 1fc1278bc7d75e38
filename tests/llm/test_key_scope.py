"""Issue 34, finding 1: a project endpoint's API-key variable is its project's alone. The scope is LLM_KEY_P<id>_…;
new endpoints and changed key variables must use it. An old slug-scoped name (LLM_KEY_<SLUG>_…) is kept only on a
row that already had it, and honoured only while no other project's scope covers it, both when the endpoint is saved
and before every call (no request leaves with another project's key)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from llm.client import LLMError, call_llm
from llm.models import LLMEndpoint
from llm.services import EndpointError, save_project_endpoint
from projects.models import Project
from projects.services import create_project
from tests.llm.servers import Recorder, json_reply

SECRET = "sk-the-other-projects-secret"


def _pair(first: str, second: str):
    return create_project(slug=first, name=first), create_project(slug=second, name=second)


# Each pair: two slugs whose old prefixes overlap, and a variable both old scopes cover.
COLLIDING = [
    ("demo", "demo-zh", "LLM_KEY_DEMO_ZH_OPENAI"),
    ("demo_zh", "demo-zh", "LLM_KEY_DEMO_ZH_OPENAI"),
    ("Demo-ZH", "demo-zh", "LLM_KEY_DEMO_ZH_OPENAI"),
    ("demo", "Demo", "LLM_KEY_DEMO_OPENAI"),
    ("demo", "demo_zh", "LLM_KEY_DEMO_ZH_OPENAI"),
]


@pytest.mark.parametrize(("first", "second", "variable"), COLLIDING)
def test_a_name_two_projects_scopes_cover_is_refused_for_both_when_saved(db, first, second, variable):
    projects = _pair(first, second)
    for project in projects:
        with pytest.raises(EndpointError, match="api_key_env: .*another project's scope"):
            save_project_endpoint(
                project=project,
                name=f"e{project.pk}",
                base_url="http://127.0.0.1:9/v1",
                model="m",
                api_key_env=variable,
            )
    assert not LLMEndpoint.objects.exists()


def test_the_id_prefix_is_unambiguous_and_a_slug_like_p_id_cannot_reach_it(db):
    from llm.keyscope import key_scope_problem, project_key_prefix

    one = create_project(slug="one", name="one")
    for _ in range(11):
        create_project(slug=f"filler{_}", name=f"f{_}")
    twelve = create_project(slug="twelve", name="twelve")
    assert project_key_prefix(one) == f"LLM_KEY_P{one.pk}_" and not f"LLM_KEY_P{twelve.pk}_X".startswith(
        project_key_prefix(one)
    )
    assert key_scope_problem(project=twelve, name=f"LLM_KEY_P{twelve.pk}_OPENAI") is None
    assert "starts with" in key_scope_problem(project=one, name=f"LLM_KEY_P{twelve.pk}_OPENAI")
    assert "starts with" in key_scope_problem(project=one, name=f"LLM_KEY_P0{one.pk}_OPENAI")  # not one's id form
    # A project slugged like another's id form (made before such slugs were reserved, so not through the service):
    # the name is in both scopes, so neither may send it.
    with pytest.raises(ValidationError, match="reserved"):
        create_project(slug=f"p{twelve.pk}", name="squatter")
    squatter = Project.objects.create(slug=f"p{twelve.pk}", name="squatter")
    name = f"LLM_KEY_P{twelve.pk}_OPENAI"
    assert "another project's scope" in key_scope_problem(project=squatter, name=name)
    assert "another project's scope" in key_scope_problem(project=twelve, name=name)
    assert "starts with" in key_scope_problem(project=one, name="OPENAI_API_KEY")


def test_an_old_slug_name_is_kept_on_its_row_while_it_is_unambiguous(db):
    from llm.keyscope import key_scope_problem

    project = create_project(slug="demo-zh", name="zh")
    # saved before the id form existed (not through the service, which no longer gives such names out)
    LLMEndpoint.objects.create(
        name="zh", base_url="http://127.0.0.1:9/v1", model="m", project=project, api_key_env="LLM_KEY_DEMO_ZH_OPENAI"
    )
    saved = save_project_endpoint(  # edited, its key variable unchanged
        project=project,
        editing=True,
        name="zh",
        base_url="http://127.0.0.1:9/v1",
        model="m2",
        api_key_env="LLM_KEY_DEMO_ZH_OPENAI",
    )
    assert (saved.model, saved.api_key_env) == ("m2", "LLM_KEY_DEMO_ZH_OPENAI")
    create_project(slug="demo", name="demo")  # from now on demo's old scope covers it too
    assert "another project's scope" in key_scope_problem(project=project, name="LLM_KEY_DEMO_ZH_OPENAI")


def test_a_new_or_changed_key_variable_must_use_the_id_form(db, monkeypatch):
    """Re-test C: `lead` (admin of `demo`) saved LLM_KEY_DEMO_ZH2_OPENAI while no project `demo-zh2` existed, so the
    call-time check let the future project's key go to his listener. A slug-form name is no longer given out: not to
    a new endpoint, and not as a changed api_key_env; only a row that already had that exact name keeps it."""
    demo = create_project(slug="demo", name="demo")
    fields = {"base_url": "http://127.0.0.1:9/v1", "model": "m"}
    with pytest.raises(EndpointError, match=f"api_key_env: .*starts with LLM_KEY_P{demo.pk}_"):
        save_project_endpoint(project=demo, name="grab", api_key_env="LLM_KEY_DEMO_ZH2_OPENAI", **fields)
    with pytest.raises(EndpointError, match=f"api_key_env: .*starts with LLM_KEY_P{demo.pk}_"):
        save_project_endpoint(project=demo, name="grab", api_key_env="LLM_KEY_DEMO_OPENAI", **fields)
    assert not LLMEndpoint.objects.exists()
    # an existing endpoint changing its variable: the same rule, even from one old name to another
    LLMEndpoint.objects.create(name="old", project=demo, api_key_env="LLM_KEY_DEMO_OPENAI", **fields)
    with pytest.raises(EndpointError, match=f"starts with LLM_KEY_P{demo.pk}_"):
        save_project_endpoint(project=demo, editing=True, name="old", api_key_env="LLM_KEY_DEMO_ZH2_OPENAI", **fields)
    assert LLMEndpoint.objects.get(name="old").api_key_env == "LLM_KEY_DEMO_OPENAI"
    own = f"LLM_KEY_P{demo.pk}_OPENAI"
    assert save_project_endpoint(project=demo, editing=True, name="old", api_key_env=own, **fields).api_key_env == own
    with pytest.raises(EndpointError, match=f"starts with LLM_KEY_P{demo.pk}_"):  # and never back
        save_project_endpoint(project=demo, editing=True, name="old", api_key_env="LLM_KEY_DEMO_OPENAI", **fields)
    assert save_project_endpoint(project=demo, name="new", api_key_env=own, **fields).api_key_env == own


@pytest.mark.parametrize(("first", "second", "variable"), COLLIDING)
def test_a_row_naming_another_projects_key_sends_nothing(db, monkeypatch, first, second, variable):
    """Call time: rows saved before the rule existed (or made ambiguous since) are refused before any request."""
    monkeypatch.setenv(variable, SECRET)
    projects = _pair(first, second)
    with Recorder(json_reply()) as listener:
        for project in projects:
            endpoint = LLMEndpoint.objects.create(
                name=f"e{project.pk}", base_url=listener.url, model="m", api_key_env=variable, project=project
            )
            with pytest.raises(LLMError, match="another project's scope") as caught:
                call_llm(endpoint, purpose="test", prompt="hi", sleep=lambda s: None)
            assert caught.value.kind == "configuration" and caught.value.attempts == 1
        assert listener.seen == []


def test_the_projects_own_id_scoped_key_is_sent(db, monkeypatch):
    demo, zh = _pair("demo", "demo-zh")
    monkeypatch.setenv(f"LLM_KEY_P{zh.pk}_OPENAI", SECRET)
    with Recorder(json_reply()) as listener:
        endpoint = save_project_endpoint(
            project=zh, name="zh", base_url=listener.url, model="m", api_key_env=f"LLM_KEY_P{zh.pk}_OPENAI"
        )
        assert call_llm(endpoint, purpose="test", prompt="hi").text == "hi"
        with pytest.raises(EndpointError, match="starts with LLM_KEY_P"):
            save_project_endpoint(
                project=demo, name="d", base_url=listener.url, model="m", api_key_env=f"LLM_KEY_P{zh.pk}_OPENAI"
            )
    assert [headers["authorization"] for _, _, headers in listener.seen] == [f"Bearer {SECRET}"]
