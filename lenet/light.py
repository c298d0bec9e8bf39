"""Evening out the light on a photographed page: shadows, gradients, vignetting, tinted paper -> white paper.

The paper's own colour is estimated per channel by a morphological closing much wider than a pen stroke (dark
ink is filled in, the paper and the steps of hard shadows are kept) and divided out. The darkest of the three
ratios is kept, so blue, black and red pen and pencil all become dark ink while yellow or grey paper becomes white.
Pure functions, array in -> array out.
"""
from __future__ import annotations

import cv2
import numpy as np

from lenet.ink import odd, stroke_width

WORK_SIDE = 512  # the background is estimated on a copy this big: it is smooth, and closings are slow
KERNEL_FRAC = 1 / 25  # first closing: 1/25 of the page's side, several times a handwritten stroke on a sheet
DARK_FLOOR = 0.25  # paper darker than this fraction of the brightest is no paper (a table), and is blanked
TINT_FLOOR = 0.6  # channels whose paper level is below this fraction of the brightest channel's are left out
INK_RATIO = 0.78  # pixels below this fraction of their paper are ink when measuring strokes


def paper_colour(rgb: np.ndarray, kernel_frac: float = KERNEL_FRAC) -> np.ndarray:
    """Estimate the paper's colour under the ink, per channel.

    The median window is ``kernel_frac`` of the longer side, or four stroke widths when the strokes are bolder
    (a single big digit filling the frame): a median keeps the paper only where ink covers less than half of the
    window. The strokes are measured on a first estimate with a window a quarter of the page wide.

    Args:
        rgb: (H, W, 3) uint8 (or (H, W) grey).
        kernel_frac: smallest window side as a fraction of the longer side.

    Returns:
        (h, w, C) float32 paper level on a small copy (longer side <= WORK_SIDE); resize it to use it.
    """
    a = rgb if rgb.ndim == 3 else rgb[:, :, None]
    h, w = a.shape[:2]
    f = min(1.0, WORK_SIDE / max(h, w))
    small = cv2.resize(a, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA) \
        if f < 1 else a.copy()
    if small.ndim == 2:
        small = small[:, :, None]
    side = max(small.shape[:2])
    k_wide = odd(max(5, side // 4))
    wide = _paper_at(small, k_wide)
    sw = stroke_width(_ratio(small, wide) < INK_RATIO)
    k = odd(max(5, side * kernel_frac, 4 * sw))
    return wide if k >= k_wide else _paper_at(small, k)


def even_light(rgb: np.ndarray, kernel_frac: float = KERNEL_FRAC) -> np.ndarray:
    """Divide out the paper's colour and light.

    Args:
        rgb: (H, W, 3) uint8 RGB (or (H, W) grey) photo or scan of a page.
        kernel_frac: see ``paper_colour``.

    Returns:
        (H, W) uint8 grey: paper ~255, ink dark, shadows and paper tint gone.
    """
    a = rgb if rgb.ndim == 3 else rgb[:, :, None]
    h, w = a.shape[:2]
    bg = paper_colour(a, kernel_frac)
    use, floor, dark = _rules(bg)
    # The division runs at full size in 8 bits (saturating, SIMD): a 12 MP page in a few tens of ms.
    paper = np.maximum(bg[:, :, use], floor).astype(np.uint8)
    out = None
    for c, ch in enumerate(np.flatnonzero(use)):
        pc = cv2.resize(paper[:, :, c], (w, h), interpolation=cv2.INTER_LINEAR) if paper.shape[:2] != (h, w) \
            else paper[:, :, c]
        q = cv2.divide(np.ascontiguousarray(a[:, :, ch]), pc, scale=255)
        out = q if out is None else cv2.min(out, q)
    if dark.any():
        dark_full = cv2.resize(dark.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        out[dark_full] = 255
    return out


def _rules(bg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From the paper level (h, w, C): the channels that vote, each one's floor, and where there is no paper.

    A channel the paper hardly reflects (blue on yellow paper) holds mostly noise: it does not vote. A dark area
    (the table around a page) is no paper to read: dividing would blow its texture and sensor noise up into
    "ink", so it is shown as blank paper; the floor keeps deep shadows from doing the same.
    """
    bright = np.percentile(bg[::2, ::2].reshape(-1, bg.shape[2]), 90, axis=0).astype(np.float32)
    use = bright >= TINT_FLOOR * bright.max()
    floor = DARK_FLOOR * bright[use]
    dark = (bg < DARK_FLOOR * bright).all(axis=2)
    return use, floor, dark


def _ratio(a: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """(h, w, C) uint8 image and (h, w, C) float32 paper level -> (h, w) float32: darkest image/paper ratio."""
    use, floor, dark = _rules(bg)
    ratio = (a[:, :, use].astype(np.float32) / np.maximum(bg[:, :, use], floor)).min(axis=2)
    ratio[dark] = 1.0
    return ratio


def _paper_at(small: np.ndarray, k: int) -> np.ndarray:
    """(h, w, C) uint8 -> (h, w, C) float32 paper level: the median over a k x k window per channel.

    A median ignores ink that covers less than half of the window and, unlike a blur, keeps the sharp step of a
    hard shadow's edge; unlike a closing it is not pulled up to the brightest grains of the paper's noise (which
    would leave a grey haze along every line of writing).
    """
    out = np.stack([cv2.medianBlur(small[:, :, c], k) for c in range(small.shape[2])], axis=2)
    return out.astype(np.float32)
