"""Touching digits: a box wider than the page's digits may hold two or three written touching; cut it where its
ink is thinnest and keep the cut when the model reads the parts clearly better than the whole (segmentation by
recognition, as a reader does: "is this one wide 0 or a 1 and a 0?").
"""
from __future__ import annotations

from itertools import combinations
from typing import Callable

import cv2
import numpy as np

from lenet import preprocess as pp
from lenet.segment import crop_digits

Box = tuple[int, int, int, int]
Classifier = Callable[[np.ndarray], np.ndarray]

WIDE = 1.3  # boxes this many typical digit widths wide (and not much taller than wide) are tried as touching
SURE_WIDE = 1.9  # this wide, a box is split unless its parts read clearly worse than the whole
WIDE_TOLERANCE = 0.1  # how much worse (mean log-confidence) the parts of a SURE_WIDE box may read
SPLIT_GAIN = 0.25  # parts must beat the whole's log-confidence by this much on average
MIN_PART = 0.4  # each part is at least this many typical digit widths wide
MAX_PARTS = 3  # a box is cut in at most this many digits
MAX_VALLEYS = 6  # cuts are chosen among this many deepest valleys of the ink's column profile
GRID_STEP = 0.25  # ... and among columns this many typical digit widths apart
PARTS_SURE = 0.85  # parts of a box narrower than SURE_WIDE must be read this sure (geometric mean)
PARTS_SURE_WIDE = 0.6  # ... and of a SURE_WIDE box
SURE = 0.9  # a whole read at least this sure stays whole unless it is SURE_WIDE


def split_touching(grey: np.ndarray, rows: list[list[Box]], confidence: dict[Box, float], classify: Classifier,
                   style: str = pp.DEFAULT_STYLE, pad_scale: float = pp.DEFAULT_PAD_SCALE, *,
                   polarity: str = pp.DARK_ON_LIGHT) -> dict[Box, list[Box]]:
    """Which boxes hold touching digits, and where to cut them (one classify call for all candidates).

    Only boxes wider than the page's digits are tried, and of those only the ones the model read unsure of,
    or that are twice a digit's width.

    Args:
        grey: (H, W) uint8 page the boxes refer to.
        rows: digit boxes in reading order.
        confidence: box -> the model's confidence in the box read whole.
        classify, style, pad_scale: as for ``segment.read_sheet``.
        polarity: the page's polarity.

    Returns:
        box -> its parts left to right, for the boxes to split.
    """
    flat = [b for row in rows for b in row]
    if len(flat) < 3:
        return {}
    a = np.array(flat, np.float64)
    normal = a[:, 2] >= 0.4 * a[:, 3]  # a 1 says nothing about how wide digits are
    if normal.sum() < 2:
        return {}
    w_ref = float(np.median(a[normal, 2]))
    tries: dict[Box, list[list[Box]]] = {}
    for b in flat:
        sure_wide = b[2] >= SURE_WIDE * w_ref
        if (b[2] >= WIDE * w_ref and b[2] >= (0.6 if sure_wide else 0.8) * b[3]
                and (sure_wide or confidence.get(b, 0.0) < SURE)):
            cands = _candidates(grey, b, w_ref, polarity)
            if cands:
                tries[b] = cands
    if not tries:
        return {}
    groups = [parts for cands in tries.values() for parts in cands]
    crops = [c for parts in groups for c in _crops(grey, parts)]
    xs = np.stack([pp.preprocess(c, style, pad_scale, polarity=polarity).x for c in crops]).astype(np.float32)
    logc = np.log(np.clip(np.asarray(classify(xs), np.float32).max(axis=1), 1e-6, 1.0))
    score, i = [], 0
    for parts in groups:
        score.append(float(logc[i:i + len(parts)].mean()))
        i += len(parts)
    choice: dict[Box, list[Box]] = {}
    k = 0
    for b, cands in tries.items():
        whole = float(np.log(max(confidence.get(b, 0.0), 1e-6)))
        best = max(range(len(cands)), key=lambda j: score[k + j])
        gain = score[k + best] - whole
        # Twice a digit's width is most likely two digits: the parts need only read about as well as the whole.
        # Narrower, the parts must read clearly better than the whole.
        # Either way the parts must read well in themselves: a weak model, unsure of everything, splits nothing.
        wide = b[2] >= SURE_WIDE * w_ref
        if (gain > (-WIDE_TOLERANCE if wide else SPLIT_GAIN)
                and score[k + best] >= np.log(PARTS_SURE_WIDE if wide else PARTS_SURE)):
            choice[b] = cands[best]
        k += len(cands)
    return choice


def _candidates(grey: np.ndarray, box: Box, w_ref: float, polarity: str) -> list[list[Box]]:
    """Ways to cut a box into 2 to MAX_PARTS parts, at valleys of its column profile of ink (where strokes are
    thinnest) and at evenly spaced columns, each part at least a narrow digit wide."""
    x, y, w, h = box
    sub = pp.to_mnist_polarity(grey[y:y + h, x:x + w], polarity)
    if sub.size == 0 or sub.max() == sub.min():
        return []
    _, ink = cv2.threshold(sub, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    cols = np.convolve(ink.sum(axis=0).astype(np.float64), np.ones(3) / 3, mode="same")
    lo_w = max(2, int(MIN_PART * w_ref))
    inner = np.arange(lo_w, w - lo_w)
    valleys = [int(c) for c in inner if cols[c] <= cols[max(0, c - 2):c + 3].min()]
    valleys = sorted(set(valleys), key=lambda c: cols[c])[:MAX_VALLEYS]
    # Two loops touching (a "00") meet where the ink is thickest, not thinnest: cuts are also tried at evenly
    # spaced columns, and the model decides which reading is best.
    step = max(2, int(round(GRID_STEP * w_ref)))
    valleys = sorted(set(valleys) | set(range(lo_w, w - lo_w + 1, step)))
    # Touching digits meet in one place: a cut that crosses two strokes or more goes through a loop or a
    # digit's body (the right edge of a 0 cut off reads as a confident 7).
    runs = (np.diff(ink, axis=0, prepend=0) == 1).sum(axis=0)  # separate runs of ink down each column
    valleys = [c for c in valleys if runs[c] <= 1]
    total = ink.sum()
    out = []
    for n in range(2, MAX_PARTS + 1):
        if w < (n - 1) * w_ref:
            break
        for cut in combinations(valleys, n - 1):
            edges = [0, *cut, w]
            if min(np.diff(edges)) < lo_w:
                continue
            parts = []
            for c0, c1 in zip(edges[:-1], edges[1:]):
                ys, xs = np.nonzero(ink[:, c0:c1])
                if ys.size < 0.08 * total:
                    break  # a sliver, not a digit
                parts.append((x + c0 + int(xs.min()), y + int(ys.min()), int(xs.max() - xs.min() + 1),
                              int(ys.max() - ys.min() + 1)))
            if len(parts) == n:
                out.append(parts)
    return out


def _crops(grey: np.ndarray, parts: list[Box]) -> list[np.ndarray]:
    return crop_digits(grey, [parts])[0]
