"""Batched numpy/cv2 distortions that make an MNIST model read other writers and scanners.

Every function takes a batch ``x`` of (N, H, W) float32 images in [0, 1] (white ink on black), a
``numpy.random.Generator`` and a strength, and returns a new batch of the same shape and dtype, clipped to [0, 1].
Strength 0 returns the batch unchanged; the same generator state gives the same result. They are vectorised over
the batch (a 128-image batch costs a few milliseconds), so ``lenet.train`` can run them inside its input pipeline.

- ``printed``: the digit swapped for the same digit printed in a font (``lenet.printed``), as on forms.
- ``elastic``: Simard, Steinkraus & Platt (2003), "Best practices for convolutional neural networks applied to
  visual document analysis": a random displacement field, smoothed by a Gaussian of ``ELASTIC_SIGMA`` px and scaled
  by alpha, moves every pixel (34 at sigma 4 in the paper on 29x29 images).
- ``slant``: horizontal shear, as writers lean their digits.
- ``bold``: much thicker strokes (grey dilation by 3x3), beyond ``Augment.thickness``' one-pixel changes.
- ``breaks``: small gaps cut into strokes (dry pens, faint pencil, thresholded scans).
- ``proportion``: the top and the bottom of the digit scaled in height differently, as writers' proportions vary
  (a 9 with a small loop and a long tail).
- ``stretch``: the digit stretched to fill a square before it is fitted into MNIST's 20x20 box, as collections
  that normalise a digit to fill its box (Semeion's 16x16, USPS) store it: a 1 becomes a broad bar.
- ``resolution``: the digit rescanned small (down to ~8 px), sometimes binarised, then scaled back up, as
  ``lenet.preprocess`` upscales a 16x16 binary scan or an 8x8 scan.
"""
from __future__ import annotations

import cv2
import numpy as np

from . import preprocess as pp
from .config import IMAGE_SIZE, MNIST_BOX, Augment

ELASTIC_SIGMA = 4.0  # px: smoothness of the displacement field (Simard et al. used 4 at 29x29)
RESCAN_SIDES = (8, 16)  # the digit's own side (px) after a low-resolution scan; MNIST digits are 20 px
BINARISE_SHARE = 0.5  # of the rescanned digits, this share is also thresholded to black and white
BREAK_SIDE = (1, 3)  # px: side of a cut square, inclusive range
BREAKS_PER_DIGIT = (1, 2)  # cuts per broken digit, inclusive range
PROPORTION_MAX = 1.8  # ``proportion``: the most one part of a digit grows against the other


def _check(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3:
        raise ValueError(f"expected a batch (N, H, W), got shape {x.shape}")
    return x


def _gauss_matrix(n: int, sigma: float) -> np.ndarray:
    """(n, n) matrix that blurs a length-n signal with a Gaussian (rows renormalised at the borders)."""
    i = np.arange(n, dtype=np.float32)
    g = np.exp(-0.5 * ((i[:, None] - i[None, :]) / sigma) ** 2)
    return (g / g.sum(1, keepdims=True)).astype(np.float32)


def remap(x: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Sample every image at (row + dy, col + dx) by bilinear interpolation; outside the image is black.

    Args:
        x: (N, H, W) float32.
        dy, dx: displacements in pixels, broadcastable to (N, H, W).

    Returns:
        (N, H, W) float32.
    """
    n, h, w = x.shape
    rows, cols = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    sy = np.broadcast_to(rows + dy, x.shape).astype(np.float32)
    sx = np.broadcast_to(cols + dx, x.shape).astype(np.float32)
    # cv2.remap per image: ~10 us each, several times faster than gathering four corners in numpy.
    out = np.empty_like(x)
    for i in range(n):
        out[i] = cv2.remap(x[i], sx[i], sy[i], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out


def elastic(x: np.ndarray, rng: np.random.Generator, alpha: float, sigma: float = ELASTIC_SIGMA) -> np.ndarray:
    """Simard et al.'s elastic distortion: uniform(-1, 1) fields, Gaussian-smoothed (sigma px), scaled by alpha."""
    x = _check(x)
    if alpha <= 0 or len(x) == 0:
        return x.copy()
    n, h, w = x.shape
    gh, gw = _gauss_matrix(h, sigma), _gauss_matrix(w, sigma)
    field = rng.uniform(-1, 1, size=(2, n, h, w)).astype(np.float32)
    field = gh @ field @ gw.T  # separable Gaussian blur of every field at once
    # Renormalised borders keep the field's size even at the edge, unlike zero padding.
    return np.clip(remap(x, alpha * field[0], alpha * field[1]), 0.0, 1.0)


def slant(x: np.ndarray, rng: np.random.Generator, max_shear: float) -> np.ndarray:
    """Shear each image horizontally by a random factor in [-max_shear, max_shear] about its centre row."""
    x = _check(x)
    if max_shear <= 0 or len(x) == 0:
        return x.copy()
    n, h, w = x.shape
    k = rng.uniform(-max_shear, max_shear, size=(n, 1, 1)).astype(np.float32)
    rows = np.arange(h, dtype=np.float32)[None, :, None] - (h - 1) / 2
    return np.clip(remap(x, np.zeros((1, 1, 1), np.float32), k * rows), 0.0, 1.0)


def _shift_stack(x: np.ndarray, offsets) -> np.ndarray:
    """(len(offsets), N, H, W): the batch shifted by each (dy, dx), black coming in at the borders."""
    n, h, w = x.shape
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    return np.stack([p[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy, dx in offsets])


_SQUARE3 = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]


def bold(x: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """With probability p per image, dilate the strokes by a 3x3 square (about 2 px thicker)."""
    x = _check(x)
    if p <= 0 or len(x) == 0:
        return x.copy()
    pick = rng.random(len(x)) < p
    out = x.copy()
    if pick.any():
        out[pick] = _shift_stack(x[pick], _SQUARE3).max(0)
    return out


def breaks(x: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """With probability p per image, cut 1-2 small squares (1-3 px) out of its strokes, centred on ink."""
    x = _check(x)
    if p <= 0 or len(x) == 0:
        return x.copy()
    n, h, w = x.shape
    out = x.copy()
    rows, cols = np.arange(h)[None, :, None], np.arange(w)[None, None, :]
    for cut in range(BREAKS_PER_DIGIT[1]):
        want = rng.random(n) < (p if cut < BREAKS_PER_DIGIT[0] else p / 2)
        # A random ink pixel per image: the argmax of random scores on the ink.
        score = rng.random((n, h, w), dtype=np.float32) * (out > 0.5)
        flat = score.reshape(n, -1).argmax(1)
        cy, cx = (flat // w)[:, None, None], (flat % w)[:, None, None]
        side = rng.integers(BREAK_SIDE[0], BREAK_SIDE[1] + 1, size=(n, 1, 1))
        y0, x0 = cy - (side - 1) // 2, cx - (side - 1) // 2
        box = (rows >= y0) & (rows < y0 + side) & (cols >= x0) & (cols < x0 + side)
        has_ink = score.reshape(n, -1).max(1) > 0
        out[box & (want & has_ink)[:, None, None]] = 0.0
    return out


def _ink_crop(im: np.ndarray) -> np.ndarray | None:
    """A float image as uint8, cut to its ink (``preprocess.crop``), or None when it has none."""
    u8 = np.round(np.clip(im, 0, 1) * 255).astype(np.uint8)
    return pp.crop(u8) if (u8 >= 26).any() else None


def _resize(a: np.ndarray, w: int, h: int) -> np.ndarray:
    return cv2.resize(a, (max(1, w), max(1, h)), interpolation=cv2.INTER_AREA if a.shape[0] * a.shape[1] > w * h
                      else cv2.INTER_LINEAR)


def _mnist_frame(x: np.ndarray) -> None:
    if x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"expected {IMAGE_SIZE}x{IMAGE_SIZE} images, got {x.shape[1:]}")


def _redraw(x: np.ndarray, rng: np.random.Generator, p: float, draw) -> np.ndarray:
    """With probability p per 28x28 image, replace it by ``draw(its ink crop as uint8)`` (a (28, 28) float32, or
    None to keep it)."""
    x = _check(x)
    if p <= 0 or len(x) == 0:
        return x.copy()
    _mnist_frame(x)
    out = x.copy()
    for i in np.flatnonzero(rng.random(len(x)) < p):
        crop = _ink_crop(x[i])
        new = None if crop is None else draw(crop)
        if new is not None:
            out[i] = new
    return out


def stretch(x: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """With probability p per image, stretch the digit's ink box to a square of MNIST's 20 px (aspect lost) and
    centre it by its centre of mass (``preprocess.centre``), as ``lenet.preprocess`` then sees a digit stored
    stretched to fill its box. 28x28 images."""
    return _redraw(x, rng, p, lambda crop: pp.centre(_resize(crop, MNIST_BOX, MNIST_BOX)))


def proportion(x: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """With probability p per image, change the digit's proportions as writers do: the part above a random row
    (35-65 % down) and the part below it are scaled in height by different factors (their ratio up to
    ``PROPORTION_MAX`` either way: a 9 or a 7 with a long tail, a 6 with a tall stem, a top-heavy 8), then the
    digit is fitted and centred again as ``lenet.preprocess`` does (``fit``, ``centre``). 28x28 images."""
    def draw(crop: np.ndarray) -> np.ndarray | None:
        ch, cw = crop.shape
        if ch < 4:
            return None
        cut = int(round(ch * rng.uniform(0.35, 0.65)))
        k = float(np.exp(rng.uniform(-1, 1) * np.log(PROPORTION_MAX)))  # bottom / top scale
        scale = 4 * 2 / (1 + k)  # worked at 4x, so thin strokes survive the resizes; the height about kept
        top = _resize(crop[:cut], 4 * cw, round(cut * scale))
        bottom = _resize(crop[cut:], 4 * cw, round((ch - cut) * scale * k))
        return pp.centre(pp.fit(np.vstack([top, bottom])))

    return _redraw(x, rng, p, draw)


def resolution(x: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """With probability p per image, rescan the digit at 8-16 px (of MNIST's 20), binarise half of those at a
    random threshold, and scale back up (bilinear, as ``lenet.preprocess.fit`` upscales small scans)."""
    x = _check(x)
    if p <= 0 or len(x) == 0:
        return x.copy()
    n, h, w = x.shape
    out = x.copy()
    idx = np.flatnonzero(rng.random(n) < p)
    sides = rng.integers(RESCAN_SIDES[0], RESCAN_SIDES[1] + 1, size=len(idx))
    binar = rng.random(len(idx)) < BINARISE_SHARE
    cuts = rng.uniform(0.3, 0.6, size=len(idx))
    for i, side, b, t in zip(idx, sides, binar, cuts):
        s = max(2, int(round(side * h / MNIST_BOX)))  # the whole 28x28 frame at the digit's new scale
        small = cv2.resize(x[i], (s, s), interpolation=cv2.INTER_AREA)
        if b:
            small = (small >= t).astype(np.float32)
        out[i] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(out, 0.0, 1.0)


def is_active(aug: Augment) -> bool:
    """Whether any of this module's distortions is switched on in ``aug``."""
    return any((aug.printed, aug.elastic, aug.slant, aug.proportion, aug.bold, aug.breaks, aug.stretch, aug.resolution))


def printed(x: np.ndarray, labels: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """With probability p per image, swap the digit for the same digit printed (``lenet.printed``: Hershey fonts,
    plain to serif, thin to bold, upright or italic). Needs the batch's labels (N,)."""
    x = _check(x)
    if p <= 0 or len(x) == 0:
        return x.copy()
    from .printed import bank

    _mnist_frame(x)
    images, digits = bank()
    out = x.copy()
    labels = np.asarray(labels).reshape(-1)
    for i in np.flatnonzero(rng.random(len(x)) < p):
        choices = np.flatnonzero(digits == labels[i])
        out[i] = images[rng.choice(choices)]
    return out


def apply(x: np.ndarray, rng: np.random.Generator, aug: Augment, labels: np.ndarray | None = None) -> np.ndarray:
    """All of this module's distortions that ``aug`` switches on, in the order a page goes through them:
    what is written (printed), the writer's hand (elastic, slant, proportion), the pen (bold, breaks), then the
    scanner (stretch, resolution).

    Args:
        x: (N, H, W) or (N, H, W, 1) float32 in [0, 1].
        rng: the generator to draw from.
        aug: the strengths (``Augment.printed``, ``elastic``, ``slant``, ``proportion``, ``bold``, ``breaks``,
            ``stretch``, ``resolution``).
        labels: (N,) digits of the batch; ``printed`` needs them and is skipped without them.

    Returns:
        An array of ``x``'s shape, float32 in [0, 1].
    """
    arr = np.asarray(x, dtype=np.float32)
    y = _check(arr.reshape(arr.shape[:3]))
    if labels is not None:
        y = printed(y, labels, rng, aug.printed)
    y = elastic(y, rng, aug.elastic)
    y = slant(y, rng, aug.slant)
    y = proportion(y, rng, aug.proportion)
    y = bold(y, rng, aug.bold)
    y = breaks(y, rng, aug.breaks)
    y = stretch(y, rng, aug.stretch)
    y = resolution(y, rng, aug.resolution)
    return y.reshape(arr.shape)
