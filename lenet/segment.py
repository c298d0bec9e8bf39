"""Sheets of digits: find every digit, in reading order, and read them all.

``find_digits`` cleans the page with the same ink finder as ``preprocess`` (paper, shadows, ruled lines and specks
removed), takes connected components, merges the parts of multi-stroke digits (a 5's cap, a two-stroke 4), and
groups the boxes into rows after estimating the page's tilt from neighbouring digits.
"""
from __future__ import annotations

import math
from typing import Callable

import cv2
import numpy as np

from lenet import blobs, ink
from lenet import preprocess as pp
from lenet.io import to_grey

Box = tuple[int, int, int, int]  # x, y, w, h in pixels of the image given
Classifier = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28) float32 -> (N, 10) probabilities

WORK_SIDE = 1600  # pages are searched at most this big: 500 digits still get ~40 px each
CROP_SIDE = 128  # crops are cut at most this big (the digit ~90 px, four times the 20 px the model sees)
CROP_MARGIN = 0.2  # crops keep this fraction of the digit's longer side as margin on every side
COLUMN_GAP = 3.0  # an empty gutter this many digit heights wide splits a page into columns read one by one


def find_digits(grey: np.ndarray, *, polarity: str | None = None) -> list[list[Box]]:
    """Find the digits on a page.

    Args:
        grey: (H, W) uint8 grey (any polarity), or any array ``io.to_grey`` accepts.
        polarity: "dark_on_light" or "light_on_dark"; detected when None.

    Returns:
        Rows top to bottom, each a list of boxes (x, y, w, h) left to right, in the given image's pixels.
        An empty page gives [].
    """
    return find_digits_and_ink(grey, polarity=polarity)[0]


def find_digits_and_ink(grey: np.ndarray, *, polarity: str | None = None) -> tuple[list[list[Box]], np.ndarray]:
    """``find_digits``, also returning the ink it looked at.

    Returns:
        (rows, ink): rows as from ``find_digits``; ink (h, w) bool, the ink mask on the working copy (the page
        shrunk to at most WORK_SIDE), for showing.
    """
    g = to_grey(grey)
    h0, w0 = g.shape
    f = min(1.0, WORK_SIDE / max(h0, w0))
    work = cv2.resize(g, (max(1, round(w0 * f)), max(1, round(h0 * f))), interpolation=cv2.INTER_AREA) \
        if f < 1 else g
    p = pp.to_mnist_polarity(work, polarity or pp.detect_polarity(g))
    boxes, mask = _find_boxes(p)
    if not boxes:
        return [], mask
    rows = _join_close_in_rows(_rows(boxes), mask)
    return [[_scale_box(b, 1 / f, w0, h0) for b in row] for row in rows], mask


def crop_digits(grey: np.ndarray, rows: list[list[Box]], margin: float = CROP_MARGIN) -> list[list[np.ndarray]]:
    """Cut each digit out with a margin; parts of neighbouring digits inside the margin are painted over.

    Args:
        grey: (H, W) uint8 page (the one the boxes refer to).
        rows: boxes as from find_digits.
        margin: margin on every side, as a fraction of the box's longer side.

    Returns:
        crops[r][c]: (h, w) uint8, same polarity as the page, longer side at most CROP_SIDE (shrunk if bigger).
    """
    g = to_grey(grey)
    H, W = g.shape
    flat = [b for row in rows for b in row]
    arr = np.array(flat, np.int64).reshape(-1, 4)
    out = []
    for row in rows:
        crops = []
        for (x, y, w, h) in row:
            m = int(round(margin * max(w, h))) + 2
            x0, y0, x1, y1 = max(0, x - m), max(0, y - m), min(W, x + w + m), min(H, y + h + m)
            c = g[y0:y1, x0:x1].copy()
            others = np.zeros(c.shape, bool)
            near = (arr[:, 0] < x1) & (arr[:, 0] + arr[:, 2] > x0) & (arr[:, 1] < y1) & (arr[:, 1] + arr[:, 3] > y0)
            for (bx, by, bw, bh) in arr[near]:
                if (bx, by, bw, bh) == (x, y, w, h):
                    continue
                ox0, oy0 = max(bx - 1, x0), max(by - 1, y0)
                ox1, oy1 = min(bx + bw + 1, x1), min(by + bh + 1, y1)
                if ox0 < ox1 and oy0 < oy1:
                    others[oy0 - y0:oy1 - y0, ox0 - x0:ox1 - x0] = True
            if others.any():
                own = np.zeros(c.shape, bool)
                own[y - y0:y - y0 + h, x - x0:x - x0 + w] = True
                paint = others & ~own
                free = ~others & ~own
                c[paint] = np.uint8(np.median(c[free])) if free.any() else np.uint8(np.median(c))
            crops.append(_shrink(c))
        out.append(crops)
    return out


def is_sheet(grey: np.ndarray) -> bool:
    """True when the image holds several digits (three or more of similar size), False for a single digit."""
    boxes = [b for row in find_digits(grey) for b in row]
    if len(boxes) < 3:
        return False
    tallest = max(b[3] for b in boxes)
    return sum(b[3] >= 0.4 * tallest for b in boxes) >= 3


def read_sheet(grey: np.ndarray, classify: Classifier, style: str = pp.DEFAULT_STYLE,
               pad_scale: float = pp.DEFAULT_PAD_SCALE) -> list[list[dict]]:
    """Find, preprocess and classify every digit of a page.

    Args:
        grey: the page, (H, W) uint8 or anything ``io.to_grey`` accepts.
        classify: (N, 28, 28) float32 in [0, 1] -> (N, 10) probabilities (a model called directly).
        style, pad_scale: preprocessing style (see ``preprocess.preprocess``).

    Returns:
        rows of dicts, one per digit: box (x, y, w, h), digit (int), confidence (float), probs (10,) float32,
        x (28, 28) float32 as the model saw it, crop (h, w) uint8, pre (the Preprocessed, every stage), empty.
    """
    g = to_grey(grey)
    polarity = pp.detect_polarity(g)
    return read_digits(g, find_digits(g, polarity=polarity), classify, style, pad_scale, polarity=polarity)


def read_digits(grey: np.ndarray, rows: list[list[Box]], classify: Classifier, style: str = pp.DEFAULT_STYLE,
                pad_scale: float = pp.DEFAULT_PAD_SCALE, *, polarity: str = pp.DARK_ON_LIGHT) -> list[list[dict]]:
    """Cut out, preprocess and classify digits already found (one classify call for the whole page).

    Args:
        grey: (H, W) uint8 page the boxes refer to.
        rows: boxes as from ``find_digits``.
        classify, style, pad_scale: as for ``read_sheet``.
        polarity: the page's polarity.

    Returns:
        rows of dicts as from ``read_sheet``.
    """
    if not rows:
        return []
    crops = crop_digits(grey, rows)
    pres = [[pp.preprocess(c, style, pad_scale, polarity=polarity) for c in row] for row in crops]
    xs = np.stack([p.x for row in pres for p in row]).astype(np.float32)
    probs = np.asarray(classify(xs), dtype=np.float32).reshape(len(xs), -1)
    out, i = [], 0
    for row_boxes, row_crops, row_pres in zip(rows, crops, pres):
        items = []
        for box, c, pre in zip(row_boxes, row_crops, row_pres):
            pr = probs[i]
            i += 1
            items.append({"box": tuple(int(v) for v in box), "digit": int(np.argmax(pr)),
                          "confidence": float(pr.max()), "probs": pr, "x": pre.x, "crop": c, "pre": pre,
                          "empty": pre.empty})
        out.append(items)
    return out


# ---------------------------------------------------------------------------------------------------- internals
def _find_boxes(p: np.ndarray) -> tuple[list[Box], np.ndarray]:
    """Light-ink-on-dark page -> digit boxes (unordered) and the ink mask, in p's pixels."""
    h, w = p.shape
    k = ink.odd(max(7, min(h, w) // 12))
    boxes, mask = _boxes_with_kernel(p, k)
    if boxes:
        # Strokes wider than the background window come out hollow: redo with a window sized to the digits.
        h_med = float(np.median([b[3] for b in boxes]))
        k2 = ink.odd(max(0.6 * h_med, 4 * ink.stroke_width(mask)))
        if k2 > 1.5 * k:
            boxes, mask = _boxes_with_kernel(p, min(k2, ink.odd(max(h, w))))
    return boxes, mask


def _boxes_with_kernel(p: np.ndarray, k: int) -> tuple[list[Box], np.ndarray]:
    h, w = p.shape
    _, mask = ink.ink_map(p, bg_kernel=k, line_span=0.4, keep_frac=0.05)
    n, labels, st, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return [], mask
    keep = blobs.digit_like(mask, st[1:], labels)
    if not keep.all():
        mask = np.concatenate([[False], keep])[labels]
    if not keep.any():
        return [], mask
    boxes = blobs.attach_fragments(blobs.merge_parts(st[1:][keep, :4].astype(np.int64)), mask)
    if len(boxes) >= 3:
        # Page edges, a leftover line or a shadow's rim are far bigger than the digits.
        h_ref = blobs.typical_height(np.array(boxes, np.float64))
        boxes = [b for b in boxes if not blobs.too_big(b[2], b[3], h_ref)]
    return boxes, mask


def _rows(boxes: list[Box]) -> list[list[Box]]:
    """Group boxes into rows (reading order), tolerant of a tilted page: the tilt is undone, the page split into
    columns at wide empty gutters, and each column's rows chained box to box."""
    a = np.array(boxes, np.float64)
    cx, cy = a[:, 0] + a[:, 2] / 2, a[:, 1] + a[:, 3] / 2
    h_med = float(np.median(a[:, 3]))
    angle = tilt(boxes)
    c, s = math.cos(angle), math.sin(angle)
    u = c * cx + s * cy  # along the rows
    v = -s * cx + c * cy  # across the rows
    out: list[list[Box]] = []
    for col in _columns(u, a[:, 2], h_med):
        out.extend([boxes[i] for i in r] for r in _chain_rows(col, u, v, a[:, 3]))
    return out


def tilt(boxes: list[Box]) -> float:
    """The page's tilt in radians (positive: rows fall to the right), from each box's nearest right-hand
    neighbour in its row; 0 with fewer than three boxes."""
    if len(boxes) < 3:
        return 0.0
    a = np.array(boxes, np.float64)
    cx, cy = a[:, 0] + a[:, 2] / 2, a[:, 1] + a[:, 3] / 2
    h_med = float(np.median(a[:, 3]))
    dx = cx[None, :] - cx[:, None]
    dy = cy[None, :] - cy[:, None]
    cand = (dx > 0.3 * h_med) & (dx < 4 * h_med) & (np.abs(dy) < 0.6 * h_med)
    dxm = np.where(cand, dx, np.inf)
    j = np.argmin(dxm, axis=1)
    idx = np.arange(len(boxes))
    has = np.isfinite(dxm[idx, j])
    if has.sum() < 2:
        return 0.0
    return float(np.median(np.arctan2(dy[idx, j][has], dx[idx, j][has])))


def _columns(u: np.ndarray, w: np.ndarray, h_ref: float) -> list[np.ndarray]:
    """Split the boxes into blocks at wide empty gutters running down the page (a page written in two columns
    is read column by column). u: box centres along the rows, w: widths. Returns index arrays, left to right."""
    lo, hi = u - w / 2, u + w / 2
    order = np.argsort(lo)
    cuts, reach = [], hi[order[0]]
    for i in order[1:]:
        if lo[i] - reach > COLUMN_GAP * h_ref:
            cuts.append((reach + lo[i]) / 2)
        reach = max(reach, hi[i])
    col = np.searchsorted(np.array(cuts), u)
    return [np.flatnonzero(col == k) for k in range(len(cuts) + 1)]


def _chain_rows(idx: np.ndarray, u: np.ndarray, v: np.ndarray, h: np.ndarray) -> list[list[int]]:
    """Group boxes into rows, left to right, each row following its own line: a row that slopes (or bends, on a
    page that is not flat) stays one row. A box joins the row whose last box, carried along the row's slope,
    overlaps it most across the rows. Rows are returned top to bottom, boxes in a row left to right."""
    rows: list[list[int]] = []
    slopes: list[float] = []  # each row's slope, updated as it grows
    u_, v_, h_ = u.tolist(), v.tolist(), h.tolist()
    for i in sorted(idx.tolist(), key=lambda i: u_[i]):
        best, best_ov = -1, 0.4
        for k, r in enumerate(rows):
            j = r[-1]
            if u_[i] - u_[j] < -0.3 * h_[j]:
                continue
            c = v_[j] + slopes[k] * (u_[i] - u_[j])
            ov = (min(c + h_[j] / 2, v_[i] + h_[i] / 2) - max(c - h_[j] / 2, v_[i] - h_[i] / 2)) / min(h_[i], h_[j])
            if ov > best_ov:
                best, best_ov = k, ov
        if best < 0:
            rows.append([i])
            slopes.append(0.0)
        else:
            rows[best].append(i)
            slopes[best] = _slope(rows[best], u, v)
    return sorted(rows, key=lambda r: float(np.median(v[r])))


def _slope(r: list[int], u: np.ndarray, v: np.ndarray) -> float:
    """A row's slope across/along from its last few boxes (median of pairwise slopes: a digit's long tail does
    not tip it); 0 with fewer than three boxes."""
    last = r[-5:]
    if len(last) < 3:
        return 0.0
    uu, vv = u[last], v[last]
    du = uu[None, :] - uu[:, None]
    ok = np.triu(du > 1e-6, 1)
    if not ok.any():
        return 0.0
    return float(np.clip(np.median(((vv[None, :] - vv[:, None])[ok]) / du[ok]), -0.3, 0.3))


def _join_close_in_rows(rows: list[list[Box]], mask: np.ndarray) -> list[list[Box]]:
    """Join side-by-side neighbours much closer than the usual digit spacing: the two strokes of an open 4 that
    do not touch. Needs a few digits to know the spacing; a lone pair is left alone, and so is a closed loop
    beside another digit (the 0 of a "10")."""
    a = [np.array(r, np.float64) for r in rows if len(r) >= 2]
    if not a:
        return rows
    steps = np.concatenate([np.diff(r[:, 0] + r[:, 2] / 2) for r in a])
    if len(steps) < 3:
        return rows
    pitch = float(np.median(steps))
    h_ref = blobs.typical_height(np.concatenate(a))
    out = []
    for row in rows:
        merged = [row[0]]
        for b in row[1:]:
            x0, y0, w0, h0 = merged[-1]
            x1, y1, w1, h1 = b
            ux0, uy0 = min(x0, x1), min(y0, y1)
            ux1, uy1 = max(x0 + w0, x1 + w1), max(y0 + h0, y1 + h1)
            y_overlap = min(y0 + h0, y1 + h1) - max(y0, y1)
            x_overlap = min(x0 + w0, x1 + w1) - max(x0, x1)
            if ((x1 + w1 / 2) - (x0 + w0 / 2) < 0.45 * pitch and y_overlap >= 0.5 * min(h0, h1)
                    and ux1 - ux0 <= 1.3 * h_ref and uy1 - uy0 <= 1.5 * h_ref
                    and (x_overlap >= 0.5 * min(w0, w1)
                         or not (blobs.has_loop(mask, merged[-1]) or blobs.has_loop(mask, b)))):
                merged[-1] = (ux0, uy0, ux1 - ux0, uy1 - uy0)
            else:
                merged.append(b)
        out.append(merged)
    return out


def _shrink(c: np.ndarray) -> np.ndarray:
    """A crop bigger than CROP_SIDE is shrunk to it: the model sees 20 px, and cleaning a big crop is slow."""
    h, w = c.shape
    f = CROP_SIDE / max(h, w)
    if f >= 1:
        return c
    return cv2.resize(c, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def _scale_box(b: Box, k: float, w: int, h: int) -> Box:
    x, y, bw, bh = b
    x0, y0 = max(0, int(math.floor(x * k))), max(0, int(math.floor(y * k)))
    x1, y1 = min(w, int(math.ceil((x + bw) * k))), min(h, int(math.ceil((y + bh) * k)))
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)
