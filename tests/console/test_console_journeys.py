"""Every console journey of a project admin who is not staff, in a real browser (Playwright, Debian chromium),
each ending in a screenshot under DATA_DIR/screenshots: set up a project in Chinese (create it, members, endpoint,
token); import seeds and review generated instructions by keyboard; sample, change the overlap and open a task
from the dashboard; evaluate a model; rank on the labeler page with the touch buttons, expanders and K=2 view."""

from __future__ import annotations

import json

from tests.annotation.conftest import labelers, make_tasks  # noqa: F401 - shared fixtures
from tests.annotation.test_browser import ARTIFACTS, browser, login  # noqa: F401 - fixture and helpers


def _page(browser, live_server, username, path, **options):  # noqa: F811
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900}, **options)
    login(page, live_server, username, locale_path=path)
    return page


def test_a_project_is_set_up_in_chinese(browser, live_server, cast, settings):  # noqa: F811
    from django.contrib.auth.models import Permission

    from llm.models import LLMEndpoint
    from projects.models import Membership

    settings.PROJECT_ENDPOINT_HOSTS = ["127.0.0.1"]
    cast["project_admin"].user_permissions.add(Permission.objects.get(codename="add_project"))
    page = _page(browser, live_server, "padmin", "/", locale="zh-CN")
    page.fill("#new-project input[name=slug]", "gamma")
    page.fill("#new-project input[name=name]", "伽马")
    page.click("#new-project button[type=submit]")
    page.wait_for_url("**/console/gamma/")
    assert "正在运行" in page.inner_text("main")
    page.click("#members")
    page.fill("#add-member input[name=username]", "lab")  # a project admin invites; the invitee accepts
    page.click("#add-member button[type=submit]")
    page.wait_for_selector("#shown-link")
    assert not Membership.objects.filter(user__username="lab", project__slug="gamma").exists()
    page.click("#rotate-token")
    page.wait_for_selector("#shown-token")
    page.screenshot(path=str(ARTIFACTS / "journey-members-zh.png"), full_page=True)
    page.goto(f"{live_server.url}/console/gamma/endpoints/")
    page.fill("#endpoint-form input[name=name]", "gamma-teacher")
    page.fill("#endpoint-form input[name=base_url]", "http://127.0.0.1:9/v1")
    page.fill("#endpoint-form input[name=model]", "m")
    page.click("#endpoint-form button[type=submit]")
    page.wait_for_selector('tr[data-endpoint="gamma-teacher"]')
    assert LLMEndpoint.objects.get(name="gamma-teacher").project.slug == "gamma"
    page.screenshot(path=str(ARTIFACTS / "journey-endpoints-zh.png"), full_page=True)
    page.goto(f"{live_server.url}/console/gamma/project")
    page.fill("#project-settings textarea[name=guidelines]", "先看事实，再看语气。")
    page.click("#project-settings button[type=submit]")
    page.wait_for_selector("text=项目已保存。")
    page.click("#language-switch button[value=en]")  # the switcher keeps the page
    page.wait_for_selector("text=Project settings")
    page.goto(f"{live_server.url}/console/gamma/endpoints/")
    page.wait_for_selector("text=LLM endpoints")
    assert page.url.endswith("/console/gamma/endpoints/")


def test_seeds_imported_and_instructions_reviewed(browser, live_server, cast, project, endpoint, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    from selfinstruct.batches import start_batch
    from selfinstruct.models import GeneratedInstruction
    from tests.helpers.generation import drive

    bad, good = tmp_path / "bad.jsonl", tmp_path / "seeds.jsonl"
    bad.write_text('{"instruction": ""}\n{oops\n')
    good.write_text(
        "".join(
            json.dumps({"instruction": f"Write a haiku about {w}."}) + "\n"
            for w in ("rain", "snow", "wind", "the sea", "a city", "a cat", "tea", "stone")
        )
    )
    page = _page(browser, live_server, "padmin", "/console/alpha/")
    page.click("#seeds")
    page.set_input_files("#seed-import input[name=file]", str(bad))
    page.click("#seed-import button[type=submit]")
    assert page.locator("#problems li").count() == 2  # every bad line, not only the first
    page.set_input_files("#seed-import input[name=file]", str(good))
    page.click("#seed-import button[type=submit]")
    page.wait_for_selector('[data-language="en"]')
    page.fill("#seed-search input[name=q]", "haiku about tea")
    page.click("#seed-search button[type=submit]")
    assert page.locator("#seeds tbody tr").count() == 1
    page.screenshot(path=str(ARTIFACTS / "journey-seeds.png"), full_page=True)
    batch = drive(start_batch(project=project, endpoint=endpoint, template_name="alpaca", target=4, seed=1))
    page.goto(f"{live_server.url}/console/alpha/batches/{batch.pk}/")
    page.wait_for_selector("canvas#timeline[data-drawn]")  # accepted/rejected over time, Chart.js
    page.screenshot(path=str(ARTIFACTS / "journey-batch.png"), full_page=True)
    page.click("#batch-output")
    first = page.locator("article.review-card").first
    first_id = first.get_attribute("data-id")
    # Playwright's locator assertion, not wait_for_function: that one polls a string through new Function(), which
    # the pages' CSP (no 'unsafe-eval') refuses whenever the first check is not already true (seen under load).
    focused = expect(page.locator(f"#card-{first_id}")).to_be_focused
    focused(timeout=30_000)  # on load
    second_id = page.locator("article.review-card").nth(1).get_attribute("data-id")
    third_id = page.locator("article.review-card").nth(2).get_attribute("data-id")
    page.keyboard.press("r")  # the first card has the focus: rejected in place, and the focus moves on
    page.wait_for_selector(f'#card-{first_id}[data-status="rejected"]')
    expect(page.locator(f"#card-{second_id}")).to_be_focused(timeout=30_000)
    assert GeneratedInstruction.objects.get(pk=first_id).reason == "reviewer"
    # A slow settle (as under load): htmx gives the focus back to the redrawn card at once, by id; the settle then
    # moves it on to the next card, once.
    page.evaluate("htmx.config.defaultSettleDelay = 600")
    page.keyboard.press("r")  # the second card (accepted, so "a" would do nothing) rejected too
    page.wait_for_selector(f'#card-{second_id}[data-status="rejected"]')
    expect(page.locator(f"#card-{third_id}")).to_be_focused(timeout=30_000)
    expect(page.locator(f"#card-{second_id}.htmx-settling")).to_have_count(0, timeout=30_000)
    expect(page.locator(f"#card-{third_id}")).to_be_focused()  # "x" marks the focused card
    page.keyboard.press("x")
    expect(page.locator(f"#card-{third_id} input[type=checkbox]")).to_be_checked(timeout=30_000)
    page.click("#bulk-reject")
    page.wait_for_selector(f'#card-{third_id}[data-status="rejected"]')
    page.screenshot(path=str(ARTIFACTS / "journey-review.png"), full_page=True)


def test_sampling_overlap_and_a_task(browser, live_server, cast, project, endpoint, make_tasks, labelers):  # noqa: F811
    from annotation.claims import claim_next_ranking_task, submit_ranking
    from annotation.models import RankingTask, SamplingRun
    from annotation.sampling import run_sampling_chunk
    from selfinstruct.services import import_seed_file

    path = ARTIFACTS.parent / "journey-seeds.jsonl"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"instruction": f"Give one tip about topic {i}."}) + "\n" for i in range(3)))
    import_seed_file(project=project, path=path)
    page = _page(browser, live_server, "padmin", "/console/alpha/")
    page.click("#sampling")
    page.fill("input[name=per_prompt]", "2")
    page.check("#new-sampling input[value=seed]")
    page.uncheck("#new-sampling input[value=generated]")
    page.click("#new-sampling button[type=submit]")
    page.wait_for_selector('[data-status="running"]')
    run = SamplingRun.objects.get()
    for number in range(run.chunks_total):
        run_sampling_chunk(run_id=run.pk, number=number)  # as a worker would
    page.wait_for_selector('[data-status="succeeded"]', timeout=10_000)  # live
    run.refresh_from_db()  # a prompt whose two answers are one text has nothing to rank: no task (issue 35)
    assert page.locator("#run-tasks tbody tr").count() + run.prompts_single_answer == 3
    page.screenshot(path=str(ARTIFACTS / "journey-sampling.png"), full_page=True)
    (user,) = labelers(1)
    claim = claim_next_ranking_task(project=project, labeler=user)
    submit_ranking(task=claim.task, labeler=user, ranking=list(reversed(claim.task.completion_ids)))
    task = claim.task  # complete with the project's overlap of 1
    page.goto(f"{live_server.url}/console/alpha/ranking/settings")
    page.fill("#ranking-settings input[name=overlap]", "2")
    page.check("#ranking-settings input[name=apply_to_open]")
    page.click("#ranking-settings button[type=submit]")
    page.wait_for_selector("text=Ranking settings saved.")
    assert set(RankingTask.objects.filter(is_complete=False).values_list("required", flat=True)) == {2}
    assert RankingTask.objects.get(pk=task.pk).required == 1  # a complete task stays as it was
    page.goto(f"{live_server.url}/label/alpha/dashboard/")
    page.wait_for_selector("canvas#throughput[data-drawn]")
    page.fill("#task-id", str(task.pk))
    page.click("#task-jump button[type=submit]")
    page.wait_for_selector("#orders")
    assert page.locator("#orders tr[data-labeler]").count() == 1 and "B > A" in page.inner_text("#orders")
    page.screenshot(path=str(ARTIFACTS / "journey-task.png"), full_page=True)


def test_a_model_is_evaluated_from_the_console(browser, live_server, cast, project, endpoint, tmp_path):  # noqa: F811
    from training.evaluations import run_evaluation
    from training.models import EvaluationRun

    prompts = tmp_path / "evalset.jsonl"
    prompts.write_text(
        "".join(
            json.dumps({"question": f"Name colour {i}.", "reference": "Blue.", "category": c}) + "\n"
            for i, c in enumerate(["easy", "easy", "hard"])
        )
    )
    page = _page(browser, live_server, "padmin", "/console/alpha/")
    page.click("#models")
    page.select_option("#evaluate select[name=model_endpoint]", endpoint.name)
    page.select_option("#evaluate select[name=judge_endpoint]", endpoint.name)
    page.set_input_files("#evaluate input[name=prompts]", str(prompts))
    page.click("#evaluate button[type=submit]")
    page.wait_for_selector('[data-status="queued"]')
    run_evaluation(run_id=EvaluationRun.objects.get().pk)  # as a worker would
    page.wait_for_selector('#evaluation-table tr[data-category="hard"]', timeout=10_000)  # live
    page.screenshot(path=str(ARTIFACTS / "journey-evaluation.png"), full_page=True)


def test_the_labeler_page_on_a_touch_screen(browser, live_server, cast, project, make_tasks):  # noqa: F811
    from annotation.models import Completion, Ranking

    (task,) = make_tasks(1, k=2)
    long_answer = "\n\n".join(f"Paragraph {i}: " + "words " * 40 for i in range(30))
    Completion.objects.filter(pk=task.completion_ids[0]).update(text=long_answer)
    page = _page(browser, live_server, "lab", "/label/alpha/", has_touch=True)
    with page.expect_navigation():  # opening the page claims nothing: Start does
        page.locator("#start-button").tap()
    assert page.get_attribute("#ranking", "class") == "ranking pair"  # K=2 side by side
    boxes = [page.locator("li.completion").nth(i).bounding_box() for i in (0, 1)]
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 2 and boxes[1]["x"] > boxes[0]["x"]
    body = page.locator("li.completion").first.locator(".body")
    assert "collapsed" in body.get_attribute("class")
    page.locator("li.completion").first.locator(".expand").click()
    assert "collapsed" not in body.get_attribute("class")
    page.screenshot(path=str(ARTIFACTS / "journey-labeler-pair.png"), full_page=True)
    page.locator("li.completion").nth(1).locator(".move-up").tap()
    shown = [int(x) for x in page.eval_on_selector_all("li.completion", "els => els.map(e => e.dataset.id)")]
    assert shown == [task.completion_ids[1], task.completion_ids[0]]
    page.click("#submit-button")
    page.wait_for_url("**/label/alpha/")
    assert Ranking.objects.get().ranking == [[task.completion_ids[1]], [task.completion_ids[0]]]
