"""A project admin (not staff) in a real browser (Playwright, Debian chromium): signs in,
goes from the home page to the project's overview, and watches a generation batch appear in the running-now panel
without reloading (htmx polling); the same page in Chinese. Screenshots under DATA_DIR/screenshots."""

from __future__ import annotations

import pytest

from tests.annotation.test_browser import ARTIFACTS, browser, login  # noqa: F401 - fixture and helpers


@pytest.mark.long(20)
def test_admin_follows_the_loop_on_the_overview_and_sees_running_work_live(browser, live_server, cast, project):  # noqa: F811
    from demo.teacher import default_seed_files
    from llm.services import create_endpoint
    from selfinstruct.batches import start_batch
    from selfinstruct.services import import_seed_file

    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    login(page, live_server, "padmin", locale_path="/")
    page.click("text=Overview")
    page.wait_for_url("**/console/alpha/")
    assert page.inner_text('[data-stage="generation"] .next').startswith("Next:")
    assert "Nothing is running" in page.inner_text("#running")
    endpoint = create_endpoint(name="teach", base_url="http://127.0.0.1:9/v1", model="m")
    batch = start_batch(project=project, endpoint=endpoint, template_name="alpaca", target=5)  # no worker: it waits
    page.wait_for_selector(f'#running tr[data-kind="generation"][data-id="{batch.pk}"]', timeout=10_000)  # live
    assert page.inner_text('[data-stage="generation"] .numbers') == "1 batches"  # the stages refresh too
    page.screenshot(path=str(ARTIFACTS / "console-overview.png"), full_page=True)
    # Start another batch from the form (defaults picked), watch its page, pause it and cancel it on the page.
    page.click("#start-batch")
    page.wait_for_url("**/console/alpha/generation/new")
    page.fill("input[name=target]", "3")
    page.click("#new-batch button[type=submit]")
    page.wait_for_url("**/console/alpha/batches/*/")
    assert page.get_attribute("[data-status]", "data-status") == "running"
    assert page.inner_text("[data-status]") == "Running"  # in words, translated
    page.click("#pause")
    page.wait_for_selector('[data-status="paused"]')
    assert page.inner_text("#batch-event").startswith("· paused at ")  # when, and by whom
    page.wait_for_selector('canvas#timeline[data-bands-drawn="1"]')  # the pause shaded on the chart
    page.screenshot(path=str(ARTIFACTS / "console-batch-paused.png"), full_page=True)
    page.click("#cancel")
    try:
        page.wait_for_selector('[data-status="cancelled"]', timeout=10_000)
    except Exception as exc:  # seen once in many runs: say what the page showed instead
        raise AssertionError(f"not cancelled; the page said: {page.inner_text('main')[:800]}") from exc
    # Build a dataset version from the form; its page turns ready by itself once the build is done.
    from exports.models import DatasetVersion
    from exports.services import build_dataset_version

    page.goto(f"{live_server.url}/console/alpha/")
    page.click("#datasets")
    page.check("input[name=languages][value=en]")
    page.click("#new-version button[type=submit]")
    page.wait_for_selector('[data-status="building"]')
    version = DatasetVersion.objects.get()
    build_dataset_version(version_id=version.pk, token=str(version.build_token))  # as a worker would
    page.wait_for_selector('[data-status="ready"]', timeout=10_000)  # live
    assert page.locator(".row-preview").count() == 5
    page.wait_for_selector("canvas[data-bars='stats-lengths'][data-drawn]")  # stats as bar charts
    page.screenshot(path=str(ARTIFACTS / "console-dataset.png"), full_page=True)
    # Training curves: Chart.js from npm, a chart per metric family (counters apart), smoothing on a slider, eval
    # points drawn as dots; the page no wider than the window.
    from training.models import TrainingJob, TrainingMetric

    job = TrainingJob.objects.create(project=project, dataset_version=version, kind="sft", base_model="x")
    values = {"learning_rate": 2e-5, "num_tokens": 4096.0}
    TrainingMetric.objects.bulk_create(
        [TrainingMetric(job=job, step=s, values={"loss": 3.0 / s, **values}) for s in range(1, 41)]
        + [TrainingMetric(job=job, step=s, values={"eval_loss": 2.5 / s}) for s in (10, 20, 30, 40)]
    )
    page.goto(f"{live_server.url}/console/alpha/training/{job.pk}/")
    page.wait_for_selector("canvas#chart-loss[data-drawn]")
    assert page.get_attribute("canvas#chart-loss", "data-drawn") == "3"  # loss raw + smoothed, eval_loss dots
    assert page.locator("#charts canvas").count() == 2 and page.evaluate("formatMetric(2e-5)") == "2e-5"
    ticks = "[7.5743, 7.5744, 7.5745].map((v, i, a) => formatTick(v, i, a.map((value) => ({value}))))"
    assert page.evaluate(ticks) == ["7.5743", "7.5744", "7.5745"]  # a narrow axis: neighbouring ticks differ
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.fill("#smoothing", "0")
    page.dispatch_event("#smoothing", "input")
    assert page.get_attribute("canvas#chart-loss", "data-drawn") == "2"  # no smoothing: no faint raw line
    page.click("#other-charts summary")  # num_tokens: a chart of its own, drawn when opened
    page.wait_for_selector("#other-charts canvas[data-drawn]")
    page.evaluate("window.lossChart = Chart.getChart('chart-loss')")  # the job is queued: its page polls
    TrainingMetric.objects.create(job=job, step=41, values={"loss": 0.07, "grad_norm": 1.5})
    page.wait_for_selector("canvas#chart-grad_norm[data-drawn]", timeout=10_000)  # a new family appears live
    assert page.evaluate("Chart.getChart('chart-loss') === window.lossChart")  # updated in place, not redrawn
    page.screenshot(path=str(ARTIFACTS / "console-training-curves.png"), full_page=True)
    chinese = browser.new_page(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    login(chinese, live_server, "padmin", locale_path="/console/alpha/")
    assert "正在运行" in chinese.inner_text("main") and "种子任务" in chinese.inner_text("main")
    chinese.screenshot(path=str(ARTIFACTS / "console-overview-zh.png"), full_page=True)
