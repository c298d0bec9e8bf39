"""Which blobs of ink are digits: parts of one digit joined, specks, lines, shadows and page edges dropped
(touching digits are split with the model's help in ``touching``). Boxes are (x, y, w, h) in the pixels of the ink mask they come from.
"""
from __future__ import annotations

import cv2
import numpy as np

Box = tuple[int, int, int, int]


def typical_height(a: np.ndarray) -> float:
    """Median height of the boxes (n, 4) that are not much smaller than the big ones (specks, bits)."""
    big = np.maximum(a[:, 2], a[:, 3]).astype(np.float64)
    return float(np.median(a[:, 3][big >= 0.5 * np.percentile(big, 90)]))


def attach_fragments(boxes: list[Box], mask: np.ndarray | None = None) -> list[Box]:
    """Small pieces (a stroke drawn apart, a cap) join the digit they sit on or nearly touch; small pieces far
    from any digit are kept when they are a small digit (a loop, a stroke) and dropped when they are specks.

    Args:
        boxes: component boxes.
        mask: (H, W) bool ink the boxes come from; lets a small closed loop (a small 0) count as a digit.
    """
    if len(boxes) < 2:
        return boxes
    a = np.array(boxes, np.float64)
    h_ref = typical_height(a)
    small = a[:, 3] < 0.6 * h_ref  # digits are tall; a cap, a bar or a dash is not
    if small.all():
        return boxes
    x0, y0, x1, y1 = a[:, 0], a[:, 1], a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    big_idx = np.flatnonzero(~small)
    grown = {int(i): [x0[i], y0[i], x1[i], y1[i]] for i in big_idx}
    for i in np.flatnonzero(small):
        lo, hi = sorted((a[i, 2], a[i, 3]))
        loop = mask is not None and has_loop(mask, boxes[i])
        if hi < 0.3 * h_ref and hi < 2 * lo and not loop:
            continue  # a small round blob is a speck, not a stroke
        gx = np.maximum(0, np.maximum(x0[big_idx] - x1[i], x0[i] - x1[big_idx]))
        gy = np.maximum(0, np.maximum(y0[big_idx] - y1[i], y0[i] - y1[big_idx]))
        d = np.maximum(gx, gy)
        k = int(np.argmin(d))
        j = int(big_idx[k])
        g = grown[j]
        m = [min(g[0], x0[i]), min(g[1], y0[i]), max(g[2], x1[i]), max(g[3], y1[i])]
        x_over = min(x1[i], x1[j]) - max(x0[i], x0[j])
        # A part of a digit sits above, below or inside it, or touches it; a small digit beside another (the 0
        # of a "10") stands apart, and a closed loop is a digit of its own unless it sits on the other.
        on_it = x_over >= 0.3 * a[i, 2] or (d[k] <= 0.1 * h_ref and not loop)
        if on_it and d[k] <= 0.3 * h_ref and m[2] - m[0] <= 1.3 * h_ref and m[3] - m[1] <= 1.5 * h_ref:
            grown[j] = m
        elif a[i, 3] >= 0.33 * h_ref or loop:
            grown[int(i)] = [x0[i], y0[i], x1[i], y1[i]]  # small but not a speck, and alone: keep it
    return [(int(g[0]), int(g[1]), int(g[2] - g[0]), int(g[3] - g[1])) for g in grown.values()]


def has_loop(mask: np.ndarray, box: Box, min_hole: int = 4) -> bool:
    """Does the ink in box enclose a hole (of at least min_hole pixels), as a 0, 6, 8 or 9 does?"""
    x, y, w, h = box
    sub = mask[y:y + h, x:x + w]
    if sub.size == 0:
        return False
    bg = np.pad(~sub, 1, constant_values=True).astype(np.uint8)
    n, lab, st, _ = cv2.connectedComponentsWithStats(bg, connectivity=4)
    # Label of the padded frame is the outside; any other background component is enclosed by ink.
    outside = lab[0, 0]
    return bool(any(st[k, cv2.CC_STAT_AREA] >= min_hole for k in range(1, n) if k != outside))


def merge_parts(b: np.ndarray) -> list[Box]:
    """Union boxes that are parts of one digit: overlapping a lot, or stacked closely in the same column."""
    boxes = [tuple(int(v) for v in r) for r in b]
    for _ in range(4):
        n = len(boxes)
        if n < 2:
            break
        a = np.array(boxes, np.float64)
        x0, y0, bw, bh = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
        x1, y1 = x0 + bw, y0 + bh
        h_ref = typical_height(a)
        xo = np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None])
        yo = np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None])
        min_w = np.minimum(bw[:, None], bw[None])
        min_area = np.minimum((bw * bh)[:, None], (bw * bh)[None])
        merged_h = np.maximum(y1[:, None], y1[None]) - np.minimum(y0[:, None], y0[None])
        merged_w = np.maximum(x1[:, None], x1[None]) - np.minimum(x0[:, None], x0[None])
        inter = np.clip(xo, 0, None) * np.clip(yo, 0, None)
        overlap = inter >= 0.4 * min_area
        stacked = (xo >= 0.5 * min_w) & (-yo <= 0.35 * h_ref) & (merged_h <= 1.6 * h_ref)
        join = (overlap | stacked) & (merged_w <= 1.6 * h_ref) & (merged_h <= 1.8 * h_ref)
        np.fill_diagonal(join, False)
        if not join.any():
            break
        # Union pairs closest first, and only while the union still looks like one digit: a speck between two
        # digits of neighbouring rows must not chain them together.
        gap = np.maximum(np.clip(-xo, 0, None), np.clip(-yo, 0, None))
        ii, jj = np.nonzero(np.triu(join))
        parent = list(range(n))
        ext = {i: [x0[i], y0[i], x1[i], y1[i]] for i in range(n)}

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for k in np.argsort(gap[ii, jj], kind="stable"):
            ri, rj = find(int(ii[k])), find(int(jj[k]))
            if ri == rj:
                continue
            a_, b_ = ext[ri], ext[rj]
            u = [min(a_[0], b_[0]), min(a_[1], b_[1]), max(a_[2], b_[2]), max(a_[3], b_[3])]
            if u[2] - u[0] <= 1.6 * h_ref and u[3] - u[1] <= 1.8 * h_ref:
                parent[rj] = ri
                ext[ri] = u
        boxes = [(int(e[0]), int(e[1]), int(e[2] - e[0]), int(e[3] - e[1]))
                 for i, e in ext.items() if find(i) == i]
    return boxes


def digit_like(mask: np.ndarray, stats: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Which connected components of an ink mask may be (part of) a digit.

    Dropped: components touching the page's edge (the page's rim, a table's edge, a digit cut in half) when the
    page holds several others; far bigger than the typical digit (a shadow, a logo); solid blobs; strokes much
    thicker than the page's handwriting; long flat lines.

    Args:
        mask: (H, W) bool ink.
        stats: (n, 5) int, ``cv2.connectedComponentsWithStats`` rows for the components (background excluded).
        labels: (H, W) int32 component labels (component i of stats has label i + 1).

    Returns:
        (n,) bool, True for the components kept.
    """
    n = len(stats)
    keep = np.ones(n, bool)
    if n < 3:
        return keep  # a single digit (perhaps in two strokes), maybe cropped tight against the edges
    H, W = mask.shape
    x, y, w, h, area = (stats[:, i].astype(np.float64) for i in range(5))
    e = max(2, round(0.01 * max(H, W)))  # the page's rim may stop a pixel or two short of the edge
    touches = (x < e) | (y < e) | (x + w > W - e) | (y + h > H - e)
    if (~touches).sum() >= 2:
        keep &= ~touches
    m = mask.astype(np.uint8)
    edge = (m - cv2.erode(m, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)) > 0
    perimeter = np.bincount(labels[edge], minlength=n + 1)[1:].astype(np.float64)
    stroke = 2.0 * area / np.maximum(perimeter, 1.0)
    a = stats[keep, :4].astype(np.float64)
    if len(a) == 0:
        return keep
    h_ref = typical_height(a)
    big = np.maximum(w, h) >= 0.5 * h_ref
    sw_ref = float(np.median(stroke[keep & big])) if (keep & big).any() else float(np.median(stroke[keep]))
    fill = area / np.maximum(w * h, 1.0)
    keep &= ~(too_big(w, h, h_ref))  # a shadow's rim, a page edge, a ruled line left over
    # Solid: a blot, a patch of shadow, a logo (a bold 8 fills 60 % of its box too, but with strokes of the
    # page's width).
    solid = (fill > 0.8) | ((fill > 0.6) & (stroke > 1.8 * sw_ref))
    keep &= ~(solid & (np.minimum(w, h) > 0.35 * h_ref))
    keep &= ~((stroke > 2.5 * sw_ref) & big)  # drawn with a far broader pen than the rest: not handwriting
    keep &= ~((w > 1.5 * h_ref) & (h < 0.2 * h_ref))  # a flat line, not a digit
    return keep


def too_big(w: np.ndarray, h: np.ndarray, h_ref: float) -> np.ndarray:
    """Boxes far bigger than the typical digit (h_ref tall): a shadow's rim, a page edge, a ruled line left
    over. A thin stroke may run long (a 9 or a 7 with a long tail)."""
    w, h = np.asarray(w, np.float64), np.asarray(h, np.float64)
    tall = (h > 2.5 * h_ref) & ~((w <= 0.6 * h_ref) & (h <= 4 * h_ref))
    return tall | (w > 4 * h_ref)
