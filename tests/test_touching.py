"""lenet.touching and lenet.blobs: touching digits are cut where the model reads the parts best; a thin
digit leaning on its neighbour is not taken for a part of it."""
from __future__ import annotations

import numpy as np
import pytest

from lenet.blobs import attach_fragments, has_loop, merge_parts
from lenet.infer import load_serving, make_classifier
from lenet.page import read_page


@pytest.fixture(scope="module")
def classify():
    return make_classifier(load_serving("default"))


def _row(mnist, picks: list[tuple[int, int]], scale: int = 3) -> np.ndarray:
    """MNIST test digits (index, x offset in 28-px units * scale) on white paper in one row, dark ink."""
    side = 28 * scale
    page = np.zeros((side * 3, side * (len(picks) + 3)), np.float32)
    for idx, x in picks:
        d = np.kron(mnist.x_test[idx].astype(np.float32) / 255, np.ones((scale, scale), np.float32))
        page[side:2 * side, x:x + side] = np.maximum(page[side:2 * side, x:x + side], d)
    return (255 - 215 * page).astype(np.uint8)


def _first(mnist, digit: int, n: int = 1) -> list[int]:
    return [int(i) for i in np.flatnonzero(mnist.y_test == digit)[:n]]


def test_two_touching_zeros_are_read_as_two(mnist, classify):
    """A "00" written with the loops touching: a cut where the ink is thinnest goes through a loop; the cut
    between them (where the ink is thickest) is found among evenly spaced cuts."""
    s = 84
    three, five, seven = _first(mnist, 3)[0], _first(mnist, 5)[0], _first(mnist, 7)[0]
    zeros = _first(mnist, 0, 8)
    found = 0
    for z0, z1 in ((zeros[0], zeros[1]), (zeros[6], zeros[7])):
        # The second 0 starts where the first one's ink ends, less a few px: the loops overlap.
        cols = np.flatnonzero(mnist.x_test[z0].max(0) > 100)
        x1 = s + 3 * int(cols.max()) - 3 * int(np.flatnonzero(mnist.x_test[z1].max(0) > 100).min()) - 6
        page = _row(mnist, [(three, 0), (z0, s), (z1, x1), (five, x1 + s + 10), (seven, x1 + 2 * s + 20)])
        digits = [d["digit"] for row in read_page(page, classify).rows for d in row]
        found += digits == [3, 0, 0, 5, 7]
    assert found == 2


def test_a_thin_digit_leaning_on_its_neighbour_stays_apart():
    """A 1 whose box overlaps a 4's by 4 px (a third of its width) stays its own box; a cap stacked above a body
    joins it."""
    one, four = (88, 34, 11, 48), (95, 42, 22, 34)
    others = [(140, 40, 20, 40), (180, 40, 20, 40), (220, 40, 20, 40)]
    assert sorted(merge_parts(np.array([one, four, *others]))) == sorted([one, four, *others])
    cap, body = (300, 30, 18, 8), (298, 42, 20, 30)
    merged = merge_parts(np.array([cap, body, *others]))
    assert (298, 30, 20, 42) in merged and len(merged) == 4


def test_a_small_zero_alone_in_a_row_is_a_digit():
    """Some writers make their 0s a third as tall as their other digits, with a hole the pen nearly closes; such a
    0 standing apart is a digit, not a speck (a blot that size is rare on a page, a small 0 is not)."""
    digits = [(k * 100, 40, 40, 60) for k in range(4)]
    small = (420, 78, 21, 22)  # 0.37 of the digits' height, on their baseline, far from them
    mask = np.zeros((160, 480), bool)
    mask[78:100, 420:441] = True  # no hole left in the ink
    assert not has_loop(mask, small)
    assert small in attach_fragments([*digits, small], mask)
    dot = (420, 90, 9, 9)  # a speck: kept out
    assert dot not in attach_fragments([*digits, dot], mask)


def test_no_cut_goes_through_a_loop(mnist):
    """A cut between touching digits crosses the ink once, where they meet; one that crosses it twice goes through
    a loop (cut there, the right edge of a 0 reads as a confident 7). A wide 0 is offered cuts through its thick
    sides at most, never through the middle of its loop."""
    import cv2

    from lenet.touching import _candidates

    zero = mnist.x_test[_first(mnist, 0)[0]]
    wide = cv2.resize(zero, (28 * 6, 28 * 3), interpolation=cv2.INTER_LINEAR)  # twice as wide as tall
    page = (255 - 215 * (wide / 255.0)).astype(np.uint8)
    ys, xs = np.nonzero(wide > 60)
    box = (int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
    cands = _candidates(page, box, box[2] / 2.5, "dark_on_light")
    ink = wide > 100
    assert cands  # cuts through the sides are offered (a model may still refuse them)
    for parts in cands:
        for right in parts[1:]:
            col = right[0]  # where a part begins, the cut ran (or the part's ink begins just after it)
            assert (np.diff(ink[:, col].astype(np.int8), prepend=0) == 1).sum() <= 1
