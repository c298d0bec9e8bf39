"""Printed digits: the ten digits rendered in OpenCV's Hershey fonts (plain, serif, triplex, italic), thin to bold,
fitted into MNIST's 20x20 box and centred by centre of mass as ``lenet.preprocess`` fits a digit.

Forms, sudokus and receipts mix printed digits with handwritten ones, and a model that has only seen MNIST reads a
serif 1 as a 7 and a bold 8 as a 0. ``augment.printed`` swaps a share of a training batch for these renderings
(same labels), before the writer's and the scanner's distortions apply to them as to any digit.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .config import IMAGE_SIZE, MNIST_BOX

FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX,
         cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_COMPLEX_SMALL)
THICKNESS = (6, 8, 10, 12, 14)  # px at RENDER_SCALE: 1.7-4 px in the 28x28 image (MNIST's is ~2.1), to bold
RENDER_SCALE = 3.0  # cv2 font scale: glyphs ~70 px tall, thinned to 20 px by area averaging


def fit_and_centre(a: np.ndarray, side: int = IMAGE_SIZE) -> np.ndarray | None:
    """(h, w) float32 ink (white on black) -> (side, side) float32: cut to its ink, fitted into MNIST's box
    (aspect kept, longer side 20 of 28), its centre of mass at the centre; None when it has no ink."""
    ys, xs = np.nonzero(a > 0.1)
    if ys.size == 0:
        return None
    crop = a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = crop.shape
    f = MNIST_BOX * side / IMAGE_SIZE / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    fitted = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    total = float(fitted.sum())
    if total <= 0:
        return None
    r, c = np.indices(fitted.shape, dtype=np.float32)
    cy, cx = float((fitted * r).sum() / total), float((fitted * c).sum() / total)
    m = np.float32([[1, 0, side / 2 - cx], [0, 1, side / 2 - cy]])  # MNIST's centre of mass, (14, 14) of 28
    out = cv2.warpAffine(fitted, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=0)
    return np.clip(out, 0.0, 1.0)


def render(digit: int, font: int, thickness: int, italic: bool = False) -> np.ndarray:
    """One printed digit as a (28, 28) float32 MNIST-style image."""
    face = font | (cv2.FONT_ITALIC if italic else 0)
    (tw, th), base = cv2.getTextSize(str(digit), face, RENDER_SCALE, thickness)
    pad = 4 * thickness + 8
    canvas = np.zeros((th + base + 2 * pad, tw + 2 * pad), np.uint8)
    cv2.putText(canvas, str(digit), (pad, pad + th), face, RENDER_SCALE, 255, thickness, cv2.LINE_AA)
    out = fit_and_centre(canvas.astype(np.float32) / 255.0)
    assert out is not None  # every glyph has ink
    return out


@lru_cache(maxsize=1)
def bank() -> tuple[np.ndarray, np.ndarray]:
    """Every digit in every font, thickness and slant: (images (N, 28, 28) float32, labels (N,) int64)."""
    images, labels = [], []
    for d in range(10):
        for font in FONTS:
            for t in THICKNESS:
                for italic in (False, True):
                    images.append(render(d, font, t, italic))
                    labels.append(d)
    return np.stack(images), np.array(labels, np.int64)
