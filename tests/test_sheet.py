"""lenet.sheet: the synthetic scanned page of digits."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lenet.sheet import format_labels, load_labels, make_sheet, save_sheet
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
