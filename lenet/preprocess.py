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
from lenet.ink import ink_box, ink_image, ink_map, remove_specks, smooth, stroke_width
from lenet.io import to_grey

STYLES = ("none", "thresh", "crop_tight", "crop_sq", "pad", "mnist")
DEFAULT_STYLE = "mnist"
PAD_RANGE = (1.0, 2.0)  # the seed study's scan of pad scales
DEFAULT_PAD_SCALE = 1.5  # the seed study's best pad scale

DARK_ON_LIGHT = "dark_on_light"
LIGHT_ON_DARK = "light_on_dark"

MAX_WORK_SIDE = 1024  # a single digit needs no more; keeps a 12 MP photo's cleaning well under a second
# A scan smaller than MNIST's 28 px (8x8, 16x16) is enlarged to 64 px before cleaning, or a pixel is a whole stroke
# (bench/other_writers, shipped model: sklearn's 8x8 scans 91.7 -> 97.6 %, 16x16 binary 80.5 -> 90.5 %).
SMALL_SIDE, SMALL_WORK_SIDE = 28, 64
MNIST_CENTRE = 14.0  # measured: MNIST's mean centre of mass is (13.99, 14.01) in pixel-index coordinates
MIN_INK_AREA = 0.0005  # fraction of the image: smaller ink is a speck, not a digit (blank lined paper stays blank)
MNIST_STROKE = 2.1  # measured: median stroke width of MNIST digits (px in the 28x28 image)
CANVAS_WORK_SIDE = 112  # canvas fast path: a drawing is shrunk to this (4x MNIST's 28; the 20-px fit loses nothing)
CANVAS_FAINT = 8  # canvas fast path: grey levels below this are ground (a canvas has no paper, only anti-aliasing)

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
               polarity: str | None = None, canvas: bool = False) -> Preprocessed:
    """Run one style on one image of a digit.

    Args:
        img: (H, W) grey or (H, W, 3) RGB or (H, W, 4) RGBA; uint8, uint16 or float (see ``io.to_grey``).
        style: one of STYLES, or a label such as "pad_1.5".
        pad_scale: the square is padded to this multiple of its side (style "pad"), 1.0-2.0.
        polarity: "dark_on_light" or "light_on_dark"; detected when None (give it when the image is a crop of a
            larger one whose polarity is known).
        canvas: the image is a drawing on a clean canvas (uint8, ink on a flat ground, light on dark unless
            ``polarity`` says otherwise). There is no paper to remove, so the fast path skips what ``clean``
            does for photos (ground estimation, ruled lines, specks) and works at ``CANVAS_WORK_SIDE``:
            ~10x faster.

    Returns:
        Preprocessed with every stage's image and ``x``: (28, 28) float32 in [0, 1], white ink on black.
    """
    name, scale = parse_style(style)  # raises on unknown styles
    style, pad_scale = name, _check_pad(scale if style.strip().lower().startswith("pad_") else pad_scale)
    stages: dict[str, np.ndarray] = {"input": np.asarray(img)}
    g = canvas_grey(img) if canvas else grey(img)
    stages["grey"] = g
    pol = polarity or (LIGHT_ON_DARK if canvas else detect_polarity(g))
    if pol not in (DARK_ON_LIGHT, LIGHT_ON_DARK):
        raise ValueError(f"polarity must be {DARK_ON_LIGHT!r} or {LIGHT_ON_DARK!r}, not {pol!r}")
    p = to_mnist_polarity(g, pol)
    stages["polarity"] = p
    cleaned = canvas_ink(p) if canvas else clean(p)
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
    """Any image -> (H, W) uint8 grey, shrunk (INTER_AREA) so its longer side is at most MAX_WORK_SIDE; one
    smaller than SMALL_SIDE is enlarged (bilinear) to SMALL_WORK_SIDE."""
    g = to_grey(img)
    h, w = g.shape
    if max(h, w) < SMALL_SIDE:
        f = SMALL_WORK_SIDE / max(h, w)
        return cv2.resize(g, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_LINEAR)
    return _at_most(g, MAX_WORK_SIDE)


def _at_most(g: np.ndarray, side: int) -> np.ndarray:
    """(H, W) uint8 shrunk (INTER_AREA) so its longer side is at most ``side``; unchanged when it already is."""
    h, w = g.shape
    if max(h, w) <= side:
        return g
    f = side / max(h, w)
    return cv2.resize(g, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def canvas_grey(img: np.ndarray) -> np.ndarray:
    """A canvas drawing -> (h, w) uint8 grey, shrunk (INTER_AREA) so its longer side is at most CANVAS_WORK_SIDE.

    Transparent pixels count as the dark ground (a drawing in light ink); any other image goes to ``grey``.
    """
    a = np.asarray(img)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] not in (3, 4):
        g = grey(a)
    else:
        g = cv2.cvtColor(a, cv2.COLOR_RGBA2GRAY if a.shape[2] == 4 else cv2.COLOR_RGB2GRAY)
        if a.shape[2] == 4:
            g = cv2.multiply(g, a[:, :, 3], scale=1 / 255)  # over black: what is not opaque is ground
    return _at_most(g, CANVAS_WORK_SIDE)


def canvas_ink(p: np.ndarray) -> np.ndarray:
    """A canvas drawing's ink, (h, w) uint8 light on dark -> the same with faint levels and stray dots zeroed.

    A canvas has no paper, shadows or ruled lines: only specks (a tap of the pen) need removing, as ``clean``
    removes them from photos (smaller than ``MIN_INK_AREA`` of the image or than the typical stroke).
    """
    ink = cv2.threshold(p, CANVAS_FAINT - 1, 0, cv2.THRESH_TOZERO)[1]
    mask = remove_specks(ink > 0, min_area=MIN_INK_AREA * ink.size)
    return np.where(mask, ink, 0).astype(np.uint8)


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
    s = smooth(p, max(0.5, min(p.shape) / 300))
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
    # A digit's ink covers far more than 0.05 % of its image; a lone speck on blank paper does not.
    e, mask = ink_map(p, line_span=0.85, border_frac=0.3, min_area_frac=MIN_INK_AREA)
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


def _centre_on(c: np.ndarray, side: int) -> np.ndarray:
    h, w = c.shape
    out = np.zeros((side, side), c.dtype)
    y0, x0 = (side - h) // 2, (side - w) // 2
    out[y0:y0 + h, x0:x0 + w] = c
    return out
