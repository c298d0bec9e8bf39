"""Preprocessing styles: an image of one digit -> the 28x28 array a model sees.

A style is an ordered tuple of stages (``STYLE_STAGES``); every stage is a pure function array -> array and its
output is kept, so the pictures shown side by side are the very arrays that produced the model input.

The default, ``mnist``, redoes what was done to MNIST itself: the digit is cleaned from its paper, fitted into a
20x20 box keeping its aspect ratio (anti-aliased), and placed in 28x28 with its centre of mass at the centre, white
ink on black. The other styles reproduce the seed preprocessing study (none, thresh, crop_tight, crop_sq, pad_<s>).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterable

import cv2
import numpy as np

from lenet import config
from lenet.io import to_grey

STYLES = ("none", "thresh", "crop_tight", "crop_sq", "pad", "mnist")
DEFAULT_STYLE = "mnist"
PAD_RANGE = (1.0, 2.0)  # the seed study's scan of pad scales
DEFAULT_PAD_SCALE = 1.5  # the seed study's best pad scale

DARK_ON_LIGHT = "dark_on_light"
LIGHT_ON_DARK = "light_on_dark"

MAX_WORK_SIDE = 1024  # a single digit needs no more; keeps a 12 MP photo's cleaning well under a second
MIN_CONTRAST = 0.12  # ink must differ from its paper by 12 % of the paper's headroom, or the image is blank
MNIST_CENTRE = 14.0  # measured: MNIST's mean centre of mass is (13.99, 14.01) in pixel-index coordinates
MNIST_STROKE = 2.1  # measured: median stroke width of MNIST digits (px in the 28x28 image)

STYLE_STAGES: dict[str, tuple[str, ...]] = {
    "none": ("grey", "polarity", "model input"),
    "thresh": ("grey", "polarity", "thresh", "model input"),
    "crop_tight": ("grey", "polarity", "clean", "crop", "model input"),
    "crop_sq": ("grey", "polarity", "clean", "crop", "square", "model input"),
    "pad": ("grey", "polarity", "clean", "crop", "square", "pad", "model input"),
    "mnist": ("grey", "polarity", "clean", "crop", "stroke", "fit", "model input"),
}


@dataclass
class Preprocessed:
    """The result of one style on one image.

    Attributes:
        stages: ordered name -> image as shown to the user, starting with "input" and ending with "model input",
            which is ``x`` itself.
        x: (28, 28) float32 in [0, 1], white ink on black: exactly what the model sees.
        style: the style name, one of STYLES.
        pad_scale: the pad scale used (meaningful for "pad").
        polarity: "dark_on_light" or "light_on_dark", as detected (or given) for the input.
        empty: True when no ink was found; ``x`` is then all zeros.
    """

    stages: dict[str, np.ndarray]
    x: np.ndarray
    style: str = DEFAULT_STYLE
    pad_scale: float = DEFAULT_PAD_SCALE
    polarity: str = DARK_ON_LIGHT
    empty: bool = False


# ---------------------------------------------------------------------------------------------------- styles by name
def parse_style(s: str) -> tuple[str, float]:
    """Parse a style label: "mnist" -> ("mnist", 1.5), "pad_1.5" -> ("pad", 1.5), "pad" -> ("pad", 1.5).

    Raises:
        ValueError: unknown style, or a pad scale outside 1.0-2.0.
    """
    t = s.strip().lower()
    name, _, scale = t.partition("_") if t.startswith("pad") else (t, "", "")
    if name not in STYLES:
        raise ValueError(f"unknown style {s!r}; choose from {', '.join(STYLES)} (pad as pad_1.5)")
    pad_scale = DEFAULT_PAD_SCALE
    if scale:
        try:
            pad_scale = float(scale)
        except ValueError:
            raise ValueError(f"bad pad scale in {s!r}; write e.g. pad_1.5") from None
    return name, _check_pad(pad_scale)


def format_style(style: str, pad_scale: float = DEFAULT_PAD_SCALE) -> str:
    """Inverse of parse_style: ("pad", 1.5) -> "pad_1.5", ("mnist", any) -> "mnist"."""
    return f"pad_{pad_scale:g}" if style == "pad" else style


def _check_pad(pad_scale: float) -> float:
    if not (PAD_RANGE[0] - 1e-9 <= pad_scale <= PAD_RANGE[1] + 1e-9):
        raise ValueError(f"pad scale {pad_scale} outside {PAD_RANGE[0]}-{PAD_RANGE[1]}")
    return float(pad_scale)


# ---------------------------------------------------------------------------------------------------- the pipeline
def preprocess(img: np.ndarray, style: str = DEFAULT_STYLE, pad_scale: float = DEFAULT_PAD_SCALE, *,
               polarity: str | None = None) -> Preprocessed:
    """Run one style on one image of a digit.

    Args:
        img: (H, W) grey or (H, W, 3) RGB or (H, W, 4) RGBA; uint8, uint16 or float (see ``io.to_grey``).
        style: one of STYLES, or a label such as "pad_1.5".
        pad_scale: the square is padded to this multiple of its side (style "pad"), 1.0-2.0.
        polarity: "dark_on_light" or "light_on_dark"; detected when None (give it when the image is a crop of a
            larger one whose polarity is known).

    Returns:
        Preprocessed with every stage's image and ``x``: (28, 28) float32 in [0, 1], white ink on black.
    """
    name, scale = parse_style(style)  # raises on unknown styles
    style, pad_scale = name, _check_pad(scale if style.strip().lower().startswith("pad_") else pad_scale)
    stages: dict[str, np.ndarray] = {"input": np.asarray(img)}
    g = grey(img)
    stages["grey"] = g
    pol = polarity or detect_polarity(g)
    if pol not in (DARK_ON_LIGHT, LIGHT_ON_DARK):
        raise ValueError(f"polarity must be {DARK_ON_LIGHT!r} or {LIGHT_ON_DARK!r}, not {pol!r}")
    p = to_mnist_polarity(g, pol)
    stages["polarity"] = p
    cleaned = clean(p)
    empty = not cleaned.any()
    funcs = _stage_funcs(style, pad_scale)
    a = p
    for name in STYLE_STAGES[style][2:]:
        if empty:
            break
        a = cleaned if name == "clean" else funcs[name](a)
        stages[name] = a
    x = np.zeros((config.IMAGE_SIZE, config.IMAGE_SIZE), np.float32) if empty else a
    stages["model input"] = x
    return Preprocessed(stages=stages, x=x, style=style, pad_scale=pad_scale, polarity=pol, empty=empty)


def preprocess_batch(images: Iterable[np.ndarray], style: str = DEFAULT_STYLE,
                     pad_scale: float = DEFAULT_PAD_SCALE, *, polarity: str | None = None) -> np.ndarray:
    """Many digits at once: a sequence of images -> (N, 28, 28) float32 in [0, 1] (blank ones all zeros)."""
    xs = [preprocess(im, style, pad_scale, polarity=polarity).x for im in images]
    if not xs:
        return np.zeros((0, config.IMAGE_SIZE, config.IMAGE_SIZE), np.float32)
    return np.stack(xs).astype(np.float32, copy=False)


def _stage_funcs(style: str, pad_scale: float) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    return {
        "model input": centre if style == "mnist" else resize28,
        "thresh": thresh,
        "crop": crop,
        "square": square,
        "pad": partial(pad, scale=pad_scale),
        "stroke": stroke,
        "fit": fit,
        "clean": clean,
    }


# ---------------------------------------------------------------------------------------------------- stages
def grey(img: np.ndarray) -> np.ndarray:
    """Any image -> (H, W) uint8 grey, shrunk (INTER_AREA) so its longer side is at most MAX_WORK_SIDE."""
    g = to_grey(img)
    h, w = g.shape
    if max(h, w) > MAX_WORK_SIDE:
        f = MAX_WORK_SIDE / max(h, w)
        g = cv2.resize(g, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return g


def detect_polarity(grey: np.ndarray) -> str:
    """Is the ink dark on a light ground (paper) or light on a dark one (canvas, MNIST)?

    Ink is the minority of the pixels, so after slow light variations are removed (minus a wide blur), its
    values form a long tail on one side: the sign of the skewness says which. When the tail is too weak to
    call (ink covering about half the image), the border's median decides.

    Args:
        grey: (H, W) uint8.

    Returns:
        "dark_on_light" or "light_on_dark".
    """
    g = np.asarray(grey)
    h, w = g.shape
    if max(h, w) > 256:
        f = 256 / max(h, w)
        g = cv2.resize(g, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
        h, w = g.shape
    f32 = g.astype(np.float32)
    d = (f32 - cv2.GaussianBlur(f32, (0, 0), max(2.0, min(h, w) / 6))).ravel()
    sd = float(d.std())
    if sd > 2.0:  # below that it is grain on a blank page
        skew = float(np.mean((d - d.mean()) ** 3)) / sd ** 3
        if abs(skew) > 0.5:
            return LIGHT_ON_DARK if skew > 0 else DARK_ON_LIGHT
    b = max(1, min(h, w) // 20)
    border = np.concatenate([g[:b].ravel(), g[-b:].ravel(), g[:, :b].ravel(), g[:, -b:].ravel()])
    return DARK_ON_LIGHT if np.median(border) >= 128 else LIGHT_ON_DARK


def to_mnist_polarity(grey: np.ndarray, polarity: str) -> np.ndarray:
    """(H, W) uint8 -> (H, W) uint8 with light ink on a dark ground, as in MNIST (inverted if dark_on_light)."""
    return 255 - grey if polarity == DARK_ON_LIGHT else grey.copy()


def thresh(p: np.ndarray) -> np.ndarray:
    """The seed's "thresh": Gaussian smoothing + Otsu threshold. (H, W) uint8 -> (H, W) uint8 in {0, 255}."""
    s = _smooth(p, max(0.5, min(p.shape) / 300))
    _, b = cv2.threshold(s, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return b


def clean(p: np.ndarray) -> np.ndarray:
    """Keep only the ink: paper, shadows, ruled lines and specks removed.

    Args:
        p: (H, W) uint8, light ink on a dark ground (after ``to_mnist_polarity``).

    Returns:
        (H, W) uint8: 0 off the ink; on the ink its grey level, contrast stretched so solid ink is ~255
        (anti-aliased edges keep their intermediate levels). All zeros when no ink was found.
    """
    e, mask = ink_map(p, line_span=0.85, border_frac=0.3)
    return ink_image(e, mask)


def crop(c: np.ndarray) -> np.ndarray:
    """(H, W) uint8 cleaned ink -> (h, w) uint8 tight crop to the ink's bounding box (all components)."""
    x, y, w, h = ink_box(c)
    return c[y:y + h, x:x + w].copy()


def square(c: np.ndarray) -> np.ndarray:
    """(h, w) uint8 crop -> (s, s) uint8, s = max(h, w), the crop centred on a black square."""
    h, w = c.shape
    return _centre_on(c, max(h, w))


def pad(sq: np.ndarray, scale: float = DEFAULT_PAD_SCALE) -> np.ndarray:
    """(s, s) uint8 -> (S, S) uint8, S = round(s * scale): the square with a black margin around it."""
    s = sq.shape[0]
    return _centre_on(sq, max(s, int(round(s * scale))))


def stroke(c: np.ndarray) -> np.ndarray:
    """Thicken strokes much thinner than MNIST's: (h, w) uint8 -> (h', w') uint8 (unchanged if already bold).

    MNIST strokes are ~2 px in a 20 px box; a fine pen on a big scan would shrink to faint hairlines. Strokes
    are grown (grey dilation) until they would be ~MNIST_STROKE px wide in the 20x20 box; never thinned.
    """
    side = max(c.shape)
    mask = c >= 64
    width = stroke_width(mask)
    if width <= 0 or side < 8:
        return c
    target = MNIST_STROKE * side / config.MNIST_BOX
    if width >= 0.8 * target:
        return c
    grow = int(round(target - width))
    if grow < 1:
        return c
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow + 1, grow + 1))
    padded = cv2.copyMakeBorder(c, grow, grow, grow, grow, cv2.BORDER_CONSTANT, value=0)
    return crop(cv2.dilate(padded, k))


def fit(c: np.ndarray) -> np.ndarray:
    """(h, w) uint8 -> (h', w') uint8 with max(h', w') = 20 (config.MNIST_BOX), aspect ratio kept, anti-aliased."""
    h, w = c.shape
    f = config.MNIST_BOX / max(h, w)
    size = (max(1, int(round(w * f))), max(1, int(round(h * f))))
    return cv2.resize(c, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)


def centre(f: np.ndarray) -> np.ndarray:
    """(h, w) uint8 fitted digit -> (28, 28) float32 in [0, 1], its centre of mass moved to MNIST's centre."""
    n = config.IMAGE_SIZE
    a = f.astype(np.float32) / 255.0
    total = float(a.sum())
    if total <= 0:
        return np.zeros((n, n), np.float32)
    ys, xs = np.indices(a.shape, dtype=np.float64)
    cy, cx = float((a * ys).sum() / total), float((a * xs).sum() / total)
    # Sub-pixel shift by bilinear interpolation keeps the centre of mass exact (a pure translation).
    m = np.float32([[1, 0, MNIST_CENTRE - cx], [0, 1, MNIST_CENTRE - cy]])
    out = cv2.warpAffine(a, m, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return np.clip(out, 0.0, 1.0)


def resize28(a: np.ndarray) -> np.ndarray:
    """(h, w) uint8 -> (28, 28) float32 in [0, 1], stretched to fill (aspect ratio not kept, as in the seeds)."""
    n = config.IMAGE_SIZE
    h, w = a.shape
    interp = cv2.INTER_AREA if (h > n or w > n) else cv2.INTER_LINEAR
    return cv2.resize(a, (n, n), interpolation=interp).astype(np.float32) / 255.0


# ---------------------------------------------------------------------------------------------------- ink finding
def ink_map(p: np.ndarray, *, bg_kernel: int | None = None, line_span: float | None = 0.85,
            keep_frac: float = 0.06, border_frac: float | None = None) -> tuple[np.ndarray, np.ndarray]:
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

    Returns:
        (ink, mask): (H, W) float32 ink strength in [0, 1] and (H, W) bool mask of the ink kept.
    """
    h, w = p.shape
    s = _smooth(p, min(1.5, min(h, w) / 500))
    k = bg_kernel or _odd(max(7, max(h, w) // 3))
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
    mask = remove_specks(mask, keep_frac, border_frac)
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
                                  np.ones((_odd(thick_px + 3), 1), np.uint8)).astype(bool)
        res = kept | (line & bridge)
        out = res.T if axis == 0 else res
    return out


def remove_specks(mask: np.ndarray, keep_frac: float = 0.06, border_frac: float | None = None) -> np.ndarray:
    """Drop components much smaller than the typical one (area-weighted median), (H, W) bool -> (H, W) bool."""
    n, lab, st, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask
    areas = st[1:, cv2.CC_STAT_AREA].astype(np.float64)
    order = np.sort(areas)
    cum = np.cumsum(order)
    typical = order[np.searchsorted(cum, cum[-1] / 2)]  # half the ink lies in components at least this big
    keep = areas >= max(keep_frac * typical, 2)
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


# ---------------------------------------------------------------------------------------------------- helpers
def _odd(n: float) -> int:
    n = int(n)
    return n if n % 2 else n + 1


def _smooth(a: np.ndarray, sigma: float) -> np.ndarray:
    return a if sigma < 0.3 else cv2.GaussianBlur(a, (0, 0), sigma)


def _background(s: np.ndarray, k: int) -> np.ndarray:
    """(H, W) uint8 -> (H, W) float32 ground level: opening by a k x k square, computed small and smoothed."""
    h, w = s.shape
    f = max(1, k // 15)  # work on a shrunk copy: the ground is smooth, and big openings are slow
    small = cv2.resize(s, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA) if f > 1 else s
    kk = _odd(max(3, k // f))
    opened = cv2.morphologyEx(small, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (kk, kk)))
    opened = cv2.blur(opened, (kk, kk))  # soften the opening's flat blocks
    bg = cv2.resize(opened, (w, h), interpolation=cv2.INTER_LINEAR) if f > 1 else opened
    return bg.astype(np.float32)


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a bool mask in px: area / half the boundary length (a stroke of width w, length L
    has area wL and boundary ~2L)."""
    m = mask.astype(np.uint8)
    area = int(m.sum())
    if area == 0:
        return 0.0
    edge = int((m - cv2.erode(m, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)).sum())
    return 2.0 * area / max(edge, 1)


def _centre_on(c: np.ndarray, side: int) -> np.ndarray:
    h, w = c.shape
    out = np.zeros((side, side), c.dtype)
    y0, x0 = (side - h) // 2, (side - w) // 2
    out[y0:y0 + h, x0:x0 + w] = c
    return out
