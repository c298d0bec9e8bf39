"""The app shell in a real browser: Home renders with the shipped model, pages switch, deep links keep the app."""
import re

from playwright.sync_api import expect

from bench.server import streamlit_server


def test_home_then_every_page(app_page):
    """A new user lands on Home with the shipped model and can open every page from the sidebar."""
    page = app_page
    picker = page.get_by_test_id("stSidebar").locator(".st-key-sidebar_model").first
    expect(picker.get_by_role("combobox").first).to_have_value(
        re.compile(r"^shipped · LeNet \(shipped, handwriting-augmented\) · lenet · 9\d\.\d\d %$"))
    nav = page.get_by_test_id("stSidebarNav")
    for title in ("Train", "Draw", "Upload", "Preprocessing Lab", "Evaluate", "Inside", "Home"):
        nav.get_by_text(title, exact=True).click()
        expect(page.get_by_role("heading").first).to_be_visible()
        expect(page.get_by_test_id("stException")).to_have_count(0)


def test_deep_link_on_a_fresh_server_keeps_the_sidebar(browser, tmp_path):
    """Opening /evaluate as the very first request still shows the app's sidebar and the Evaluate page."""
    with streamlit_server(env={"LENET_MODELS_DIR": str(tmp_path / "models")}, log_path=tmp_path / "log.txt") as (url, _):
        page = browser.new_page()
        page.goto(url + "/evaluate")
        picker = page.get_by_test_id("stSidebar").locator(".st-key-sidebar_model").first
        picker.wait_for(timeout=60_000)
        page.locator(".st-key-eval_n").first.wait_for(timeout=60_000)
        assert page.url.rstrip("/").endswith("/evaluate")
        page.close()
