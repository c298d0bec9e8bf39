"""In real Chromium: train on a small subset from the UI, reload mid-run and find the job, use the new run."""
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


def test_train_reload_mid_run_then_evaluate(app_page):
    """A user starts a LeNet-1 training, reloads the page while it runs, finds the job and its live curves on the
    Train page, uses the finished run and evaluates it."""
    page = app_page
    _nav(page, "Train")
    page.locator(".st-key-train_start button").first.wait_for(timeout=90_000)  # TensorFlow builds the layer table
    _choose(page, "train_arch", re.compile("LeNet-1"))
    _set_number(page, "train_subset", 4000)
    _set_number(page, "train_epochs", 3)
    _set_number(page, "train_batch", 32)
    page.locator(".st-key-train_name input").first.fill("e2e quick run")
    page.locator(".st-key-train_name input").first.press("Enter")
    page.locator(".st-key-train_start button").first.click()
    box = page.locator(".st-key-train_job_box").first
    expect(box).to_be_visible(timeout=60_000)
    expect(box.get_by_text("Epoch", exact=False).first).to_be_visible(timeout=120_000)  # training, live

    page.reload()  # a new session on the same /train address: the session is gone, the job is not
    page.locator(".st-key-train_start button").first.wait_for(timeout=90_000)
    pick = page.locator(".st-key-train_job_pick input").first
    expect(pick).to_have_value(re.compile("e2e quick run"), timeout=60_000)
    expect(page.get_by_text("Recent jobs on this server")).to_be_visible()
    expect(page.locator(".st-key-train_live_chart").first).to_be_visible()
    use = page.locator(".st-key-train_use button").first
    use.wait_for(timeout=240_000)  # the job finished, saved and measured while we watched
    expect(box.get_by_text("Saved as", exact=False).first).to_be_visible()
    use.click()
    picker = page.get_by_test_id("stSidebar").locator(".st-key-sidebar_model")
    expect(picker.get_by_role("combobox").first).to_have_value(re.compile("e2e quick run · lenet1"), timeout=60_000)

    _nav(page, "Evaluate")
    page.locator(".st-key-eval_n").first.wait_for(timeout=60_000)
    heatmap = page.locator(".st-key-eval_confusion").first
    heatmap.wait_for(timeout=120_000)
    expect(heatmap.locator(".main-svg").first).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()  # the classification report
