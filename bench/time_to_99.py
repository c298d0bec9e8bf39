"""Benchmark 2: wall seconds of the ``fast`` preset until MNIST test accuracy ≥ 99.0 % (target ≤ 15 s on 2 cores).

Accuracy is measured on the 10,000 test images at each epoch end (Keras validation); the clock is the
training wall time up to the first epoch that reaches 99.0 %, plus (separately) total time with data loading.

    python -m bench.time_to_99 [--preset fast]
"""
from __future__ import annotations

import argparse
import time

from lenet.config import preset
from lenet.data import load_mnist
from lenet.train import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="fast")
    args = ap.parse_args()
    t0 = time.perf_counter()
    data = load_mnist()
    cfg = preset(args.preset)
    print(f"preset {args.preset}: {cfg}")
    reached = {}
    start = time.perf_counter()

    def on_epoch(row):
        now = time.perf_counter() - start
        print(f"epoch {row['epoch']}: test accuracy {row['val_accuracy']:.4f} at {now:.1f} s", flush=True)
        if row["val_accuracy"] >= 0.99 and not reached:
            reached.update(epoch=row["epoch"], seconds=now)

    res = train(cfg, data, on_epoch=on_epoch)
    total = time.perf_counter() - t0
    final = res.history[-1]["val_accuracy"]
    if reached:
        print(f"\ntime to 99.0 %: {reached['seconds']:.1f} s (epoch {reached['epoch']}; target <= 15 s)")
    else:
        print(f"\n99.0 % NOT reached: final test accuracy {final:.4f} after {res.seconds:.1f} s")
    print(f"training {res.seconds:.1f} s; with data loading and model building {total:.1f} s; final {final:.4f}")


if __name__ == "__main__":
    main()
