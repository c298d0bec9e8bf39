"""lenet.grid: digits in the cells of a grid or a row of boxes, on generated forms."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from lenet.grid import find_grid, read_grid
from tests.images.synth import digit_set

CELL = 60


@pytest.fixture(scope="module")
def digits():
    return digit_set(1)  # one clean glyph per digit: the templates of the test classifier too


def template_classifier(templates: np.ndarray):
    """A model stand-in: probabilities from the correlation of each input with the ten digit templates."""
    t = templates.reshape(10, -1).astype(np.float32) / 255.0
    t = (t - t.mean(1, keepdims=True)) / t.std(1, keepdims=True)

    def classify(xs: np.ndarray) -> np.ndarray:
        x = xs.reshape(len(xs), -1).astype(np.float32)
        x = (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-6)
        s = 8.0 * (x @ t.T) / x.shape[1]
        e = np.exp(s - s.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    return classify


def draw_form(images: np.ndarray, table: list[list[int | None]], *, thick_every: int = 0, margin: int = 80,
              seed: int = 0) -> np.ndarray:
    """Dark grid lines and digits (None: empty cell) on light paper, each digit shifted and a little off-size."""
    rng = np.random.default_rng(seed)
    rows, cols = len(table), len(table[0])
    h, w = margin * 2 + rows * CELL, margin * 2 + cols * CELL
    page = np.full((h, w), 235, np.uint8)
    for r, row in enumerate(table):
        for c, d in enumerate(row):
            if d is None:
                continue
            side = int(CELL * rng.uniform(0.75, 0.9))
            glyph = cv2.resize(images[d], (side, side), interpolation=cv2.INTER_LINEAR)
            x0 = margin + c * CELL + (CELL - side) // 2 + int(rng.integers(-3, 4))
            y0 = margin + r * CELL + (CELL - side) // 2 + int(rng.integers(-3, 4))
            sub = page[y0:y0 + side, x0:x0 + side]
            np.minimum(sub, (235 - glyph.astype(np.int32) * 200 // 255).astype(np.uint8), out=sub)
    for i in range(rows + 1):
        t = 4 if thick_every and i % thick_every == 0 else 2
        cv2.line(page, (margin, margin + i * CELL), (margin + cols * CELL, margin + i * CELL), 40, t)
    for j in range(cols + 1):
        t = 4 if thick_every and j % thick_every == 0 else 2
        cv2.line(page, (margin + j * CELL, margin), (margin + j * CELL, margin + rows * CELL), 40, t)
    return page


def in_perspective(page: np.ndarray, seed: int = 0) -> np.ndarray:
    """The page photographed at an angle on a darker table."""
    rng = np.random.default_rng(seed)
    h, w = page.shape
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jitter = rng.uniform(-0.06, 0.06, (4, 2)) * [w, h]
    dst = (src * 0.8 + [0.1 * w, 0.1 * h] + jitter).astype(np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(page, m, (w, h), borderValue=90)


def sudoku(seed: int = 0, empty_every: int = 4) -> list[list[int | None]]:
    rng = np.random.default_rng(seed)
    table = rng.integers(0, 10, (9, 9)).tolist()
    for k in range(0, 81, empty_every):
        table[k // 9][k % 9] = None
    return table


def read_digits(rows: list[list[dict]]) -> list[list[int | None]]:
    return [[it["digit"] for it in row] for row in rows]


def test_sudoku_read_cell_by_cell(digits):
    """A 9x9 grid with thick box lines and empty cells reads back cell by cell, in reading order."""
    images, _ = digits
    table = sudoku(1)
    page = draw_form(images, table, thick_every=3)
    grid = find_grid(page)
    assert grid is not None and grid.shape == (9, 9)
    rows = read_grid(page, template_classifier(images))
    assert read_digits(rows) == table
    assert all(it["empty"] == (d is None) for row, trow in zip(rows, table) for it, d in zip(row, trow))
    # Boxes are in the page's pixels: the first cell's box sits where it was drawn.
    x, y, w, h = rows[0][0]["box"]
    assert abs(x - 80) <= 6 and abs(y - 80) <= 6 and abs(w - CELL) <= 6 and abs(h - CELL) <= 6


def test_grid_in_perspective_on_a_table(digits):
    """A form photographed at an angle is found, flattened, and still read in order."""
    images, _ = digits
    table = sudoku(2)
    photo = in_perspective(draw_form(images, table, thick_every=3), seed=3)
    grid = find_grid(photo)
    assert grid is not None and grid.shape == (9, 9)
    got = read_digits(read_grid(photo, template_classifier(images), grid=grid))
    right = sum(a == b for ra, rb in zip(got, table) for a, b in zip(ra, rb))
    assert right >= 79  # resampling may blur a glyph or two into its neighbour's template


def test_row_of_boxes(digits):
    """A boxed form (one row of boxes, as for a postcode) reads left to right."""
    images, _ = digits
    table = [[3, 1, 4, None, 5, 9]]
    page = draw_form(images, table)
    grid = find_grid(page)
    assert grid is not None and grid.shape == (1, 6)
    assert read_digits(read_grid(page, template_classifier(images))) == table


@pytest.mark.parametrize("kind", ["blank", "ruled", "squared", "digits"])
def test_no_grid(kind, digits):
    """A page without a grid (blank, ruled, squared, loose digits) gives None, so the reader falls back to
    segmenting."""
    images, _ = digits
    page = np.full((600, 800), 230, np.uint8)
    if kind in ("ruled", "squared"):
        for y in range(60, 600, 45 if kind == "ruled" else 12):
            cv2.line(page, (0, y), (799, y), 150, 2)
    if kind == "squared":  # a maths exercise book: 5 mm squares, digits written across them
        for x in range(5, 800, 12):
            cv2.line(page, (x, 0), (x, 599), 150, 2)
        for i in range(8):
            page[200:260, 60 + 90 * i:120 + 90 * i] -= (cv2.resize(images[i], (60, 60)) * 0.5).astype(np.uint8)
    if kind == "digits":
        for i in range(8):
            page[200:260, 60 + 90 * i:120 + 90 * i] -= (cv2.resize(images[i], (60, 60)) * 0.7).astype(np.uint8)
    assert find_grid(page) is None
    assert read_grid(page, template_classifier(images)) is None


def test_line_remains_are_not_ink(digits):
    """A grid of empty cells reads all empty: the cell borders are not taken for digits."""
    images, _ = digits
    table = [[None] * 5 for _ in range(4)]
    rows = read_grid(draw_form(images, table), template_classifier(images))
    assert rows is not None and len(rows) == 4 and all(len(r) == 5 for r in rows)
    assert all(it["empty"] and it["digit"] is None and it["confidence"] == 0.0 for r in rows for it in r)
