"""Creating projects: site admins and users given `projects.add_project`, through the API, the CLI and the home
page (whose list links each project to what the user does there); bad or taken slugs are refused naming the field.
And a token sent without its `Token ` keyword is answered with how to send it."""

import pytest
from django.core.management import CommandError, call_command

from projects.models import Membership, Project, Role


def test_api_creates_for_site_admins_and_allowed_users_only(api_as, cast):
    from django.contrib.auth.models import Permission

    body = {"slug": "gamma", "name": "Gamma", "guidelines": "Rank by **helpfulness**."}
    refused = api_as("project_admin").post("/api/v1/projects", body, format="json")
    assert refused.status_code == 403 and "projects.add_project" in refused.json()["detail"]
    assert api_as(None).post("/api/v1/projects", body, format="json").status_code == 401
    created = api_as("admin").post("/api/v1/projects", body, format="json")
    assert created.status_code == 201 and created.json()["slug"] == "gamma"
    # the creator is the project's admin, a site admin too: no project starts without one
    assert Membership.objects.get(project__slug="gamma").user == cast["admin"]
    taken = api_as("admin").post("/api/v1/projects", body, format="json")
    assert taken.status_code == 409 and taken.json()["detail"].startswith("slug: a project 'gamma' exists")
    bad = api_as("admin").post("/api/v1/projects", {"slug": "no spaces", "name": "X"}, format="json")
    assert bad.status_code == 400 and "slug" in bad.json()["detail"]
    for reserved in ("p12", "P7-zh", "p0_x"):  # LLM_KEY_P<id>_ names project <id>'s keys (issue 34)
        answer = api_as("admin").post("/api/v1/projects", {"slug": reserved, "name": "X"}, format="json")
        assert answer.status_code == 400 and answer.json()["detail"].startswith("slug: 'p' followed by digits")
    assert api_as("admin").post("/api/v1/projects", {"slug": "p12x", "name": "X"}, format="json").status_code == 201
    long = api_as("admin").post("/api/v1/projects", {"slug": "x", "name": "n" * 201}, format="json")
    assert long.status_code == 400 and "name" in str(long.json())
    cast["project_admin"].user_permissions.add(Permission.objects.get(codename="add_project"))
    for cached in ("_perm_cache", "_user_perm_cache"):  # Django caches a user's permissions on the object
        cast["project_admin"].__dict__.pop(cached, None)
    own = api_as("project_admin").post("/api/v1/projects", {"slug": "delta", "name": "Delta"}, format="json")
    assert own.status_code == 201
    assert Membership.objects.get(project__slug="delta").user == cast["project_admin"]  # its admin now
    assert api_as("project_admin").get("/api/v1/projects/delta").json()["role"] == Role.ADMIN


def test_cli_creates_a_project_with_its_admin(cast, capsys, tmp_path):
    guidelines = tmp_path / "guide.md"
    guidelines.write_text("Prefer **correct** answers.", encoding="utf-8")
    call_command("create_project", "gamma", "--name", "Gamma", "--guidelines-file", str(guidelines), "--admin", "lab")
    assert "created project gamma (Gamma), admin lab" in capsys.readouterr().out
    project = Project.objects.get(slug="gamma")
    assert project.guidelines.startswith("Prefer") and Membership.objects.get(project=project).role == Role.ADMIN
    with pytest.raises(CommandError, match="exists already"):
        call_command("create_project", "gamma", "--name", "Again")
    with pytest.raises(CommandError, match="--admin: no user named 'nobody'"):
        call_command("create_project", "epsilon", "--name", "E", "--admin", "nobody")


def test_home_page_links_projects_and_creates_them(client, cast):
    client.force_login(cast["labeler"])
    page = client.get("/").content.decode()
    assert 'href="/label/alpha/"' in page and "dashboard" not in page and 'id="new-project"' not in page
    client.force_login(cast["project_admin"])
    page = client.get("/").content.decode()
    assert 'href="/label/alpha/dashboard/"' in page and 'id="new-project"' not in page
    assert client.post("/", {"slug": "gamma", "name": "G"}).status_code == 200  # no form for them: nothing made
    assert not Project.objects.filter(slug="gamma").exists()
    client.force_login(cast["admin"])
    bad = client.post("/", {"slug": "alpha", "name": "Dup"})
    assert bad.status_code == 400 and "exists already" in bad.content.decode()
    made = client.post("/", {"slug": "gamma", "name": "Gamma", "description": "Third."}, follow=True)
    assert made.status_code == 200 and "Project gamma created." in made.content.decode()
    assert 'href="/label/gamma/"' in made.content.decode()
    chinese = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "新建项目" in chinese and "创建项目" in chinese and "前往" in chinese


def test_a_token_sent_without_its_keyword_says_how_to_send_it(api, cast):
    key = cast["consumer"].auth_token.key
    for header in (key, f"Bearer {key}"):
        api.credentials(HTTP_AUTHORIZATION=header)
        response = api.get("/api/v1/me")
        assert response.status_code == 401 and "Authorization: Token <key>" in response.json()["detail"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/me").status_code == 200


@pytest.mark.parametrize("setting", ["staff", "permission", "anyone"])
def test_project_creation_follows_the_site_setting(setting, settings, client, api_as, cast, capsys):
    """PROJECT_CREATION decides who may create projects, the same on the home page, the API and the CLI (--as);
    where it refuses, the page says whom to ask; the creator becomes the project's admin."""
    from django.contrib.auth.models import Permission

    settings.PROJECT_CREATION = setting
    cast["labeler"].user_permissions.add(Permission.objects.get(codename="add_project"))  # lab has the permission
    allowed = {"staff": set(), "permission": {"lab"}, "anyone": {"lab", "con"}}[setting]
    for who in ("labeler", "consumer"):
        user = cast[who]
        client.force_login(user)
        home = client.get("/").content.decode()
        answer = api_as(who).post("/api/v1/projects", {"slug": f"api-{who}", "name": "X"}, format="json")
        if user.username in allowed:
            assert 'id="new-project"' in home and 'id="no-project-creation"' not in home
            assert answer.status_code == 201
            made = client.post("/", {"slug": f"page-{who}", "name": "P"})
            assert made.status_code == 302
            call_command("create_project", f"cli-{who}", "--name", "C", "--as", user.username)
            for slug in (f"api-{who}", f"page-{who}", f"cli-{who}"):
                assert Membership.objects.get(project__slug=slug).user == user  # its admin
                assert Membership.objects.get(project__slug=slug).role == Role.ADMIN
        else:
            assert 'id="new-project"' not in home and 'id="no-project-creation"' in home and "Ask a site admin" in home
            assert answer.status_code == 403 and "Ask a site admin" in answer.json()["detail"]
            with pytest.raises(CommandError, match="Ask a site admin"):
                call_command("create_project", f"cli-{who}", "--name", "C", "--as", user.username)
            assert not Project.objects.filter(slug__endswith=who).exists()
    made = api_as("admin").post("/api/v1/projects", {"slug": "by-root", "name": "R"}, format="json")
    assert made.status_code == 201 and Membership.objects.get(project__slug="by-root").user == cast["admin"]
    client.force_login(cast["labeler"])
    chinese = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "Ask a site admin" not in chinese and "Letters, digits" not in chinese


def test_a_project_made_in_the_django_admin_has_its_maker_as_admin(client, cast):
    client.force_login(cast["admin"])
    inline = {f"memberships-{k}": v for k, v in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))}
    made = client.post("/admin/projects/project/add/", {"slug": "adm", "name": "Adm", **inline})
    assert made.status_code == 302
    assert Membership.objects.get(project__slug="adm").user == cast["admin"]
