"""In real Chromium: switch pages, train on a small subset from the UI, watch the chart, use the new run."""
import re

from playwright.sync_api import expect


def _nav(page, title):
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()


def _set_number(page, key, value):
    box = page.locator(f".st-key-{key} input").first
    box.fill(str(value))
    box.press("Enter")


def _choose(page, key, option, tries=5):
    """Pick a selectbox option; a click that lands during a rerun opens nothing, so try again."""
    for attempt in range(tries):
        page.locator(f".st-key-{key} input").first.click()
        item = page.get_by_role("option", name=option).first
        try:
            item.click(timeout=5_000)
            break
        except Exception:  # playwright's TimeoutError: the list did not open this time
            page.keyboard.press("Escape")
            if attempt == tries - 1:
                raise
    expect(page.locator(f".st-key-{key} input").first).to_have_value(option, timeout=10_000)


def test_train_from_ui_then_evaluate(app_page):
    """A user trains a quick LeNet-1 from the Train page, sees the curves move, and evaluates the new run."""
    page = app_page
    _nav(page, "Train")
    page.locator(".st-key-train_start button").first.wait_for()
    _choose(page, "train_arch", re.compile("LeNet-1"))
    _set_number(page, "train_subset", 1000)
    _set_number(page, "train_epochs", 2)
    _set_number(page, "train_batch", 32)
    page.locator(".st-key-train_name input").first.fill("e2e quick run")
    page.locator(".st-key-train_name input").first.press("Enter")
    page.locator(".st-key-train_start button").first.click()
    # The live chart appears while training and is redrawn as batches arrive.
    chart = page.locator(".st-key-train_live_chart").first
    chart.wait_for(timeout=120_000)
    # Finished: the run becomes the active model in the sidebar picker.
    picker = page.get_by_test_id("stSidebar").locator(".st-key-sidebar_model")
    expect(picker.get_by_role("combobox").first).to_have_value(re.compile("e2e quick run"), timeout=240_000)

    _nav(page, "Evaluate")
    page.locator(".st-key-eval_n").first.wait_for(timeout=60_000)
    heatmap = page.locator(".st-key-eval_confusion").first
    heatmap.wait_for(timeout=120_000)
    expect(heatmap.locator(".main-svg").first).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()  # the classification report
