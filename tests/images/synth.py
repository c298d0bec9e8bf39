"""Synthetic digits and pages for the image tests: fast, deterministic, no MNIST needed."""
from __future__ import annotations

import cv2
import numpy as np

FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX,
         cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_PLAIN)


def glyph(d: int, font: int = cv2.FONT_HERSHEY_SIMPLEX, thickness: int = 9, size: int = 200) -> np.ndarray:
    """A digit drawn white on black, (size, size) uint8, roughly centred, filling ~70 % of the height."""
    img = np.zeros((size, size), np.uint8)
    scale = cv2.getFontScaleFromHeight(font, int(size * 0.6), thickness)
    (tw, th), _ = cv2.getTextSize(str(d), font, scale, thickness)
    cv2.putText(img, str(d), ((size - tw) // 2, (size + th) // 2), font, scale, 255, thickness, cv2.LINE_AA)
    return img


def mnist_like(d: int, font: int = cv2.FONT_HERSHEY_SIMPLEX, thickness: int = 9) -> np.ndarray:
    """A digit normalised the MNIST way by simple independent code: (28, 28) uint8, ink in a 20 px box, centred."""
    g = glyph(d, font, thickness)
    ys, xs = np.nonzero(g > 30)
    c = g[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    f = 20 / max(c.shape)
    c = cv2.resize(c, (max(1, round(c.shape[1] * f)), max(1, round(c.shape[0] * f))), interpolation=cv2.INTER_AREA)
    cy, cx = com(c)
    y0 = int(np.clip(round(14 - cy), 0, 28 - c.shape[0]))  # whole-pixel shift of the centre of mass to (14, 14)
    x0 = int(np.clip(round(14 - cx), 0, 28 - c.shape[1]))
    out = np.zeros((28, 28), np.uint8)
    out[y0:y0 + c.shape[0], x0:x0 + c.shape[1]] = c
    return out


def digit_set(per_digit: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 MNIST-like digits in several fonts and (N,) labels."""
    imgs, labels = [], []
    for d in range(10):
        for k in range(per_digit):
            imgs.append(mnist_like(d, FONTS[k % len(FONTS)], 7 + 2 * (k % 3)))
            labels.append(d)
    return np.stack(imgs), np.array(labels)


def on_paper(white_on_black: np.ndarray, paper: int = 225, ink: int = 40, shadow: float = 0.0,
             seed: int = 0) -> np.ndarray:
    """Turn a white-on-black image into dark ink on paper with grain, optionally a shadow darkening the right
    side by the fraction `shadow`. (H, W) uint8."""
    rng = np.random.default_rng(seed)
    a = white_on_black.astype(np.float32) / 255.0
    h, w = a.shape
    img = paper * (1 - a) + ink * a
    if shadow:
        ramp = np.clip((np.arange(w) - w * 0.4) / (w * 0.3), 0, 1)[None, :]
        img = img * (1 - shadow * ramp)
    img = img + rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def com(a: np.ndarray) -> tuple[float, float]:
    """Centre of mass (row, col) of a non-negative image, by numpy."""
    a = a.astype(np.float64)
    ys, xs = np.indices(a.shape)
    return float((a * ys).sum() / a.sum()), float((a * xs).sum() / a.sum())


def ink_bbox(a: np.ndarray, level: float) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the pixels > level."""
    ys, xs = np.nonzero(a > level)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)
