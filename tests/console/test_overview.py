"""The project overview (console): the loop as stages with numbers and the next action, and the runs going on
now (every registered run kind) in a panel the page polls; for the project's admins only, who are not staff."""

from demo.teacher import default_seed_files
from llm.services import create_endpoint
from selfinstruct.batches import start_batch
from selfinstruct.services import import_seed_file
from tests.annotation.conftest import labelers, make_tasks  # noqa: F401 - fixtures
from tests.helpers.labeling import start_ranking


def test_an_empty_project_says_to_import_seeds(client, cast):
    client.force_login(cast["project_admin"])
    page = client.get("/console/alpha/").content.decode()
    assert 'data-stage="seeds"' in page and "Import seed tasks" in page and "manage.py import_seeds" in page
    assert "Nothing is running in this project." in page and 'hx-get="/console/alpha/running"' in page
    for who in ("labeler", "consumer", "other_admin"):
        client.force_login(cast[who])
        assert client.get("/console/alpha/").status_code == 404, who
    client.force_login(cast["project_admin"])
    assert 'href="/console/alpha/"' in client.get("/").content.decode()  # linked from the home page


def test_running_work_shows_in_the_polled_panel_and_the_next_action_moves_on(client, cast, project):
    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    endpoint = create_endpoint(name="teach", base_url="http://127.0.0.1:9/v1", model="m")
    client.force_login(cast["project_admin"])
    page = client.get("/console/alpha/").content.decode()
    assert "Import seed tasks" not in page and "Start a generation batch" in page
    batch = start_batch(project=project, endpoint=endpoint, template_name="alpaca", target=5)  # no worker: it waits
    panel = client.get("/console/alpha/running").content.decode()
    assert f'data-kind="generation" data-id="{batch.pk}"' in panel and "running" in panel and "0 / 5" in panel
    assert "Start a generation batch" not in panel and "<strong>1</strong> batches" in panel  # stages refresh too
    page = client.get("/console/alpha/").content.decode()
    assert "Start a generation batch" not in page and f'data-id="{batch.pk}"' in page
    chinese = client.get("/console/alpha/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "种子任务" in chinese and "正在运行" in chinese


def test_the_labeler_page_links_admins_to_the_dashboard_and_overview(client, cast, make_tasks):  # noqa: F811
    make_tasks(2)  # one for each of them
    client.force_login(cast["project_admin"])
    page = start_ranking(client).content.decode()
    assert 'href="/label/alpha/dashboard/"' in page and 'href="/console/alpha/"' in page
    client.force_login(cast["labeler"])
    page = start_ranking(client).content.decode()
    assert 'id="ranking"' in page and "/label/alpha/dashboard/" not in page and "/console/alpha/" not in page


def test_the_language_switcher_in_the_top_bar_keeps_the_page(client, cast, project):
    client.force_login(cast["project_admin"])
    page = client.get("/console/alpha/").content.decode()
    assert 'id="language-switch"' in page and 'name="language" value="zh-hans"' in page
    switched = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/console/alpha/"})
    assert switched.status_code == 302 and switched["Location"] == "/console/alpha/"
    chinese = client.get("/console/alpha/").content.decode()
    assert '<html lang="zh-hans">' in chinese and "正在运行" in chinese
    assert "排序" in client.get("/label/alpha/").content.decode()  # the labeler page too
    away = client.post("/i18n/setlang/", {"language": "en", "next": "https://evil.example/"})
    assert away["Location"] == "/"  # never a redirect off the site
    assert '<html lang="en">' in client.get("/console/alpha/").content.decode()
