"""lenet.sheet: the synthetic scanned page of digits."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import cv2

from lenet.sheet import CONDITIONS, format_labels, load_labels, make_sheet, save_sheet
from tests.images.synth import digit_set

SMALL = dict(rows=3, cols=10, scale=(2.5, 3.0))  # a quick page for most tests


@pytest.fixture(scope="module")
def digits():
    return digit_set(3)


def test_layout_labels_and_boxes(digits):
    page, labels, boxes = make_sheet(*digits, seed=0, **SMALL)
    assert page.dtype == np.uint8 and page.ndim == 3 and page.shape[2] == 3
    assert labels == [list(range(10))] * 3
    assert [len(r) for r in boxes] == [10, 10, 10]
    h, w = page.shape[:2]
    for r, row in enumerate(boxes):
        for c, (x, y, bw, bh) in enumerate(row):
            assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h
            assert 30 <= bh <= 70  # a 20 px MNIST box enlarged 2.5-3x
            if c:
                assert x > row[c - 1][0]  # left to right
        if r:
            assert min(b[1] for b in row) > min(b[1] for b in boxes[r - 1])


def test_looks_like_dark_ink_on_paper(digits):
    page, _, boxes = make_sheet(*digits, seed=1, **SMALL)
    grey = page.mean(axis=2)
    assert np.median(grey) > 150  # mostly paper
    x, y, bw, bh = boxes[0][1]
    assert grey[y:y + bh, x:x + bw].min() < 90  # dark ink inside a box
    assert grey.std() > 5  # uneven light and grain, not a flat page


def test_deterministic_by_seed(digits):
    a = make_sheet(*digits, seed=3, **SMALL)
    b = make_sheet(*digits, seed=3, **SMALL)
    c = make_sheet(*digits, seed=4, **SMALL)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[2] == b[2]
    assert a[0].shape != c[0].shape or not np.array_equal(a[0], c[0])


def test_rotation_moves_boxes(digits):
    _, _, flat = make_sheet(*digits, seed=5, rotate=0.0, **SMALL)
    _, _, tilted = make_sheet(*digits, seed=5, rotate=2.0, **SMALL)
    # Counter-clockwise (positive) rotation lifts the right end of a row relative to the left end.
    drop_flat = flat[0][-1][1] - flat[0][0][1]
    drop_tilted = tilted[0][-1][1] - tilted[0][0][1]
    assert drop_tilted < drop_flat - 10


def test_default_grid_is_15_by_10(digits):
    page, labels, boxes = make_sheet(*digits, seed=0)
    assert len(labels) == 15 and all(r == list(range(10)) for r in labels)
    assert sum(len(r) for r in boxes) == 150
    assert 1500 <= page.shape[1] <= 1800 and 2300 <= page.shape[0] <= 2700  # ~200 dpi A4


def test_missing_digit_is_an_error(digits):
    images, labels = digits
    keep = labels != 7
    with pytest.raises(ValueError, match="digit 7"):
        make_sheet(images[keep], labels[keep], **SMALL)


def test_save_sheet_and_labels_round_trip(tmp_path, digits):
    jpg, txt = tmp_path / "out" / "sheet.jpg", tmp_path / "out" / "labels.txt"
    page, labels, _ = make_sheet(*digits, seed=2, **SMALL)
    save_sheet(jpg, txt, page, labels)
    im = Image.open(jpg)
    assert im.format == "JPEG" and im.mode == "RGB" and im.size == (page.shape[1], page.shape[0])
    assert np.abs(np.asarray(im).astype(int) - page).mean() < 4  # only JPEG artefacts
    assert txt.read_text() == "0123456789\n" * 3
    assert load_labels(txt) == labels


def test_labels_format():
    assert format_labels([[0, 1], [2, 3]]) == "01\n23\n"


def test_load_labels_tolerates_spaces_and_blank_lines(tmp_path):
    p = tmp_path / "l.txt"
    p.write_text("0 1 2\n\n345\n")
    assert load_labels(p) == [[0, 1, 2], [3, 4, 5]]
    p.write_text("01x\n")
    with pytest.raises(ValueError):
        load_labels(p)


# ---------------------------------------------------------------------------------------------------- conditions
def _grey(page: np.ndarray) -> np.ndarray:
    return page.astype(np.float32).mean(axis=2)


def _ink_pixels(page: np.ndarray, boxes) -> np.ndarray:
    """(n, 3) RGB of the darkest tenth of the pixels in each digit's box: the ink."""
    out = []
    g = _grey(page)
    for row in boxes:
        for x, y, w, h in row:
            sub, gs = page[y:y + h, x:x + w].reshape(-1, 3), g[y:y + h, x:x + w].ravel()
            out.append(sub[gs <= np.percentile(gs, 10)])
    return np.concatenate(out).astype(np.float32)


def _ratio(page, clean):
    return (_grey(page) + 1) / (_grey(clean) + 1)


def _check_hard_shadow(page, clean, boxes):
    r = _ratio(page, clean)
    assert 0.15 < (r < 0.7).mean() < 0.75  # a big part of the page is in shadow...
    assert ((r > 0.72) & (r < 0.9)).mean() < 0.08  # ...behind a sharp edge


def _check_soft_shadow(page, clean, boxes):
    r = cv2.blur(_ratio(page, clean), (15, 15))
    assert r.min() < 0.7 and ((r > 0.65) & (r < 0.9)).mean() > 0.15  # deep, and fading in gradually


def _check_uneven_light(page, clean, boxes):
    r = cv2.blur(_ratio(page, clean), (15, 15))
    assert r.min() < 0.72 and r.max() > 0.9


def _check_ruled(page, clean, boxes):
    darker = ((_grey(clean) - _grey(page)) > 12).astype(np.uint8)
    darker = cv2.dilate(cv2.morphologyEx(darker, cv2.MORPH_OPEN, np.ones((1, 40), np.uint8)), np.ones((3, 81)))
    n, _, st, _ = cv2.connectedComponentsWithStats(darker, connectivity=8)
    across = (st[1:, cv2.CC_STAT_WIDTH] > 0.8 * page.shape[1]).sum()  # lines right across the (tilted) page
    assert across >= 2 * len(boxes)


def _check_grid(page, clean, boxes):
    from lenet.grid import find_grid

    grid = find_grid(_grey(page).astype(np.uint8))
    assert grid is not None and grid.shape == (len(boxes), len(boxes[0]))


def _check_perspective(page, clean, boxes):
    assert page.shape[0] > clean.shape[0] and page.shape[1] > clean.shape[1]
    corners = np.concatenate([page[:20, :20], page[-20:, -20:]]).reshape(-1, 3).astype(np.float32)
    assert corners.mean() < 130 and corners[:, 0].mean() > corners[:, 2].mean() + 15  # a brown table
    h, w = page.shape[:2]
    assert _grey(page)[h // 2 - 10:h // 2 + 10, w // 2 - 10:w // 2 + 10].max() > 170  # paper in the middle


def _check_rotate(page, clean, boxes):
    (x0, y0, w0, h0), (x1, y1, w1, h1) = boxes[0][0], boxes[0][-1]
    angle = np.degrees(np.arctan2(abs((y1 + h1 / 2) - (y0 + h0 / 2)), (x1 + w1 / 2) - (x0 + w0 / 2)))
    assert 3 <= angle <= 10


def _check_rotate_90(page, clean, boxes):
    assert page.shape[:2] == clean.shape[1::-1]
    xs = [x + w / 2 for x, y, w, h in boxes[0]]
    ys = [y + h / 2 for x, y, w, h in boxes[0]]
    assert np.ptp(xs) < 0.2 * np.ptp(ys)  # a row of the page runs up or down the image


def _check_blur_jpeg_noise(page, clean, boxes):
    def sharpness(a):
        return float(np.percentile(np.abs(cv2.Laplacian(cv2.GaussianBlur(_grey(a), (0, 0), 1), cv2.CV_32F)), 99.5))

    def grain(a):  # in the bottom margin: paper only
        g = _grey(a)[-40:-8, a.shape[1] // 4:3 * a.shape[1] // 4]
        return float(np.std(g - cv2.GaussianBlur(g, (0, 0), 3)))

    assert sharpness(page) < 0.7 * sharpness(clean) and grain(page) > grain(clean)


def _check_low_res(page, clean, boxes):
    assert abs(page.shape[0] / clean.shape[0] - 0.3) < 0.02 and abs(page.shape[1] / clean.shape[1] - 0.3) < 0.02


def _check_blue_ink(page, clean, boxes):
    ink = _ink_pixels(page, boxes).mean(0)
    assert ink[2] > ink[0] + 40


def _check_red_ink(page, clean, boxes):
    ink = _ink_pixels(page, boxes).mean(0)
    assert ink[0] > ink[2] + 40 and ink[0] > ink[1] + 40


def _check_pencil(page, clean, boxes):
    ink, ink0 = _ink_pixels(page, boxes).mean(0), _ink_pixels(clean, boxes).mean(0)
    assert ink.mean() > ink0.mean() + 20 and np.ptp(ink) < 20  # lighter than pen, and grey


def _check_yellow_paper(page, clean, boxes):
    paper = np.median(page.reshape(-1, 3), axis=0)
    assert paper[2] < paper[0] - 50


def _check_clean(page, clean, boxes):
    np.testing.assert_array_equal(page, clean)


def _overlap(a, b) -> float:
    """Intersection over the smaller box's area."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    return iw * ih / min(aw * ah, bw * bh)


COND_PAGE = dict(rows=2, cols=10, scale=(3.0, 3.5))


@pytest.mark.parametrize("condition", CONDITIONS)
def test_condition(condition, digits):
    """Each hard condition looks as it should, keeps the labels and boxes of the layout, and its digits are found
    where the boxes say."""
    from lenet.segment import find_digits

    clean, labels0, _ = make_sheet(*digits, seed=4, **COND_PAGE)
    page, labels, boxes = make_sheet(*digits, seed=4, condition=condition, **COND_PAGE)
    assert page.dtype == np.uint8 and page.ndim == 3
    assert labels == labels0 == [list(range(10))] * 2 and [len(r) for r in boxes] == [10, 10]
    globals()[f"_check_{condition}"](page, clean, boxes)
    h, w = page.shape[:2]
    g = _grey(page)
    for row in boxes:
        for x, y, bw, bh in row:
            assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h
            ring = g[max(0, y - bh // 2):y + bh + bh // 2, max(0, x - bw // 2):x + bw + bw // 2]
            assert g[y:y + bh, x:x + bw].min() < np.median(ring) - 25  # ink inside the box
    found = [b for row in find_digits(page) for b in row]
    hit = sum(any(_overlap(t, f) > 0.5 for f in found) for row in boxes for t in row)
    assert hit == 20


def test_unknown_condition(digits):
    with pytest.raises(ValueError, match="unknown condition"):
        make_sheet(*digits, condition="fog", **SMALL)


def test_cli_help_lists_every_condition():
    from lenet.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["make-sheet"]
    text = next(a for a in sub._actions if a.dest == "condition").help
    assert all(c in text for c in CONDITIONS if c != "clean")


def test_cli_make_sheet_condition(tmp_path, mnist, capsys):
    """make-sheet --condition writes the hard photo and its labels; an unknown condition is a one-line error."""
    from lenet.cli import main

    out, lab = tmp_path / "p.jpg", tmp_path / "p.txt"
    assert main(["make-sheet", "--condition", "fog", "--out", str(out), "--labels", str(lab)]) == 2
    assert "unknown condition 'fog'" in capsys.readouterr().err and not out.exists()
    assert main(["make-sheet", "--condition", "rotate_90", "--rows", "2", "--out", str(out), "--labels", str(lab)]) == 0
    im = Image.open(out)
    assert im.size[1] > im.size[0]  # the landscape 2-row page, turned a quarter
    assert load_labels(lab) == [list(range(10))] * 2
