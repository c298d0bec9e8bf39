"""In real Chromium at a phone's width (390 px) and with a real photo: digit grids wrap instead of stacking, the
Draw answer sits next to the canvas, and the bundled phone photo is read digit by digit."""
import re

import pytest
from playwright.sync_api import expect

from lenet import config
from tests.e2e.test_draw_upload import DIGITS, _canvas, _nav, _no_traceback, _stroke, _upload

pytestmark = pytest.mark.skipif(not (config.DEFAULT_MODEL_DIR / "model.keras").exists(),
                                reason="shipped model missing")

PHONE = {"width": 390, "height": 844}  # an iPhone 12-14 viewport, CSS pixels


@pytest.fixture
def phone(page, app_url):
    """A browser tab at phone size; ``go(path)`` opens a page by its URL (the sidebar is folded away on a phone)."""
    page.set_default_timeout(30_000)
    page.set_viewport_size(PHONE)

    def go(path):
        page.goto(f"{app_url}/{path}")
        page.get_by_role("heading").first.wait_for(timeout=60_000)
        return page

    return go


def _main_height(page) -> int:
    return page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")


def test_upload_grid_wraps_on_a_phone(phone):
    """On a 390 px phone the sample sheet's 150 digits wrap several to a line: the page is not 22,000 px tall"""
    page = phone("upload")
    page.locator(".st-key-upload_sample button").first.click()
    grid = page.locator('[data-testid="stCaptionContainer"]').filter(has_text=re.compile(r"^#\d+ "))
    expect(grid).to_have_count(150, timeout=90_000)
    tops = [round(grid.nth(i).bounding_box()["y"]) for i in range(10)]  # the first sheet row: 0-9
    per_line = max(tops.count(t) for t in set(tops))
    print(f"phone: {per_line} digits per grid line, page {_main_height(page)} px tall")
    assert per_line >= 4, tops
    assert _main_height(page) < 12_000
    _no_traceback(page)


def test_draw_answer_is_next_to_the_canvas_on_a_phone(phone):
    """On a 390 px phone a user draws a 7 and reads the answer without scrolling: it is in view with the canvas"""
    page = phone("draw")
    box = _canvas(page, 0)
    for points in DIGITS["7"]:
        _stroke(page, box, points)
    answer = page.locator(".st-key-draw_answer_top")
    expect(answer).to_contain_text(re.compile(r"Predicted \d · \d+ % sure"), timeout=30_000)
    a, c = answer.bounding_box(), page.locator(".st-key-draw_canvas_0 canvas.upper-canvas").first.bounding_box()
    assert 0 <= a["y"] and a["y"] + a["height"] <= PHONE["height"], a  # in the viewport …
    assert c["y"] >= 0 and c["y"] + c["height"] <= PHONE["height"], c  # … together with the canvas
    _no_traceback(page)


def _has_page_reader() -> bool:
    try:
        import lenet.page  # noqa: F401  READER's page finder; without it the photo is one blob on a dark desk
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _has_page_reader(), reason="needs lenet.page.read_page (the page finder) merged")
def test_real_photo_is_read(app_page):
    """A user uploads the bundled phone photo of a sticky note and sees its digits (14 on the note) read as a sheet"""
    page = app_page
    _nav(page, "Upload")
    _upload(page, config.ASSETS_DIR / "sample_photo.jpg")
    expect(page.get_by_text("looks like a sheet").first).to_be_visible(timeout=90_000)
    grid = page.locator('[data-testid="stCaptionContainer"]').filter(has_text=re.compile(r"^#\d+ "))
    expect(grid.nth(11)).to_be_visible(timeout=60_000)  # most of the 14 digits found (the reader may miss one)
    expect(page.get_by_text(re.compile(r"How sample_photo\.jpg was read: photo → ")).first).to_be_visible()
    _no_traceback(page)
