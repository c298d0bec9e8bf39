"""Benchmark 1: our ``train()`` vs a plain ``model.fit`` of the same model on the same data.

One epoch each, alternated (plain, ours, plain, ours, …) so that machine noise hits both alike.
Prints seconds per epoch, images/s and the ratio ours/plain (target ≤ 1.05).

    python -m bench.train_speed [--rounds 3] [--arch lenet] [--batch-size 128]
"""
from __future__ import annotations

import argparse
import statistics
import time

import keras

from lenet.config import TrainConfig
from lenet.data import load_mnist
from lenet.models import build_model
from lenet.train import compile_model, to_model_input, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--arch", default="lenet")
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args()
    data = load_mnist()
    cfg = TrainConfig(arch=args.arch, optimizer="adam", lr=1e-3, batch_size=args.batch_size, epochs=1,
                      validation="test")
    x, y = to_model_input(data.x_train), data.y_train.astype("int32")
    xv, yv = to_model_input(data.x_test), data.y_test.astype("int32")
    n = len(x)

    def plain() -> float:
        keras.utils.set_random_seed(cfg.seed)
        model = compile_model(build_model(cfg.arch), cfg, steps_per_epoch=-(-n // cfg.batch_size))
        t = time.perf_counter()
        model.fit(x, y, batch_size=cfg.batch_size, epochs=1, validation_data=(xv, yv), shuffle=True, verbose=0)
        return time.perf_counter() - t

    def ours() -> float:
        return train(cfg, data, on_batch=lambda p: None, on_epoch=lambda r: None).seconds

    plain()  # warm-up: first graph tracing and thread pools are not what we compare
    times = {"plain": [], "ours": []}
    for r in range(args.rounds):
        for name, fn in (("plain", plain), ("ours", ours)) if r % 2 == 0 else (("ours", ours), ("plain", plain)):
            s = fn()
            times[name].append(s)
            print(f"round {r + 1} {name:5s}: {s:6.2f} s/epoch  {n / s:8.0f} images/s", flush=True)
    p, o = statistics.median(times["plain"]), statistics.median(times["ours"])
    print(f"\nmedian plain fit : {p:.2f} s/epoch ({n / p:.0f} images/s)")
    print(f"median our train : {o:.2f} s/epoch ({n / o:.0f} images/s)")
    print(f"ratio ours/plain : {o / p:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
