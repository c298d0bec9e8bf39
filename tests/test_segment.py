"""lenet.segment: digits found on pages, in reading order, and read with any classifier."""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from lenet import preprocess as pp
from lenet.io import decode_image
from lenet.segment import crop_digits, find_digits, is_sheet, read_sheet
from lenet.sheet import make_sheet
from tests.images.synth import digit_set, glyph, on_paper

SMALL = dict(scale=(2.5, 3.0))


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter)


def assert_matches(found, truth, min_iou=0.5):
    """Same grid shape (every digit found, rows in reading order) and each box on its true digit."""
    assert [len(r) for r in found] == [len(r) for r in truth]
    for r, (fr, tr) in enumerate(zip(found, truth)):
        for c, (f, t) in enumerate(zip(fr, tr)):
            assert iou(f, t) >= min_iou, (r, c, f, t)


def as_jpeg(page: np.ndarray, quality: int = 80) -> np.ndarray:
    b = io.BytesIO()
    Image.fromarray(page).save(b, "JPEG", quality=quality)
    return decode_image(b.getvalue())


@pytest.fixture(scope="module")
def digits():
    return digit_set(3)


@pytest.fixture(scope="module")
def full_sheet(digits):
    page, labels, boxes = make_sheet(*digits, seed=0)
    return as_jpeg(page), labels, boxes


def test_full_sheet_every_digit_in_reading_order(full_sheet):
    grey, labels, boxes = full_sheet
    found = find_digits(grey)
    assert len(found) == 15 and all(len(r) == 10 for r in found)
    assert_matches(found, boxes)


@pytest.mark.parametrize("angle", [3.0, -3.0])
def test_tilted_page(digits, angle):
    page, _, boxes = make_sheet(*digits, seed=1, rows=8, rotate=angle, **SMALL)
    assert_matches(find_digits(as_jpeg(page)), boxes)


def test_ruled_page_with_specks(digits):
    page, _, boxes = make_sheet(*digits, seed=2, rows=8, ruled=True, specks=300, **SMALL)
    assert_matches(find_digits(as_jpeg(page)), boxes)


def test_500_digits(digits):
    page, _, boxes = make_sheet(*digits, seed=3, rows=25, cols=20, scale=(1.6, 2.0))
    found = find_digits(cv2.cvtColor(page, cv2.COLOR_RGB2GRAY))
    assert sum(len(r) for r in found) == 500
    assert_matches(found, boxes, min_iou=0.4)


def test_one_digit_on_a_page():
    g = np.zeros((600, 450), np.uint8)
    g[200:400, 120:320] = glyph(6)
    ys, xs = np.nonzero(g > 128)
    found = find_digits(on_paper(g, shadow=0.4))
    assert len(found) == 1 and len(found[0]) == 1
    assert iou(found[0][0], (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)) > 0.8


@pytest.mark.parametrize("page", [
    np.zeros((400, 300), np.uint8), np.full((400, 300), 255, np.uint8),
    on_paper(np.zeros((500, 400), np.uint8), shadow=0.5),
], ids=["black", "white", "shadowed paper"])
def test_blank_page(page):
    assert find_digits(page) == []
    assert not is_sheet(page)
    assert read_sheet(page, lambda xs: np.full((len(xs), 10), 0.1, np.float32)) == []


def test_canvas_with_several_digits_white_on_black():
    canvas = np.zeros((200, 800), np.uint8)
    for i, d in enumerate((2, 0, 2, 4)):
        canvas[:, i * 200:(i + 1) * 200] = glyph(d)
    found = find_digits(canvas)
    assert len(found) == 1 and len(found[0]) == 4
    assert [b[0] for b in found[0]] == sorted(b[0] for b in found[0])


def test_multi_stroke_digits_stay_one_box():
    row = np.zeros((220, 1000), np.uint8)
    row[10:210, 0:200] = glyph(1)
    # A 4 drawn as two strokes that do not touch: an open "L" with a bar, and a separate down-stroke.
    cv2.line(row, (260, 40), (235, 130), 255, 12)
    cv2.line(row, (235, 130), (292, 130), 255, 12)
    cv2.line(row, (312, 70), (316, 195), 255, 12)
    # A 5 written in three strokes that do not touch: neck, bowl, and a cap set off to the right.
    cv2.ellipse(row, (520, 140), (40, 38), 0, -80, 160, 255, 12)
    cv2.line(row, (490, 50), (487, 100), 255, 12)
    cv2.line(row, (512, 30), (568, 26), 255, 12)
    row[10:210, 700:900] = glyph(7)
    assert cv2.connectedComponents((row > 0).astype(np.uint8))[0] - 1 == 7
    found = find_digits(on_paper(row))
    assert len(found) == 1 and len(found[0]) == 4
    x, y, w, h = found[0][1]
    assert x <= 236 and x + w >= 318 and y <= 40 and y + h >= 195  # both strokes of the 4
    x, y, w, h = found[0][2]
    assert x <= 484 and y <= 26 and x + w >= 568 and y + h >= 175  # the 5 with its neck and cap


def test_is_sheet(full_sheet):
    assert is_sheet(full_sheet[0])
    assert not is_sheet(glyph(8))
    assert not is_sheet(on_paper(glyph(5), shadow=0.3))
    two = np.zeros((200, 400), np.uint8)
    two[:, :200], two[:, 200:] = glyph(1), glyph(2)
    assert not is_sheet(two)


def test_crop_digits_margin_and_neighbours_painted_out():
    page = np.full((120, 300), 230, np.uint8)
    page[20:100, 40:60] = 20
    page[20:100, 80:100] = 20  # a neighbour 20 px away
    rows = [[(40, 20, 20, 80), (80, 20, 20, 80)]]
    crops = crop_digits(page, rows, margin=0.2)
    c = crops[0][0]
    m = int(round(0.2 * 80)) + 2
    assert c.shape == (80 + 2 * m, 20 + 2 * m)
    assert c[m:-m, m:m + 20].max() == 20  # own ink kept
    assert c.min(axis=0)[m + 20:].min() > 200  # the neighbour's ink inside the margin painted as paper


def test_read_sheet_structure_and_model_inputs(digits):
    page, labels, boxes = make_sheet(*digits, seed=4, rows=2, **SMALL)
    grey = cv2.cvtColor(page, cv2.COLOR_RGB2GRAY)
    seen = []

    def classify(xs):
        seen.append(xs)
        p = np.full((len(xs), 10), 0.01, np.float32)
        p[:, 3] = 0.91
        return p

    out = read_sheet(grey, classify, style="pad_1.5")
    assert len(seen) == 1 and seen[0].shape == (20, 28, 28) and seen[0].dtype == np.float32
    assert [len(r) for r in out] == [10, 10]
    item = out[1][4]
    assert item["digit"] == 3 and item["confidence"] == pytest.approx(0.91)
    assert item["probs"].shape == (10,) and item["x"].shape == (28, 28)
    assert iou(item["box"], boxes[1][4]) > 0.5
    assert item["pre"].style == "pad" and item["pre"].pad_scale == 1.5
    np.testing.assert_array_equal(seen[0][14], item["x"])
    again = pp.preprocess(item["crop"], "pad_1.5", polarity="dark_on_light").x
    np.testing.assert_array_equal(again, item["x"])  # same path as a single upload


def test_read_sheet_with_template_classifier(digits):
    """A nearest-template classifier on the `mnist` style reads a clean synthetic sheet almost perfectly."""
    images, labels = digits
    templates = pp.preprocess_batch(images, "mnist").reshape(len(images), -1)

    def classify(xs):
        d = ((xs.reshape(len(xs), 1, -1) - templates[None]) ** 2).sum(-1)
        best = np.full((len(xs), 10), np.inf)
        for k in range(10):
            best[:, k] = d[:, labels == k].min(axis=1)
        p = np.exp(-(best - best.min(1, keepdims=True)))
        return p / p.sum(1, keepdims=True)

    page, truth, _ = make_sheet(images, labels, seed=5, rows=3, **SMALL)
    out = read_sheet(as_jpeg(page), classify)
    pred = [[d["digit"] for d in row] for row in out]
    acc = np.mean(np.array(pred) == np.array(truth))
    assert acc >= 0.9
