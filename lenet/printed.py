"""Printed digits: the ten digits rendered in OpenCV's Hershey fonts (plain, serif, triplex, italic), thin to bold,
cropped, fitted into MNIST's 20x20 box and centred by centre of mass by ``lenet.preprocess``'s own stages.

Forms, sudokus and receipts mix printed digits with handwritten ones, and a model that has only seen MNIST reads a
serif 1 as a 7 and a bold 8 as a 0. ``augment.printed`` swaps a share of a training batch for these renderings
(same labels), before the writer's and the scanner's distortions apply to them as to any digit.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from . import preprocess as pp

FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX,
         cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_COMPLEX_SMALL)
THICKNESS = (6, 8, 10, 12, 14)  # px at RENDER_SCALE: 1.7-4 px in the 28x28 image (MNIST's is ~2.1), to bold
RENDER_SCALE = 3.0  # cv2 font scale: glyphs ~70 px tall, thinned to 20 px by area averaging


def render(digit: int, font: int, thickness: int, italic: bool = False) -> np.ndarray:
    """One printed digit as a (28, 28) float32 MNIST-style image."""
    face = font | (cv2.FONT_ITALIC if italic else 0)
    (tw, th), base = cv2.getTextSize(str(digit), face, RENDER_SCALE, thickness)
    pad = 4 * thickness + 8
    canvas = np.zeros((th + base + 2 * pad, tw + 2 * pad), np.uint8)
    cv2.putText(canvas, str(digit), (pad, pad + th), face, RENDER_SCALE, 255, thickness, cv2.LINE_AA)
    return pp.centre(pp.fit(pp.crop(canvas)))


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
