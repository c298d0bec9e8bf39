"""Robustness: distort a digit (rotate, shift, scale, thicken, blur, add noise) and measure what the model makes of it.

LeNet's pooling buys what LeCun called local invariance to small shifts and distortions; the curves here show
where it ends. Every transform works on the (28, 28) float32 model input, and the curves are plain accuracies of
the transformed images, so a test can recompute them independently.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from .config import IMAGE_SIZE

CENTRE = ((IMAGE_SIZE - 1) / 2, (IMAGE_SIZE - 1) / 2)  # rotate and scale about the image centre (pixel indices)

# Structuring elements by thickness step: each step widens (or thins) a ~2 px MNIST stroke by about 1 px.
_THICK_KERNELS = {
    1: np.ones((2, 2), np.uint8),
    2: cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)),
    3: np.ones((3, 3), np.uint8),
}
THICKNESS_RANGE = (-3, 3)
_CV_MAX_CHANNELS = 512  # OpenCV's limit on channels per image

# The swept values of each curve: x axis unit and values.
SWEEPS: dict[str, tuple[str, tuple[float, ...]]] = {
    "rotation": ("degrees", tuple(float(a) for a in range(-45, 46, 5))),
    "shift_x": ("pixels", tuple(float(s) for s in range(-7, 8))),
    "shift_y": ("pixels", tuple(float(s) for s in range(-7, 8))),
    "scale": ("× size", tuple(round(0.5 + 0.1 * i, 2) for i in range(11))),
}


@dataclass(frozen=True)
class Distortion:
    """One setting of the robustness sliders; the default is the identity."""

    rotation: float = 0.0  # degrees, counter-clockwise as seen on screen
    dx: float = 0.0  # pixels to the right
    dy: float = 0.0  # pixels down
    scale: float = 1.0  # about the image centre
    thickness: int = 0  # steps of stroke dilation (+) or erosion (−), -3..3
    blur: float = 0.0  # Gaussian sigma in px
    noise: float = 0.0  # std of added Gaussian noise (image range is 0..1)
    seed: int = 0  # noise seed, so a slider position always shows the same image

    @property
    def is_identity(self) -> bool:
        return self == Distortion(seed=self.seed)

    def to_dict(self) -> dict:
        return asdict(self)


def affine_matrix(rotation: float = 0.0, dx: float = 0.0, dy: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """The 2×3 matrix mapping input pixel (x, y) to output: rotation and scale about the centre, then the shift."""
    m = cv2.getRotationMatrix2D(CENTRE, float(rotation), float(scale))
    m[:, 2] += (float(dx), float(dy))
    return m


def thicken(x: np.ndarray, steps: int) -> np.ndarray:
    """(28, 28[, C]) float32 -> same: grey dilation (steps > 0) or erosion (steps < 0) of the strokes."""
    steps = int(steps)
    if steps == 0:
        return x
    if abs(steps) > THICKNESS_RANGE[1]:
        raise ValueError(f"thickness must be within {THICKNESS_RANGE}, not {steps}")
    k = _THICK_KERNELS[abs(steps)]
    return (cv2.dilate if steps > 0 else cv2.erode)(x, k, borderType=cv2.BORDER_CONSTANT, borderValue=0)


def distort(x: np.ndarray, d: Distortion = Distortion()) -> np.ndarray:
    """Apply a distortion: geometry (bilinear), then stroke thickness, blur, noise.

    Args:
        x: (28, 28) uint8 or float32 in [0, 1], white ink on black.
        d: the distortion.

    Returns:
        (28, 28) float32 in [0, 1].
    """
    return distort_batch(np.asarray(x)[None], d)[0]


def _per_image(fn, a: np.ndarray) -> np.ndarray:
    """Apply a 2-D OpenCV function to each image of (N, H, W), up to 512 at a time as the channels of one
    image (OpenCV's channel limit): one call instead of N."""
    for i in range(0, len(a), _CV_MAX_CHANNELS):
        chunk = np.ascontiguousarray(a[i:i + _CV_MAX_CHANNELS].transpose(1, 2, 0))
        out = fn(chunk)
        a[i:i + _CV_MAX_CHANNELS] = (out[:, :, None] if out.ndim == 2 else out).transpose(2, 0, 1)
    return a


def distort_batch(images: np.ndarray, d: Distortion) -> np.ndarray:
    """(N, 28, 28) uint8 or float32 -> (N, 28, 28) float32 in [0, 1], each image distorted as ``d``
    (image i's noise is seeded by ``d.seed + i``, so one image alone and the same image in a batch agree)."""
    a = np.asarray(images)
    a = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)  # always a copy
    if not len(a):
        return a
    if (d.rotation, d.dx, d.dy, d.scale) != (0.0, 0.0, 0.0, 1.0):
        m = affine_matrix(d.rotation, d.dx, d.dy, d.scale)
        size = (a.shape[2], a.shape[1])
        a = _per_image(lambda c: cv2.warpAffine(c, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                                borderValue=0), a)
    if d.thickness:
        a = _per_image(lambda c: thicken(c, d.thickness), a)
    if d.blur > 0:
        a = _per_image(lambda c: cv2.GaussianBlur(c, (0, 0), float(d.blur)), a)
    if d.noise > 0:
        for i in range(len(a)):
            a[i] += np.random.default_rng(d.seed + i).normal(0.0, float(d.noise), a[i].shape).astype(np.float32)
    return np.clip(a, 0.0, 1.0, out=a)


def sweep_distortion(kind: str, value: float) -> Distortion:
    """The Distortion at one point of a curve (``kind`` is a key of SWEEPS)."""
    if kind == "rotation":
        return Distortion(rotation=value)
    if kind == "shift_x":
        return Distortion(dx=value)
    if kind == "shift_y":
        return Distortion(dy=value)
    if kind == "scale":
        return Distortion(scale=value)
    raise ValueError(f"kind must be one of {', '.join(SWEEPS)}; not {kind!r}")


def accuracy(classify, images: np.ndarray, labels: np.ndarray) -> float:
    """Share of ``images`` whose arg-max class under ``classify`` ((N, 28, 28) -> (N, 10)) equals ``labels``."""
    from .evaluate import accuracy as of_probs

    if not len(labels):
        return float("nan")
    return of_probs(classify(images), labels)


def robustness_curve(classify, images: np.ndarray, labels: np.ndarray, kind: str,
                     values: tuple[float, ...] | None = None) -> tuple[list[float], list[float]]:
    """Accuracy of ``classify`` on ``images`` distorted along one axis.

    Args:
        classify: (N, 28, 28) float32 -> (N, 10) probabilities (``lenet.infer.make_classifier(model)``).
        images: (N, 28, 28) uint8 or float32.
        labels: (N,) int.
        kind: a key of SWEEPS (rotation, shift_x, shift_y, scale).
        values: the swept values (default ``SWEEPS[kind]``).

    Returns:
        ``(values, accuracies)`` as lists of floats.
    """
    values = SWEEPS[kind][1] if values is None else tuple(values)
    accs = [accuracy(classify, distort_batch(images, sweep_distortion(kind, v)), labels) for v in values]
    return [float(v) for v in values], accs


def robustness_curves(classify, images: np.ndarray, labels: np.ndarray, kinds=tuple(SWEEPS),
                      progress=None) -> dict[str, dict]:
    """Every curve of SWEEPS for one model.

    Args:
        classify: (N, 28, 28) -> (N, 10) probabilities.
        images, labels: the test images and labels (e.g. the first 1,000 of MNIST test).
        kinds: which curves.
        progress: optional ``f(done, total, kind)`` after each curve.

    Returns:
        ``{kind: {"unit": str, "values": [...], "accuracy": [...]}}`` (JSON-ready).
    """
    out = {}
    for i, kind in enumerate(kinds):
        values, accs = robustness_curve(classify, images, labels, kind)
        out[kind] = {"unit": SWEEPS[kind][0], "values": values, "accuracy": accs}
        if progress is not None:
            progress(i + 1, len(kinds), kind)
    return out
