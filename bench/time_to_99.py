"""Benchmark 2: the ``fast`` preset's training wall time, as a ratio to one plain ``model.fit`` epoch of the seed
LeNet (Adam 1e-3, batch 128), both measured in this run; and whether the preset reaches 99.0 % on MNIST test.

The preset trains for its fixed number of epochs, validating on a split of the training set (never choosing an
epoch by the test set); the test set is scored once, after training. The plain epoch has no validation pass,
so the ratio is if anything strict. A short warm-up fit first keeps TensorFlow's one-off start costs out of both.
Target: test accuracy >= 99.0 % with ratio <= 1.0.

    python -m bench.time_to_99 [--preset fast] [--rounds 1]
"""
from __future__ import annotations

import argparse
import statistics
import time

import keras

from lenet.config import TrainConfig, preset
from lenet.data import load_mnist
from lenet.infer import predict_probs
from lenet.models import build_model
from lenet.train import compile_model, to_model_input, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--rounds", type=int, default=1, help="plain epochs to time (median; one before, one after)")
    args = ap.parse_args()
    data = load_mnist()
    seed_cfg = TrainConfig(arch="lenet", optimizer="adam", lr=1e-3, batch_size=128, epochs=1)
    x, y = to_model_input(data.x_train), data.y_train.astype("int32")

    def plain_epoch() -> float:
        keras.utils.set_random_seed(seed_cfg.seed)
        model = compile_model(build_model("lenet"), seed_cfg, steps_per_epoch=-(-len(x) // 128))
        t = time.perf_counter()
        model.fit(x, y, batch_size=128, epochs=1, shuffle=True, verbose=0)
        return time.perf_counter() - t

    warm = compile_model(build_model("lenet"), seed_cfg, steps_per_epoch=10)
    warm.fit(x[:1280], y[:1280], batch_size=128, epochs=1, verbose=0)

    plain = [plain_epoch()]
    print(f"plain seed-LeNet fit epoch: {plain[-1]:.1f} s", flush=True)
    cfg = preset(args.preset)
    print(f"preset {args.preset}: {cfg}", flush=True)
    res = train(cfg, data, on_epoch=lambda r: print(
        f"  epoch {r['epoch']}: {r['seconds']:.1f} s, split accuracy {r.get('val_accuracy', float('nan')):.4f}",
        flush=True))
    acc = float((predict_probs(res.model, data.x_test).argmax(1) == data.y_test).mean())
    for _ in range(args.rounds - 1):
        plain.append(plain_epoch())
        print(f"plain seed-LeNet fit epoch: {plain[-1]:.1f} s", flush=True)
    p = statistics.median(plain)
    ratio = res.seconds / p
    print(f"\n{args.preset} preset: {res.seconds:.1f} s training, MNIST test accuracy {acc:.4f} (measured once)")
    print(f"plain seed-LeNet epoch: {p:.1f} s (median of {len(plain)})")
    ok = acc >= 0.99 and ratio <= 1.0
    print(f"ratio {args.preset}/plain epoch: {ratio:.2f} (target <= 1.0 with >= 99.0 %): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
