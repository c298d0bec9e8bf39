"""In real Chromium: draw digits with the mouse on the real canvas, upload the sample sheet and label it, and upload a
handful of bad files next to a good one — never a traceback."""
import re

import pytest
from playwright.sync_api import expect

from lenet import config
from tests.badfiles import write_zoo


pytestmark = pytest.mark.skipif(not (config.DEFAULT_MODEL_DIR / "model.keras").exists(),
                                reason="shipped model missing")


def _nav(page, title):
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()


def _no_traceback(page):
    expect(page.get_by_test_id("stException")).to_have_count(0)
    text = page.locator("body").inner_text()
    assert "Traceback" not in text and not re.search(r"\b\w*Error: ", text), text[:2000]


# ---------------------------------------------------------------------------------------------------- Draw
def _stroke(page, box, points, steps=12):
    """One pen stroke through points given in canvas pixels (the canvas is 280×280)."""
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + points[0][0], y0 + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x0 + x, y0 + y, steps=steps)
    page.mouse.up()


def _canvas(page, n):
    """The n-th canvas (Clear gives a new key): its drawing layer, once shown."""
    layer = page.locator(f".st-key-draw_canvas_{n} canvas.upper-canvas").first
    layer.wait_for(timeout=60_000)
    layer.scroll_into_view_if_needed()
    return layer.bounding_box()


DIGITS = {
    "1": [[(140, 45), (142, 235)]],  # one vertical stroke
    "7": [[(75, 60), (205, 60)], [(205, 60), (170, 130), (130, 235)]],  # the bar, then the leg
    "0": [[(140, 45), (85, 80), (70, 140), (85, 200), (140, 235), (195, 200), (210, 140), (195, 80), (140, 45)]],
}


def test_draw_digits_with_the_mouse(app_page):
    """A user draws a 1, a 7 (two strokes) and a 0 with the mouse and sees each predicted, clearing in between"""
    page = app_page
    _nav(page, "Draw")
    expect(page.get_by_text("Draw a digit on the black square").first).to_be_visible(timeout=60_000)
    shown = page.locator(".big-digit").first
    for n, (digit, strokes) in enumerate(DIGITS.items()):
        if n:
            page.locator(".st-key-draw_clear button").first.click()
            expect(page.get_by_text("Draw a digit on the black square").first).to_be_visible()
        box = _canvas(page, n)
        for points in strokes:
            _stroke(page, box, points)
        expect(shown).to_have_text(digit, timeout=30_000)
        if len(strokes) > 1:  # the first stroke's answer may show first: the last stroke's must stay
            page.wait_for_timeout(2_000)
            expect(shown).to_have_text(digit)
        expect(page.get_by_text(re.compile(r"^\d+\.\d % sure$")).first).to_be_visible()  # under the big digit
    # The stages the model saw, down to its 28×28 input.
    expect(page.get_by_text("What the model saw")).to_be_visible()
    expect(page.get_by_text(re.compile(r"model input\s*28×28")).first).to_be_visible()
    _no_traceback(page)


# ---------------------------------------------------------------------------------------------------- Upload
def _upload(page, *paths):
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files([str(p) for p in paths])


def test_upload_sample_sheet_and_type_labels(app_page):
    """A user uploads the sample sheet, types 0123456789 as its labels and sees the grid graded and ≥ 97 % right"""
    page = app_page
    _nav(page, "Upload")
    _upload(page, config.SAMPLE_SHEET)
    labels = page.locator('[class*="st-key-upload_seq_"] textarea').first
    labels.wait_for(timeout=90_000)
    expect(page.get_by_text(re.compile(r"True labels \(150 digits in 15 rows\)")).first).to_be_visible()
    labels.fill("0123456789")
    labels.press("Control+Enter")
    accuracy = page.get_by_test_id("stMetric").filter(has_text="Accuracy").get_by_test_id("stMetricValue").first
    expect(accuracy).to_have_text(re.compile(r"\d+\.\d+ %"), timeout=90_000)
    value = float(accuracy.inner_text().rstrip(" %"))
    print(f"sample sheet in the browser: {value:.2f} % right")
    assert value >= 97.0, value
    # The grid of crops, each labelled green (right) or red (wrong), 150 in all.
    grid = page.locator('[data-testid="stCaptionContainer"]').filter(has_text=re.compile(r"^#\d+ "))
    expect(grid).to_have_count(150)
    green = grid.filter(has=page.locator(".stMarkdownColoredText, [data-testid='stMarkdownColoredText']"))
    assert green.count() == 150  # every caption coloured: all digits have a true label
    wrong = grid.filter(has_text="(true ")
    assert wrong.count() == round(150 * (1 - value / 100)), (wrong.count(), value)
    _no_traceback(page)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory, mnist):
    folder = tmp_path_factory.mktemp("zoo")
    return folder, write_zoo(folder, (mnist.x_test, mnist.y_test))


def test_upload_bad_files_next_to_a_good_one(app_page, zoo):
    """A user uploads a text file renamed .png, a truncated PNG, a decompression bomb and a good digit at once:
    one clear message per bad file, the good digit is read, no traceback anywhere"""
    folder, expect_ = zoo
    page = app_page
    _nav(page, "Upload")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.wait_for(state="attached", timeout=60_000)
    bad = ["notes.png", "truncated.png", "bomb.png"]
    good = "cmyk.jpg"
    _upload(page, *(folder / name for name in [*bad, good]))
    alerts = page.get_by_test_id("stAlert")
    for name in bad:
        message = alerts.filter(has_text=f"{name} was skipped").first
        expect(message).to_be_visible(timeout=90_000)
        assert alerts.filter(has_text=f"{name} was skipped").count() == 1
    expect(alerts.filter(has_text="notes.png").first).to_contain_text("Not a recognised image")
    expect(alerts.filter(has_text="truncated.png").first).to_contain_text("truncated")
    expect(alerts.filter(has_text="bomb.png").first).to_contain_text("megapixels")
    # The good file is read as one digit: its row, and its prediction in the labels table.
    row = page.get_by_test_id("stMarkdownContainer").filter(has_text=good).filter(has_text="looks like one digit")
    expect(row.first).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    captions = page.locator('[data-testid="stCaptionContainer"]').filter(has_text=good)
    expect(captions.first).to_contain_text(f"#1 {expect_[good]}")
    _no_traceback(page)
