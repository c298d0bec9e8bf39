"""Finding ink on paper: separate handwriting from its ground (shadows, uneven light, ruled lines, specks).

Shared by ``preprocess`` (one digit) and ``segment`` (a page). Inputs are light ink on a dark ground, i.e. after
``preprocess.to_mnist_polarity``; all functions are pure, array in -> array out.
"""
from __future__ import annotations

import cv2
import numpy as np

MIN_CONTRAST = 0.12  # ink must differ from its paper by 12 % of the paper's headroom, or the image is blank


def ink_map(p: np.ndarray, *, bg_kernel: int | None = None, line_span: float | None = 0.85,
            keep_frac: float = 0.06, border_frac: float | None = None,
            min_area_frac: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Separate ink from paper in a light-ink-on-dark image.

    The paper level is estimated by a morphological opening much wider than a stroke (so shadows and uneven
    light are followed) and divided out; the result is thresholded (Otsu, with a floor so blank paper stays
    blank), long thin horizontal/vertical lines are removed, and components much smaller than the typical one
    are dropped as specks.

    Args:
        p: (H, W) uint8, light ink on dark.
        bg_kernel: odd side of the background opening in px; default a third of the longer side (one digit).
        line_span: remove horizontal (vertical) lines spanning at least this fraction of the width (height);
            None keeps them.
        keep_frac: drop components smaller than this fraction of the typical (area-weighted median) component.
        border_frac: if given, also drop components touching the border that are smaller than this fraction of
            the largest one (bits of neighbouring digits in a crop).
        min_area_frac: also drop components smaller than this fraction of the image area — on a page with no
            digit, the "typical" component is a speck itself (where a margin line crossed a ruled one).

    Returns:
        (ink, mask): (H, W) float32 ink strength in [0, 1] and (H, W) bool mask of the ink kept.
    """
    h, w = p.shape
    s = smooth(p, min(1.5, min(h, w) / 500))
    k = bg_kernel or odd(max(7, max(h, w) // 3))
    bg = _background(s, k)
    head = np.maximum(255.0 - bg, 1.0)
    e = np.clip((s.astype(np.float32) - bg) / head, 0.0, 1.0)
    hi = float(np.percentile(e, 99.7))
    if hi < MIN_CONTRAST:
        return e, np.zeros((h, w), bool)
    otsu, _ = cv2.threshold((e * 255).astype(np.uint8), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    t = max(min(otsu / 255.0, 0.6 * hi), MIN_CONTRAST)
    mask = e > t
    if line_span is not None:
        mask = remove_lines(mask, line_span)
    mask = remove_specks(mask, keep_frac, border_frac, min_area=min_area_frac * h * w)
    return e, mask


def ink_image(e: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W) float32 ink strength + (H, W) bool mask -> (H, W) uint8 ink image, solid ink stretched to ~255."""
    if not mask.any():
        return np.zeros(mask.shape, np.uint8)
    level = max(float(np.percentile(e[mask], 90)), MIN_CONTRAST)
    keep = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0  # keep anti-aliased edges
    return np.where(keep, np.clip(e / level * 255.0 + 0.5, 0, 255), 0).astype(np.uint8)


def remove_lines(mask: np.ndarray, span: float) -> np.ndarray:
    """Remove long thin horizontal and vertical lines (ruled or squared paper) from a (H, W) bool mask.

    A line may be tilted by a few degrees: runs are searched in a copy thickened across the line. Strokes that
    cross a removed line are bridged again.
    """
    out = mask
    for axis in (1, 0):  # 1: horizontal lines (long along x); 0: vertical
        m = out.astype(np.uint8)
        if axis == 0:
            m = m.T
        hh, ww = m.shape
        run = max(15, ww // 12)
        tol = max(2, int(round(ww * 0.006)))  # so a line tilted by a few degrees still gives long runs
        thick = cv2.dilate(m, np.ones((2 * tol + 1, 1), np.uint8))
        runs = cv2.morphologyEx(thick, cv2.MORPH_OPEN, np.ones((1, run), np.uint8))
        n, lab, st, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
        long_ids = [i for i in range(1, n) if st[i, cv2.CC_STAT_WIDTH] >= span * ww]
        if not long_ids:
            continue
        zone = np.isin(lab, long_ids) & m.astype(bool)
        # Within the zone only rows that are filled across a short chunk belong to the line; a stroke crossing
        # it fills a few columns only and is kept (a tilt shifts the line < 1 px across a chunk).
        chunk = 16
        wp = -(-ww // chunk) * chunk
        zp = np.zeros((hh, wp), np.uint8)
        zp[:, :ww] = zone
        filled = zp.reshape(hh, wp // chunk, chunk).sum(axis=2) >= chunk // 2
        line = np.repeat(filled, chunk, axis=1)[:, :ww]
        line = cv2.dilate(line.astype(np.uint8), np.ones((3, 1), np.uint8)).astype(bool) & zone
        # A ruled line is thin for its length; a bold stroke (a big 7's bar, a 1) is not.
        ids, cols = lab[line], np.nonzero(line)[1]
        area = np.bincount(ids, minlength=n).astype(np.float64)
        ncols = np.bincount(np.unique(ids.astype(np.int64) * ww + cols) // ww, minlength=n)
        thickness = area / np.maximum(ncols, 1)
        thin = thickness <= np.maximum(2.0, 0.03 * st[:, cv2.CC_STAT_WIDTH])
        line &= thin[lab]
        if not line.any():
            continue
        thick_px = max(1, int(round(float(np.median(thickness[np.unique(lab[line])])))))
        kept = m.astype(bool) & ~line
        bridge = cv2.morphologyEx(kept.astype(np.uint8), cv2.MORPH_CLOSE,
                                  np.ones((odd(thick_px + 3), 1), np.uint8)).astype(bool)
        res = kept | (line & bridge)
        out = res.T if axis == 0 else res
    return out


def remove_specks(mask: np.ndarray, keep_frac: float = 0.06, border_frac: float | None = None,
                  min_area: float = 0.0) -> np.ndarray:
    """Drop components much smaller than the typical one (area-weighted median) or than ``min_area`` pixels,
    (H, W) bool -> (H, W) bool."""
    n, lab, st, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask
    areas = st[1:, cv2.CC_STAT_AREA].astype(np.float64)
    order = np.sort(areas)
    cum = np.cumsum(order)
    typical = order[np.searchsorted(cum, cum[-1] / 2)]  # half the ink lies in components at least this big
    keep = areas >= max(keep_frac * typical, 2, min_area)
    if border_frac is not None and keep.sum() > 1:
        h, w = mask.shape
        x, y, bw, bh = (st[1:, i] for i in range(4))
        touches = (x == 0) | (y == 0) | (x + bw >= w) | (y + bh >= h)
        keep &= ~(touches & (areas < border_frac * areas.max()))
    lut = np.concatenate([[False], keep])
    return lut[lab]


def ink_box(c: np.ndarray, level: int = 26) -> tuple[int, int, int, int]:
    """Bounding box (x, y, w, h) of the pixels >= level (10 % ink) of an (H, W) uint8 image; whole image if none."""
    ys, xs = np.nonzero(c >= level)
    if ys.size == 0:
        ys, xs = np.nonzero(c)
    if ys.size == 0:
        return 0, 0, c.shape[1], c.shape[0]
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a bool mask in px: area / half the boundary length (a stroke of width w, length L
    has area wL and boundary ~2L)."""
    m = mask.astype(np.uint8)
    area = int(m.sum())
    if area == 0:
        return 0.0
    edge = int((m - cv2.erode(m, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)).sum())
    return 2.0 * area / max(edge, 1)


# ---------------------------------------------------------------------------------------------------- helpers
def odd(n: float) -> int:
    """The odd integer at or just above int(n): kernel sides must be odd."""
    n = int(n)
    return n if n % 2 else n + 1


def smooth(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of sigma px; none below 0.3 px (it would only cost time)."""
    return a if sigma < 0.3 else cv2.GaussianBlur(a, (0, 0), sigma)


def _background(s: np.ndarray, k: int) -> np.ndarray:
    """(H, W) uint8 -> (H, W) float32 ground level: opening by a k x k square, computed small and smoothed."""
    h, w = s.shape
    f = max(1, k // 15)  # work on a shrunk copy: the ground is smooth, and big openings are slow
    small = cv2.resize(s, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA) if f > 1 else s
    kk = odd(max(3, k // f))
    opened = cv2.morphologyEx(small, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (kk, kk)))
    opened = cv2.blur(opened, (kk, kk))  # soften the opening's flat blocks
    bg = cv2.resize(opened, (w, h), interpolation=cv2.INTER_LINEAR) if f > 1 else opened
    return bg.astype(np.float32)
