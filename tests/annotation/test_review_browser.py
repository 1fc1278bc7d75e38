"""A reviewer in a real browser, by keyboard only (Playwright driving Debian's chromium, as tests/annotation/
test_browser.py): 1 and a reason rejects the first labeler's ranking, O and an order adjudicates the next task."""

from __future__ import annotations

from annotation.models import Consensus, Ranking
from annotation.services import update_ranking_config
from projects.services import create_user
from tests.annotation.test_browser import ARTIFACTS, browser, login  # noqa: F401 - the browser fixture
from tests.annotation.test_review import ranked  # noqa: F401 - two tasks ranked by two labelers


def test_reviewer_rejects_and_adjudicates_by_keyboard(browser, live_server, project, ranked):  # noqa: F811
    (one, two), first, _ = ranked
    update_ranking_config(project=project, review_policy="sample", review_sample_rate=1.0)
    create_user(username="rev", role="reviewer", password="a-long-test-password-1", project=project)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    login(page, live_server, "rev", "/label/alpha/review/")
    assert page.get_attribute("#review-state", "data-task") == str(one.pk)
    assert page.locator("tr.ranking-row").count() == 2 and page.locator("tr.order-row").count() == 1

    page.keyboard.press("1")  # the first labeler's ranking: the caret goes to its reason
    page.keyboard.press("Enter")  # no reason yet: said, and the caret stays
    assert page.locator("tr.ranking-row .reject-error").first.is_visible()
    assert page.evaluate("document.activeElement.classList.contains('reject-reason')")
    page.keyboard.type("B is better than A")
    page.screenshot(path=str(ARTIFACTS / "review-reject.png"), full_page=True)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    rejected = Ranking.objects.get(task=one, labeler=first)
    assert rejected.rejected and rejected.reject_reason == "B is better than A"

    assert page.get_attribute("#review-state", "data-task") == str(two.pk)  # the next task in the queue
    page.keyboard.press("o")
    page.keyboard.type("C > B > A")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    a, b, c = two.completion_ids
    consensus = Consensus.objects.get(task=two)
    assert (consensus.ranking, consensus.method) == ([[c], [b], [a]], "adjudicated")
    assert page.locator("#review-done").is_visible()
