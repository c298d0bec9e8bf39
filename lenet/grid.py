"""Digits in the cells of a grid: a sudoku, a boxed form (a row of boxes), a table of answers.

A grid is found as the largest quadrilateral drawn by strong straight lines; it is warped flat, and its cell lattice
is read from the line projections of the flat image (missing faint lines are filled in from the regular pitch).
Each cell is then read on its own: a margin inside the lines is cut off, ink touching the cell's edge that is thin
along that edge (what is left of a line, a neighbour's stroke) is painted over, and the rest goes through the usual
``preprocess`` style. Reading cell by cell keeps the reading order of the form, and an empty cell stays empty.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from lenet import preprocess as pp
from lenet.cells import read_cell
from lenet.io import to_grey

Box = tuple[int, int, int, int]  # x, y, w, h

FIND_SIDE = 1000  # the grid is searched at most this big: its lines stay several px apart
WARP_SIDE = 1200  # the flattened grid is at most this big: a 9x9 sudoku keeps >100 px cells
MIN_AREA_FRAC = 0.04  # a grid covers at least this fraction of the image
MAX_CELLS = 40  # along one side; more is a texture (squared paper), not a form
CELL_ASPECT = (0.3, 3.0)  # cell width / height: ruled paper's "cells" are far wider
LINE_COVER = 0.45  # a lattice line is dark along at least this fraction of the grid's width (height)
LINE_SHARE = 0.7  # ... and at least this share of the strongest lines' cover
CELL_SIDE = 72  # cells bigger than this are shrunk to it (px)


@dataclass
class Grid:
    """A grid found in an image.

    Attributes:
        warped: (H, W) uint8 grey, the grid flattened to a rectangle (its outer lines on the image's edges).
        cells: cells[r][c] = (x, y, w, h) of the cell in ``warped``, rows top to bottom, columns left to right.
        quad: (4, 2) float32 corners of the grid in the input image: top-left, top-right, bottom-right, bottom-left.
        matrix: (3, 3) float64 homography from input-image to ``warped`` coordinates.
    """

    warped: np.ndarray
    cells: list[list[Box]]
    quad: np.ndarray
    matrix: np.ndarray = field(repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return len(self.cells), len(self.cells[0]) if self.cells else 0

    def to_image(self, box: Box, size: tuple[int, int] | None = None) -> Box:
        """A box in ``warped`` -> the bounding box of its quadrilateral in the input image (clipped to ``size``,
        (width, height), when given)."""
        x, y, w, h = box
        pts = np.float64([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])[:, None]
        q = cv2.perspectiveTransform(pts, np.linalg.inv(self.matrix))[:, 0]
        x0, y0 = np.floor(q.min(0)).astype(int)
        x1, y1 = np.ceil(q.max(0)).astype(int)
        if size is not None:
            x0, y0, x1, y1 = max(0, x0), max(0, y0), min(size[0], x1), min(size[1], y1)
        return int(x0), int(y0), int(max(1, x1 - x0)), int(max(1, y1 - y0))


def find_grid(grey: np.ndarray) -> Grid | None:
    """Find the biggest grid of cells (or row of boxes) in an image and flatten it.

    Args:
        grey: (H, W) uint8 grey, dark lines on a light ground, or anything ``io.to_grey`` accepts.

    Returns:
        The Grid, or None when the image holds no quadrilateral of lines divided into at least two cells of
        reasonable shape (a plain or ruled page, a single digit).
    """
    g = to_grey(grey)
    h0, w0 = g.shape
    f = min(1.0, FIND_SIDE / max(h0, w0))
    small = cv2.resize(g, (max(1, round(w0 * f)), max(1, round(h0 * f))), interpolation=cv2.INTER_AREA) \
        if f < 1 else g
    lines = _line_mask(small)
    min_area = MIN_AREA_FRAC * small.size
    # A page's own edge on a table, or a frame around the whole form, is a quadrilateral of lines too; the grid
    # proper is the candidate divided into the most cells. Groups of cells are the fallback, when no frame is
    # whole (they may take a few big merged cells for a lattice of their own).
    best = None
    for quads in (_frame_quads, _cell_quads):
        for quad in quads(lines, min_area):
            grid = _flatten(g, quad / f)
            if grid is not None and (best is None or np.prod(grid.shape) > np.prod(best.shape)):
                best = grid
        if best is not None:
            break
    return best


def read_grid(page_grey: np.ndarray, classify, style: str = pp.DEFAULT_STYLE,
              pad_scale: float = pp.DEFAULT_PAD_SCALE, *, grid: Grid | None = None) -> list[list[dict]] | None:
    """Read every cell of the grid in an image, row by row.

    Args:
        page_grey: (H, W) uint8 grey page (dark ink and lines on light paper), or anything ``io.to_grey`` accepts.
        classify: (N, 28, 28) float32 in [0, 1] -> (N, 10) probabilities.
        style, pad_scale: preprocessing style (see ``preprocess.preprocess``).
        grid: the grid when already found (``find_grid(page_grey)``); found here when None.

    Returns:
        None when the image has no grid; else rows of dicts, one per cell, as ``segment.read_sheet`` gives
        (box in the page's pixels, digit, confidence, probs, x, crop, pre, empty) plus ``cell`` (row, col) and
        ``grid_box`` (the cell in ``Grid.warped``). An empty cell has empty=True, digit None, confidence 0 and
        all-zero probs.
    """
    g = to_grey(page_grey)
    grid = grid or find_grid(g)
    if grid is None:
        return None
    size = (g.shape[1], g.shape[0])
    items = []
    for r, row in enumerate(grid.cells):
        for c, box in enumerate(row):
            crop, pre, empty = read_cell(grid.warped, box, style, pad_scale)
            items.append({"box": grid.to_image(box, size), "grid_box": box, "cell": (r, c), "crop": crop,
                          "pre": pre, "x": pre.x, "empty": empty})
    full = [it for it in items if not it["empty"]]
    probs = np.asarray(classify(np.stack([it["x"] for it in full]).astype(np.float32)), np.float32) \
        if full else np.zeros((0, 10), np.float32)
    for it, pr in zip(full, probs.reshape(len(full), 10)):
        it.update(digit=int(np.argmax(pr)), confidence=float(pr.max()), probs=pr)
    for it in items:
        if it["empty"]:
            it.update(digit=None, confidence=0.0, probs=np.zeros(10, np.float32))
    cols = grid.shape[1]
    return [items[i:i + cols] for i in range(0, len(items), cols)]


# ---------------------------------------------------------------------------------------------------- internals
def _line_mask(g: np.ndarray) -> np.ndarray:
    """(H, W) uint8 grey -> (H, W) uint8 {0, 1}: dark straight lines (longer than 1/30 of the image)."""
    h, w = g.shape
    block = _odd(max(15, max(h, w) // 30))
    dark = cv2.adaptiveThreshold(cv2.GaussianBlur(g, (3, 3), 0), 1, cv2.ADAPTIVE_THRESH_MEAN_C,
                                 cv2.THRESH_BINARY_INV, block, 7)
    run = max(10, max(h, w) // 30)
    horiz = cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((1, run), np.uint8))
    vert = cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((run, 1), np.uint8))
    return cv2.dilate(horiz | vert, np.ones((3, 3), np.uint8))  # rejoin lines broken at their crossings


def _cell_quads(lines: np.ndarray, min_area: float) -> list[np.ndarray]:
    """Grids as groups of cells: the holes of the line mask that are box-shaped and sit next to holes of a similar
    size. The hull of a group is the grid's inside, whatever else its outer lines touch (a headline's rule, the
    next puzzle). Biggest first."""
    n, lab, st, cen = cv2.connectedComponentsWithStats(1 - lines, connectivity=4)
    h, w = lines.shape
    x, y, bw, bh, area = (st[:, i].astype(np.float64) for i in range(5))
    ok = ((x > 0) & (y > 0) & (x + bw < w) & (y + bh < h) & (area >= max(30.0, min_area / MAX_CELLS ** 2))
          & (area >= 0.55 * bw * bh) & (bw <= 4 * bh) & (bh <= 4 * bw))
    ok[0] = False
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        return []
    side = np.sqrt(area[idx])
    dist = np.hypot(*(cen[idx, None, i] - cen[None, idx, i] for i in range(2)))
    ratio = np.maximum(area[idx, None], area[None, idx]) / np.minimum(area[idx, None], area[None, idx])
    near = (dist <= 1.6 * np.maximum(side[:, None], side[None])) & (ratio <= 4.0)
    parent = np.arange(len(idx))
    for i, j in zip(*np.nonzero(np.triu(near, 1))):
        ri, rj = _root(parent, i), _root(parent, j)
        parent[rj] = ri
    roots = np.array([_root(parent, i) for i in range(len(idx))])
    groups = [idx[roots == r] for r in np.unique(roots)]
    groups = [gr for gr in groups if len(gr) >= 2 and area[gr].sum() >= 0.5 * min_area]
    groups.sort(key=lambda gr: -area[gr].sum())
    quads = []
    for gr in groups[:3]:
        ys, xs = np.nonzero(np.isin(lab, gr))
        q = _quad(np.stack([xs, ys], axis=1).astype(np.float32))
        if q is not None and cv2.contourArea(q) >= min_area:
            quads.append(q)
    return quads


def _frame_quads(lines: np.ndarray, min_area: float) -> list[np.ndarray]:
    """Grids as the outer frames of the biggest line components (when lines are too broken to close cells)."""
    n, lab, st, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
    area = st[1:, cv2.CC_STAT_WIDTH].astype(np.int64) * st[1:, cv2.CC_STAT_HEIGHT]
    quads = []
    for i in np.argsort(-area)[:4] + 1:
        if area[i - 1] < min_area:
            break
        ys, xs = np.nonzero(lab[st[i, 1]:st[i, 1] + st[i, 3], st[i, 0]:st[i, 0] + st[i, 2]] == i)
        q = _quad(np.stack([xs + st[i, 0], ys + st[i, 1]], axis=1).astype(np.float32))
        if q is not None and cv2.contourArea(q) >= min_area:
            quads.append(q)
    return quads


def _root(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return int(i)


def _quad(pts: np.ndarray) -> np.ndarray | None:
    """Points of a frame -> its four corners (TL, TR, BR, BL) as (4, 2) float32, or None."""
    hull = cv2.convexHull(pts)
    poly = cv2.approxPolyDP(hull, 0.01 * cv2.arcLength(hull, True), True)[:, 0].astype(np.float64)
    if len(poly) < 4:
        return None
    # The sides are the four longest edges of the outline; their crossings are the corners, also where a corner
    # is cut off (by the photo's edge) or rounded.
    edges = np.roll(poly, -1, axis=0) - poly
    longest = np.sort(np.argsort(-np.hypot(edges[:, 0], edges[:, 1]))[:4])
    q = []
    for a, b in zip(longest, np.roll(longest, -1)):
        p1, d1, p2, d2 = poly[a], edges[a], poly[b], edges[b]
        det = d1[0] * d2[1] - d1[1] * d2[0]
        if abs(det) < 1e-6 * np.hypot(*d1) * np.hypot(*d2) + 1e-12:
            return None  # parallel neighbours: not a quadrilateral
        t = ((p2[0] - p1[0]) * d2[1] - (p2[1] - p1[1]) * d2[0]) / det
        q.append(p1 + t * d1)
    q = np.array(q)
    q = q.reshape(4, 2).astype(np.float32)
    c = q.mean(0)
    q = q[np.argsort(np.arctan2(q[:, 1] - c[1], q[:, 0] - c[0]))]  # clockwise on screen, from top-left-ish
    start = int(np.argmin(q.sum(1)))
    q = np.roll(q, -start, axis=0)
    if len(np.unique(q.round(), axis=0)) < 4:
        return None
    return q


def _flatten(g: np.ndarray, quad: np.ndarray) -> Grid | None:
    """Warp the quadrilateral of the full-size grey image flat and find its lattice; None if it has none."""
    tl, tr, br, bl = quad
    w = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
    h = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
    k = min(1.0, WARP_SIDE / max(w, h)) if max(w, h) > 0 else 1.0
    W, H = max(8, int(round(w * k))), max(8, int(round(h * k)))
    dst = np.float32([[0, 0], [W - 1, 0], [W - 1, H - 1], [0, H - 1]])
    m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    warped = cv2.warpPerspective(g, m, (W, H), flags=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
    ys, xs = _lattice(warped)
    if ys is None or xs is None or (len(ys) - 1) * (len(xs) - 1) < 2:
        return None
    ch, cw = float(np.median(np.diff(ys))), float(np.median(np.diff(xs)))
    if not CELL_ASPECT[0] <= cw / ch <= CELL_ASPECT[1]:
        return None
    s = CELL_SIDE / min(ch, cw)
    if s < 1:  # big cells only cost time: a digit is read at 28 px
        W, H = max(8, int(round(W * s))), max(8, int(round(H * s)))
        warped = cv2.resize(warped, (W, H), interpolation=cv2.INTER_AREA)
        m = np.diag([s, s, 1.0]) @ m
        ys, xs = np.minimum(np.round(ys * s).astype(int), H - 1), np.minimum(np.round(xs * s).astype(int), W - 1)
    cells = [[(int(xs[c]), int(ys[r]), int(xs[c + 1] - xs[c]), int(ys[r + 1] - ys[r]))
              for c in range(len(xs) - 1)] for r in range(len(ys) - 1)]
    return Grid(warped=warped, cells=cells, quad=quad.astype(np.float32), matrix=m)


def _lattice(warped: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Positions of the horizontal (ys) and vertical (xs) lines of a flattened grid, its edges included (None for
    a direction with more lines than a form has)."""
    h, w = warped.shape
    block = _odd(max(15, max(h, w) // 25))
    dark = cv2.adaptiveThreshold(cv2.GaussianBlur(warped, (3, 3), 0), 1, cv2.ADAPTIVE_THRESH_MEAN_C,
                                 cv2.THRESH_BINARY_INV, block, 5)
    out = []
    for axis in (0, 1):  # 0: horizontal lines (y positions); 1: vertical lines (x positions)
        d = dark if axis == 0 else dark.T
        hh, ww = d.shape
        tol = max(1, hh // 200)  # a line that bends a little still fills its band
        band = cv2.dilate(d, np.ones((2 * tol + 1, 1), np.uint8))
        run = max(8, ww // 20)
        lines = cv2.morphologyEx(band, cv2.MORPH_OPEN, np.ones((1, run), np.uint8))
        out.append(_line_positions(lines.mean(axis=1), hh))
    return out[0], out[1]


def _line_positions(cover: np.ndarray, n: int) -> np.ndarray | None:
    """Fraction of each row that is line -> the lattice's line positions, 0 and n - 1 included.

    Cells of a form are equal: the most cells k (up to MAX_CELLS) whose k - 1 evenly spaced inner lines nearly
    all fall on a line is taken (a faint line may be missed; a stray stroke or a double rule does not count, as it
    is off the even spacing), and each line is snapped to the darkest row near where it is expected.
    """
    # A line is dark along most of the grid; in a short grid (one or two rows) a digit's stroke is dark along half
    # of it, so the bar is also raised to a share of the strongest lines'.
    bar = max(LINE_COVER, LINE_SHARE * float(np.percentile(cover, 99)))
    for k in range(MAX_CELLS, 1, -1):
        tol = max(1, int(min(0.02 * n, 0.2 * n / k)))
        expect = np.arange(1, k) * (n - 1) / k
        best = []
        for e in expect:
            lo, hi = max(0, int(e) - tol), min(n, int(e) + tol + 1)
            j = lo + int(np.argmax(cover[lo:hi]))
            best.append((j, cover[j]))
        strength = np.array([b[1] for b in best])
        if (strength >= bar).mean() >= 0.75 and (strength >= 0.3 * bar).all():
            pos = [j if c >= bar else int(round(e)) for (j, c), e in zip(best, expect)]
            return _unless_denser(cover, bar, np.array([0, *pos, n - 1]))
    return _unless_denser(cover, bar, np.array([0, n - 1]))  # one cell this way: a row of boxes


def _unless_denser(cover: np.ndarray, bar: float, pos: np.ndarray) -> np.ndarray | None:
    """The lattice, or None when far more strong lines cross the grid than it has: squared paper (its lattice is
    finer than MAX_CELLS, and a coarser one would fit every other line), not a form."""
    on = (cover >= bar).astype(np.int8)
    runs = int(on[0]) + int((np.diff(on) == 1).sum())
    return None if runs > 1.5 * len(pos) + 2 else pos


def _odd(n: float) -> int:
    n = int(n)
    return n if n % 2 else n + 1
