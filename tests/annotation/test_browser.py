"""A labeler in a real browser (Playwright driving Debian's chromium, no browser download): logs in, ranks by
keyboard and by drag-and-drop, skips, flags, undoes; the rankings land in the database; screenshots render."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from annotation.models import Completion, Ranking, RankingTask
from tests.testenv import REQUIRE_SERVICES

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ["DATA_DIR"]) / "screenshots"

if not Path(CHROMIUM).exists():
    if REQUIRE_SERVICES:
        raise RuntimeError(f"chromium not found at {CHROMIUM}: `make test` installs it with apt-get (Debian chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the ORM calls the test makes are still plain
    # synchronous calls, so Django's async-safety guard does not apply to them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


def login(page, live_server, username: str, locale_path: str = "/label/alpha/"):
    page.goto(f"{live_server.url}/accounts/login/?next={locale_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "a-long-test-password-1")
    page.click("main button[type=submit]")
    page.wait_for_url(f"**{locale_path}")


def press_start(page):
    """The labeler page claims nothing when opened: its Start button has the focus, and Enter presses it (a POST)."""
    assert page.evaluate("() => document.activeElement.id") == "start-button"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_selector("#ranking")


def shown_ids(page) -> list[int]:
    return [int(x) for x in page.eval_on_selector_all("li.completion", "els => els.map(e => e.dataset.id)")]


def current_task(page) -> int:
    return int(page.get_attribute("#ranking", "data-task"))


def test_labeler_ranks_by_keyboard_and_drag_skips_and_flags(browser, live_server, cast, project, make_tasks):
    make_tasks(5, k=4)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    login(page, live_server, "lab")
    press_start(page)

    # 1. Keyboard: focus the last answer, press 1 (to the top); Shift+ArrowDown moves the first answer down.
    task_a = current_task(page)
    before = shown_ids(page)
    page.focus("li.completion:nth-child(4)")
    page.keyboard.press("1")
    page.keyboard.press("ArrowDown")  # focus moves to the (old) first answer, now second
    page.keyboard.press("Shift+ArrowDown")  # … and it moves to third
    expected = [before[3], before[1], before[0], before[2]]
    assert shown_ids(page) == expected
    assert page.inner_text("li.completion:nth-child(1) .rank-badge") == "1"
    page.screenshot(path=str(ARTIFACTS / "rank-keyboard.png"), full_page=True)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert Ranking.objects.get(task_id=task_a).ranking == [[i] for i in expected]

    # 2. Drag and drop: drag the last card above the first.
    task_b = current_task(page)
    before = shown_ids(page)
    page.drag_and_drop("li.completion:nth-child(4)", "li.completion:nth-child(1)", target_position={"x": 20, "y": 5})
    after = shown_ids(page)
    assert after[0] == before[3] and sorted(after) == sorted(before)
    with page.expect_navigation():
        page.click("#submit-button")
    ranking = Ranking.objects.get(task_id=task_b)
    assert ranking.ranking == [[i] for i in after] and ranking.time_spent_ms > 0

    # 3. Untouched order: the first Enter only warns; Undo takes the last submission back.
    with page.expect_navigation():
        page.keyboard.press("u")
    assert current_task(page) == task_b and not Ranking.objects.filter(task_id=task_b).exists()
    as_stored = shown_ids(page)  # the task comes back in its stored order
    page.set_viewport_size({"width": 1200, "height": 600})  # the notice must show where the eye is, not below
    page.focus("li.completion:nth-child(1)")
    page.keyboard.press("Enter")
    assert "not changed the order" in page.inner_text("#notice")
    box = page.locator("#notice").bounding_box()
    assert box and box["y"] >= 0 and box["y"] + box["height"] <= 600 and box["height"] > 10, box
    assert page.get_attribute("#notice", "aria-live") == "polite"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert Ranking.objects.get(task_id=task_b).ranking == [[i] for i in as_stored]

    # 4. Skip with the S key: the task goes back to the pool, never to this labeler again.
    task_c = current_task(page)
    with page.expect_navigation():
        page.keyboard.press("s")
    assert current_task(page) != task_c
    assert RankingTask.objects.get(pk=task_c).active_count == 0

    # 5. Flag with a comment, no ranking.
    task_d = current_task(page)
    page.select_option("#flag-select", "harmful")
    page.fill("#comment-input", "tells how to pick locks")
    with page.expect_navigation():
        page.click("#submit-button")
    flagged = Ranking.objects.get(task_id=task_d)
    assert flagged.flag == "harmful" and flagged.comment == "tells how to pick locks" and flagged.ranking == []

    shot = ARTIFACTS / "rank-page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_ties_by_keyboard_and_chinese_ui(browser, live_server, cast, project, make_tasks):
    (task,) = make_tasks(1, k=3, allow_ties=True)
    texts = ["长城是中国古代的军事防御工程，全长两万多公里。", "```python\nprint('你好')\n```", "**重点**：注意安全。"]
    for completion, text in zip(Completion.objects.filter(pk__in=task.completion_ids), texts, strict=True):
        completion.text = text
        completion.save()
    context = browser.new_context(locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    page = context.new_page()
    login(page, live_server, "lab")
    assert "开始排序" in page.inner_text("#start-button")
    press_start(page)
    assert "提交" in page.inner_text("#submit-button") and page.get_attribute("html", "lang") == "zh-hans"
    ids = shown_ids(page)
    page.focus("li.completion:nth-child(3)")
    page.keyboard.press("=")  # tie the third with the second
    assert page.inner_text("li.completion:nth-child(3) .rank-badge") == "2"
    shot = ARTIFACTS / "rank-zh.png"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    # CJK glyphs really render: the Chinese answer is as wide as its characters, not collapsed tofu-free boxes
    width = page.evaluate("() => document.querySelector('li.completion .body p').getBoundingClientRect().width")
    assert width > 200
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_selector("#all-done")
    assert Ranking.objects.get(task=task).ranking == [[ids[0]], [ids[1], ids[2]]]


def test_aspects_strength_and_rationale_by_keyboard(browser, live_server, cast, project, make_tasks):
    """A project that asks aspects, a strength per pair and a required rationale: Enter before answering names what
    is missing and submits nothing; digits rate the focused aspect, Tab walks on to the strength and the rationale."""
    from annotation.services import update_ranking_config

    (task,) = make_tasks(1, k=2)
    aspects = [
        {"key": "helpfulness", "label": "Helpfulness", "label_zh": "有用性", "min": 0, "max": 4},
        {"key": "safety", "label": "Safety", "label_zh": "安全性", "min": 1, "max": 3},
    ]
    update_ranking_config(project=project, aspects=aspects, ask_strength=True, rationale="required")
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    login(page, live_server, "lab")
    press_start(page)
    page.focus("li.completion:nth-child(2)")
    page.keyboard.press("1")  # the second answer to the top
    best, other = shown_ids(page)
    page.keyboard.press("Enter")
    assert "Rate every answer on every aspect" in page.inner_text("#notice")
    assert not Ranking.objects.filter(task=task).exists()
    assert page.evaluate("() => document.activeElement.dataset.key") == "helpfulness"  # the first one missing
    for key in ["4", "Tab", "3", "Tab", "1", "ArrowRight", "Tab", "0", "2"]:  # 0 is off the 1–3 scale: ignored
        page.keyboard.press(key)
    assert page.get_attribute(f"li.completion[data-id='{other}'] .aspect[data-key=safety]", "data-value") == "2"
    page.keyboard.press("Tab")  # to the strength of the one pair
    assert page.evaluate("() => document.activeElement.classList.contains('strength')")
    page.keyboard.press("2")  # better
    page.keyboard.press("Tab")  # to the rationale
    page.keyboard.type("B answers what")
    page.keyboard.press("Enter")  # a new line in the box, no submission
    page.keyboard.type("was asked")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "rank-aspects.png"), full_page=True)
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")  # submits from the box
    row = Ranking.objects.get(task=task)
    assert row.ranking == [[best], [other]]
    assert row.aspects == {str(best): {"helpfulness": 4, "safety": 3}, str(other): {"helpfulness": 2, "safety": 2}}
    assert (row.strengths, row.rationale.splitlines()) == (["better"], ["B answers what", "was asked"])
