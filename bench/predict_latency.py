"""Benchmark 3: prediction latency on the two paths users wait on.

- Canvas: a 280×280 RGBA drawing → ``preprocess`` (mnist style) → model called directly: p50/p95 over
  200 drawings (target p50 ≤ 10 ms). Drawings are MNIST test digits upscaled to canvas size, white on black.
- Sheet: a 150-digit sheet photo (the bundled sample) → decode → segment → preprocess → all predictions
  (target ≤ 2 s).

    python -m bench.predict_latency [--model default] [--n 200]
"""
from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np

from lenet.config import SAMPLE_SHEET
from lenet.data import load_mnist
from lenet.infer import make_classifier, predict_probs
from lenet.io import decode_image
from lenet.preprocess import LIGHT_ON_DARK, preprocess
from lenet.segment import read_sheet
from lenet.store import load_model


def canvas_drawings(n: int) -> list[np.ndarray]:
    """n canvas-like RGBA images (280×280, white strokes on black, opaque) from MNIST test digits."""
    test = load_mnist().x_test
    out = []
    for img in test[:n]:
        big = cv2.resize(np.asarray(img), (280, 280), interpolation=cv2.INTER_LINEAR)
        rgba = np.dstack([big, big, big, np.full_like(big, 255)])
        out.append(rgba)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--sheet", default=str(SAMPLE_SHEET))
    args = ap.parse_args()
    model = load_model(args.model)
    drawings = canvas_drawings(args.n)
    predict_probs(model, preprocess(drawings[0]).x)  # warm-up: first call traces the graph
    pre_ms, total_ms = [], []
    for d in drawings:
        t0 = time.perf_counter()
        x = preprocess(d, "mnist", polarity=LIGHT_ON_DARK).x  # as the Draw page does: a canvas is white on black
        t1 = time.perf_counter()
        predict_probs(model, x)
        t2 = time.perf_counter()
        pre_ms.append((t1 - t0) * 1e3)
        total_ms.append((t2 - t0) * 1e3)
    q = lambda v, p: float(np.percentile(v, p))  # noqa: E731
    print(f"canvas → prediction over {len(drawings)} drawings:")
    print(f"  preprocess      p50 {q(pre_ms, 50):6.2f} ms  p95 {q(pre_ms, 95):6.2f} ms")
    print(f"  + inference     p50 {q(total_ms, 50):6.2f} ms  p95 {q(total_ms, 95):6.2f} ms (target p50 <= 10 ms)")

    classify = make_classifier(model)
    raw = open(args.sheet, "rb").read()
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        rows = read_sheet(decode_image(raw), classify)
        runs.append(time.perf_counter() - t0)
    n_digits = sum(len(r) for r in rows)
    print(f"sheet {args.sheet}: {n_digits} digits in {len(rows)} rows, "
          f"median {statistics.median(runs):.2f} s (runs {', '.join(f'{r:.2f}' for r in runs)}; target <= 2 s)")


if __name__ == "__main__":
    main()
