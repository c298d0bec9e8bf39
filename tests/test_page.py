"""lenet.page: pages as people photograph them (on a table, in perspective, turned, shadowed, on yellow paper)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from lenet import preprocess as pp
from lenet.light import even_light
from lenet.page import DOUBT_CONFIDENCE, find_page, read_page
from lenet.sheet import make_sheet
from tests.images.synth import digit_set, glyph, on_paper

SMALL = dict(scale=(2.5, 3.0))
STAGES = ["photo", "page found", "flattened", "light evened", "ink", "boxes"]


@pytest.fixture(scope="module")
def digits():
    return digit_set(3)


@pytest.fixture(scope="module")
def classify(digits):
    """A nearest-template classifier on the `mnist` style: sure of upright digits, unsure of turned ones."""
    images, labels = digits
    templates = pp.preprocess_batch(images, "mnist").reshape(len(images), -1)

    def run(xs):
        d = ((xs.reshape(len(xs), 1, -1) - templates[None]) ** 2).sum(-1)
        best = np.full((len(xs), 10), np.inf)
        for k in range(10):
            best[:, k] = d[:, labels == k].min(axis=1)
        p = np.exp(-(best - best.min(1, keepdims=True)))
        return (p / p.sum(1, keepdims=True)).astype(np.float32)

    return run


@pytest.fixture(scope="module")
def sheet(digits):
    page, labels, boxes = make_sheet(*digits, seed=7, rows=3, rotate=0.0, shadow=False, **SMALL)
    return page, labels, boxes


def digits_right(rows, truth) -> float:
    """Fraction of true digits read right, rows joined, by edit distance (as the benchmark scores a page)."""
    got = [d["digit"] for row in rows for d in row]
    want = [d for row in truth for d in row]
    prev = list(range(len(want) + 1))
    for i, g in enumerate(got, 1):
        cur = [i]
        for j, w in enumerate(want, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (g != w)))
        prev = cur
    return max(0.0, 1 - prev[-1] / len(want))


def iou(a, b) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / (a[2] * a[3] + b[2] * b[3] - ix * iy)


def on_table(page: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Photograph a page lying on a dark, grainy table, seen in perspective. Returns (photo, true corners)."""
    rng = np.random.default_rng(seed)
    h, w = page.shape[:2]
    W, H = int(w * 1.6), int(h * 1.5)
    table = np.clip(rng.normal(45, 12, (H, W, 1)), 0, 255).astype(np.uint8).repeat(3, axis=2)
    corners = np.float32([[0.22 * W, 0.12 * H], [0.80 * W, 0.18 * H], [0.74 * W, 0.90 * H], [0.18 * W, 0.84 * H]])
    m = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), corners)
    warped = cv2.warpPerspective(page, m, (W, H))
    inside = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (W, H)) > 127
    photo = np.where(inside[:, :, None], warped, table)
    return photo, corners


def test_page_found_and_flattened_on_a_table(sheet, classify):
    page, labels, _ = sheet
    photo, corners = on_table(page)
    quad = find_page(photo)
    assert quad is not None
    side = max(photo.shape[:2])
    assert np.abs(quad - corners).max() < 0.03 * side  # each corner within 3 % of the photo's side
    r = read_page(photo, classify)
    assert list(r.stages) == STAGES
    fh, fw = r.stages["flattened"].shape[:2]
    tl, tr, br, bl = corners
    aspect = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)) / max(np.linalg.norm(bl - tl),
                                                                           np.linalg.norm(br - tr))
    assert abs(fw / fh / aspect - 1) < 0.05  # a rectangle with the sides of the page as seen
    assert r.is_sheet and r.orientation == 0 and r.grid is None
    assert [len(row) for row in r.rows] == [len(row) for row in labels]
    assert digits_right(r.rows, labels) >= 0.9
    assert r.page.shape == r.stages["light evened"].shape
    for row in r.rows:
        for d in row:
            assert d["doubtful"] == (d["confidence"] < DOUBT_CONFIDENCE)


def test_a_scan_is_not_cropped(sheet):
    """A page that fills the frame (a scan, a tight photo) has no table around it: the whole image is the page."""
    assert find_page(sheet[0]) is None


@pytest.mark.parametrize("turn", [90, 270])
def test_a_turned_page_is_read_upright(sheet, classify, turn):
    page, labels, _ = sheet
    stored = np.ascontiguousarray(np.rot90(page, -turn // 90))  # stored turned clockwise by `turn`
    r = read_page(stored, classify)
    assert r.orientation == turn
    assert r.page.shape[:2] == page.shape[:2]
    assert [len(row) for row in r.rows] == [len(row) for row in labels]
    assert digits_right(r.rows, labels) >= 0.9


def test_hard_shadow_is_not_a_digit(sheet, classify):
    """A hand's hard-edged shadow across the page: no giant "digit", and the digits under it are read."""
    page, labels, boxes = sheet
    h, w = page.shape[:2]
    shade = np.ones((h, w), np.float32)
    pts = np.int32([[0, int(0.45 * h)], [w, int(0.25 * h)], [w, h], [0, h]])
    cv2.fillPoly(shade, [pts], 0.4)
    shadowed = (page.astype(np.float32) * shade[:, :, None]).astype(np.uint8)
    r = read_page(shadowed, classify)
    assert [len(row) for row in r.rows] == [len(row) for row in labels]
    for row, true_row in zip(r.rows, boxes):
        for d, t in zip(row, true_row):
            assert iou(d["box"], t) > 0.5
    assert digits_right(r.rows, labels) >= 0.9


def test_coloured_ink_on_yellow_paper(sheet, classify):
    """Blue and red pen on yellow paper: the paper becomes white, both inks dark, every digit read."""
    page, labels, _ = sheet
    grey = cv2.cvtColor(page, cv2.COLOR_RGB2GRAY).astype(np.float32)
    paper = float(np.percentile(grey, 90))
    a = np.clip((paper - grey) / (paper - grey.min()), 0, 1)[:, :, None]
    h, w = grey.shape
    ink = np.where(np.arange(w)[None, :, None] < w // 2, [[[40, 60, 170]]], [[[190, 30, 40]]])  # blue | red
    rgb = (np.float32([245, 232, 120]) * (1 - a) + ink * a).astype(np.uint8)
    even = even_light(rgb)
    assert np.median(even) > 240 and even[a[:, :, 0] > 0.9].mean() < 140
    r = read_page(rgb, classify)
    assert [len(row) for row in r.rows] == [len(row) for row in labels]
    assert digits_right(r.rows, labels) >= 0.9


def test_single_digit_is_a_page_with_one_box(classify):
    g = np.zeros((400, 300), np.uint8)
    g[100:300, 50:250] = glyph(4)
    r = read_page(on_paper(g), classify)
    assert not r.is_sheet and r.orientation == 0
    assert [len(row) for row in r.rows] == [1] and r.rows[0][0]["digit"] == 4


def test_blank_page_reads_nothing(classify):
    r = read_page(on_paper(np.zeros((300, 400), np.uint8), shadow=0.5), classify)
    assert r.rows == [] and not r.is_sheet and list(r.stages) == STAGES


def test_a_tilted_scan_is_levelled(digits, classify):
    """A page fed askew (6 degrees): the page the boxes refer to is level, every digit read in its row."""
    page, labels, _ = make_sheet(*digits, seed=8, rows=3, rotate=6.0, shadow=False, **SMALL)
    r = read_page(page, classify)
    assert [len(row) for row in r.rows] == [len(row) for row in labels]
    for row in r.rows:
        cy = [d["box"][1] + d["box"][3] / 2 for d in row]
        cx = [d["box"][0] + d["box"][2] / 2 for d in row]
        slope = np.polyfit(cx, cy, 1)[0]
        assert abs(np.degrees(np.arctan(slope))) < 1.5
    assert digits_right(r.rows, labels) >= 0.9


def test_the_paper_rim_is_not_a_digit():
    """A box centred in the outer band of a found page (its rim, a sliver of table) is dropped; digits stay"""
    from lenet.page import _without_rim

    digit = {"box": (100, 60, 20, 40), "empty": False}
    rim = {"box": (493, 79, 5, 41), "empty": False}  # measured on the bundled real photo's flattened page
    assert _without_rim([[digit, rim], [rim]], (369, 503)) == [[digit]]
