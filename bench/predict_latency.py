"""Benchmark: prediction latency on the paths users wait on, through the serving runtime (``lenet.infer``).

- Canvas: a 280×280 RGBA drawing → ``preprocess(canvas=True)`` (mnist style) → ``predict_probs``: p50/p95 over
  200 drawings (target p50 ≤ 3 ms). Drawings are MNIST test digits upscaled to canvas size, white on black.
  The full photo path (paper cleaning) on the same drawings is printed alongside for comparison.
- Command line: ``python -m lenet predict one.png`` whole-process wall time as a ratio to
  ``python -c "import tensorflow"``, both measured here in this run (target ≤ 0.4).
- Sheet: the bundled 150-digit sample sheet → decode → segment → preprocess → all predictions (target ≤ 2 s).

    python -m bench.predict_latency [--model default] [--n 200] [--reps 3]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from lenet.config import PROJECT_ROOT, SAMPLE_SHEET
from lenet.data import load_mnist
from lenet.infer import ServingModel, load_serving, make_classifier, predict_probs
from lenet.io import decode_image
from lenet.preprocess import LIGHT_ON_DARK, preprocess
from lenet.segment import read_sheet


def canvas_drawings(n: int) -> list[np.ndarray]:
    """n canvas-like RGBA images (280×280, white strokes on black, opaque) from MNIST test digits."""
    test = load_mnist().x_test
    out = []
    for img in test[:n]:
        big = cv2.resize(np.asarray(img), (280, 280), interpolation=cv2.INTER_LINEAR)
        rgba = np.dstack([big, big, big, np.full_like(big, 255)])
        out.append(rgba)
    return out


def canvas_path(model, drawings, **pre_kw) -> tuple[list[float], list[float]]:
    """(preprocess ms, preprocess + inference ms) per drawing."""
    pre_ms, total_ms = [], []
    for d in drawings:
        t0 = time.perf_counter()
        x = preprocess(d, "mnist", **pre_kw).x
        t1 = time.perf_counter()
        predict_probs(model, x)
        t2 = time.perf_counter()
        pre_ms.append((t1 - t0) * 1e3)
        total_ms.append((t2 - t0) * 1e3)
    return pre_ms, total_ms


def wall(cmd: list[str], reps: int) -> float:
    """Median wall time of a whole process, in seconds (it must succeed)."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=PROJECT_ROOT)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--reps", type=int, default=3, help="runs of each whole-process command (median)")
    ap.add_argument("--sheet", default=str(SAMPLE_SHEET))
    args = ap.parse_args()
    model = load_serving(args.model)
    runtime = "LiteRT" if isinstance(model, ServingModel) else "Keras (LiteRT not installed)"
    drawings = canvas_drawings(args.n)
    predict_probs(model, preprocess(drawings[0], canvas=True).x)  # warm-up
    q = lambda v, p: float(np.percentile(v, p))  # noqa: E731
    print(f"canvas → prediction over {len(drawings)} drawings ({runtime}):")
    pre_ms, total_ms = canvas_path(model, drawings, canvas=True)  # as the Draw page does
    print(f"  preprocess (canvas)  p50 {q(pre_ms, 50):6.2f} ms  p95 {q(pre_ms, 95):6.2f} ms")
    print(f"  + inference          p50 {q(total_ms, 50):6.2f} ms  p95 {q(total_ms, 95):6.2f} ms (target p50 <= 3 ms)")
    full_pre, full_total = canvas_path(model, drawings, polarity=LIGHT_ON_DARK)
    print(f"  (photo path, for comparison: preprocess p50 {q(full_pre, 50):.2f} ms, with inference "
          f"{q(full_total, 50):.2f} ms)")

    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "one.png"
        cv2.imwrite(str(png), 255 - cv2.resize(load_mnist().x_test[0], (112, 112)))  # a 7, dark on light
        predict = wall([sys.executable, "-m", "lenet", "predict", "--model", args.model, str(png)], args.reps)
        tf = wall([sys.executable, "-c", "import tensorflow"], args.reps)
    print(f"`python -m lenet predict one.png` {predict:.2f} s vs `python -c 'import tensorflow'` {tf:.2f} s "
          f"(medians of {args.reps}): ratio {predict / tf:.2f} (target <= 0.4)")

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
