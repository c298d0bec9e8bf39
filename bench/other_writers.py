"""Benchmark: single digits by other writers and scanners, read the way ``python -m lenet predict`` reads a file.

- ``sklearn 8x8``: scikit-learn's bundled digits (UCI optdigits: 1,797 digits by 43 writers, scanned and reduced
  to 8x8 with 17 grey levels). Real handwriting that MNIST never saw, shipped with scikit-learn, so this needs no
  download.
- Scanner conditions made from MNIST test digits (what collections of other scanners look like; the same digits
  as the MNIST test set, so a proxy, not new writers):
  - ``16x16 binary, stretched``: the digit stretched to fill a 16x16 box and thresholded to black and white, as
    the Semeion collection stores its digits;
  - ``16x16 grey, stretched``: the same without the threshold (as USPS does);
  - ``thick pen``: strokes about three times MNIST's width (a marker), at 64 px.

Compare models side by side: ``python -m bench.other_writers --models default,RUN`` (a run id, folder or
``default``).
"""
from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from lenet.data import load_mnist
from lenet.infer import load_serving, predict_probs
from lenet.preprocess import LIGHT_ON_DARK, preprocess


def sklearn_digits() -> tuple[list[np.ndarray], np.ndarray]:
    """scikit-learn's 8x8 digits as uint8 images, light ink on dark (values 0-16 scaled to 0-255)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return [np.round(im * (255 / 16)).astype(np.uint8) for im in d.images], d.target.astype(np.int64)


def _tight(im: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(im > 40)
    return im[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def stretched_16(images: np.ndarray, binary: bool) -> list[np.ndarray]:
    """MNIST digits stretched to fill 16x16 (aspect lost), thresholded at half-grey when binary."""
    out = []
    for im in images:
        s = cv2.resize(_tight(im), (16, 16), interpolation=cv2.INTER_AREA)
        out.append(np.where(s >= 128, 255, 0).astype(np.uint8) if binary else s)
    return out


def thick_pen(images: np.ndarray) -> list[np.ndarray]:
    """MNIST digits at 64 px drawn with a pen about three times as broad."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    return [cv2.dilate(cv2.resize(im, (64, 64), interpolation=cv2.INTER_LINEAR), k) for im in images]


def accuracy(model, images: list[np.ndarray], labels: np.ndarray) -> float:
    """Percentage read right through the default preprocessing (polarity given: light ink on dark)."""
    x = np.stack([preprocess(im, polarity=LIGHT_ON_DARK).x for im in images]).astype(np.float32)
    return 100.0 * float((predict_probs(model, x).argmax(1) == labels).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="default", help="comma-separated run ids or folders (default: default)")
    ap.add_argument("--mnist", type=int, default=2000, help="MNIST test digits per scanner condition")
    args = ap.parse_args()
    refs = args.models.split(",")
    models = [load_serving(r) for r in refs]
    test = load_mnist()
    xs, ys = test.x_test[:args.mnist], test.y_test[:args.mnist]
    sets = {"sklearn 8x8 (real)": sklearn_digits(),
            "16x16 binary, stretched": (stretched_16(xs, True), ys),
            "16x16 grey, stretched": (stretched_16(xs, False), ys),
            "thick pen": (thick_pen(xs), ys)}
    width = max(12, *(len(r) for r in refs))
    print(f"{'set':26s} {'digits':>6s} " + " ".join(f"{r:>{width}s}" for r in refs))
    t = time.perf_counter()
    for name, (images, labels) in sets.items():
        accs = [accuracy(m, images, labels) for m in models]
        print(f"{name:26s} {len(labels):6d} " + " ".join(f"{a:{width}.2f}" for a in accs))
    print(f"({time.perf_counter() - t:.1f} s)")


if __name__ == "__main__":
    main()
