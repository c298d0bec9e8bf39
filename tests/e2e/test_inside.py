"""In real Chromium: draw a digit, open Inside, and see the network's feature maps for that very drawing."""
import pytest
from playwright.sync_api import expect

from lenet import config
from tests.e2e.test_draw_upload import DIGITS, _canvas, _nav, _no_traceback, _stroke

pytestmark = pytest.mark.skipif(not (config.DEFAULT_MODEL_DIR / "model.keras").exists(),
                                reason="shipped model missing")


def test_inside_shows_maps_for_the_drawing(app_page):
    """A user draws a 7, opens Inside, and sees the conv1 feature maps, the saliency map and the prediction"""
    page = app_page
    _nav(page, "Draw")
    box = _canvas(page, 0)
    for stroke in DIGITS["7"]:
        _stroke(page, box, stroke)
    expect(page.locator(".big-digit").first).to_have_text("7", timeout=60_000)

    _nav(page, "Inside")
    maps = page.locator('[class*="st-key-inside_maps_"]').first  # the first conv layer's maps
    maps.wait_for(timeout=120_000)
    expect(maps.locator(".main-svg").first).to_be_visible()
    expect(page.locator(".st-key-inside_saliency .main-svg").first).to_be_visible(timeout=60_000)
    expect(page.locator(".st-key-inside_source").first).to_contain_text("drawing", ignore_case=True)
    _no_traceback(page)
