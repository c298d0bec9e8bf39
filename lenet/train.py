"""Training: one ``train()`` for the app, the CLI and the benchmarks, with live callbacks and a stop request.

The loop is Keras ``fit`` itself; our additions are a throttled callback and the input pipeline, so the
overhead over a plain ``model.fit`` stays small (``bench/train_speed.py`` measures it).
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import augment
from .config import NUM_CLASSES, Augment, TrainConfig
from .data import Mnist
from .infer import to_model_input  # noqa: F401  (re-exported: lenet.train.to_model_input is used by benchmarks)

import keras  # noqa: E402  (after lenet's TF log settings)
import tensorflow as tf  # noqa: E402

from .models import build_model  # noqa: E402


@dataclass
class BatchProgress:
    """What the per-batch callback receives (every ``report_every`` batches)."""

    epoch: int  # 0-based
    epochs: int
    batch: int  # 1-based batches done in this epoch
    batches: int  # batches per epoch
    loss: float  # running mean over this epoch
    accuracy: float
    images_per_s: float
    eta_s: float  # seconds left for the whole run
    elapsed_s: float

    @property
    def fraction(self) -> float:
        """Overall progress in [0, 1]."""
        return min(1.0, (self.epoch + self.batch / self.batches) / self.epochs)

    @property
    def epoch_float(self) -> float:
        """Position on an x axis counted in epochs (0.5 = half way through the first epoch)."""
        return self.epoch + self.batch / self.batches


@dataclass
class TrainResult:
    """A trained (or stopped) model and how it got there."""

    model: keras.Model
    config: TrainConfig
    history: list[dict] = field(default_factory=list)  # one dict per epoch: loss, accuracy, val_loss, ...
    stopped: bool = False  # True if a stop request ended training early
    seconds: float = 0.0  # wall time spent in fit


class _LiveCallback(keras.callbacks.Callback):
    """Feeds plain functions from Keras' loop, in the spirit of ``LambdaCallback``; honours a stop request."""

    # The hook only reads logs and sets flags, so it is safe to dispatch asynchronously where Keras does that
    # (JAX, torch, numpy backends). The TensorFlow backend ignores this flag (Keras 3.15: its
    # backend.IS_THREAD_SAFE is False, so callbacks always run on the loop thread), and here the throttled
    # hook is what keeps the overhead small (bench/train_speed.py).
    async_safe = True

    def __init__(self, on_batch, on_epoch, stop, every, epochs, batches, batch_size):
        super().__init__()
        self.on_batch, self.on_epoch, self.stop = on_batch, on_epoch, stop
        self.every, self.epochs, self.batches, self.batch_size = max(1, every), epochs, batches, batch_size
        self.history: list[dict] = []
        self.stopped = False
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.t0 = self._epoch_t0 = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_t0 = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.stop is not None and self.stop.is_set():
            self.model.stop_training = True
            self.stopped = True
        done = batch + 1
        if self.on_batch is None or (done % self.every and done != self.batches and not self.stopped):
            return
        elapsed = time.perf_counter() - self.t0
        images = (self._epoch * self.batches + done) * self.batch_size
        ips = images / elapsed if elapsed > 0 else 0.0
        left = (self.epochs * self.batches - self._epoch * self.batches - done) * self.batch_size
        self.on_batch(BatchProgress(
            epoch=self._epoch, epochs=self.epochs, batch=done, batches=self.batches,
            loss=float(logs.get("loss", math.nan)), accuracy=float(logs.get("accuracy", math.nan)),
            images_per_s=ips, eta_s=left / ips if ips else math.inf, elapsed_s=elapsed))

    def on_test_batch_end(self, batch, logs=None):
        # fit() passes its callbacks to the epoch's validation pass: a stop request cuts that pass short too
        # (Keras checks stop_evaluating after each batch) instead of waiting for all of it.
        if self.stop is not None and self.stop.is_set():
            self.model.stop_evaluating = True
            self.model.stop_training = True
            self.stopped = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - self._epoch_t0, 3)}
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            if key in logs:
                row[key] = float(logs[key])
        if self.stopped:
            row["partial"] = True
        self.history.append(row)
        if self.on_epoch is not None:
            self.on_epoch(dict(row))


def _split(config: TrainConfig, data: Mnist):
    """Train / validation arrays as float32 (N, 28, 28, 1) in [0, 1] and int labels."""
    rng = np.random.default_rng(config.seed)
    x, y = data.x_train, data.y_train
    order = rng.permutation(len(x))
    if config.validation == "split":
        n_val = max(1, int(len(x) * config.val_split))
        val_idx, train_idx = order[:n_val], order[n_val:]
        x_val, y_val = x[val_idx], y[val_idx]
    elif config.validation == "test":
        train_idx = order
        x_val, y_val = data.x_test, data.y_test
    else:
        raise ValueError(f"validation must be 'test' or 'split', not {config.validation!r}")
    if config.train_subset:
        train_idx = train_idx[: config.train_subset]
        x_val, y_val = x_val[: max(config.train_subset // 4, 100)], y_val[: max(config.train_subset // 4, 100)]
    x_tr, y_tr = x[np.sort(train_idx)], y[np.sort(train_idx)]
    return to_model_input(x_tr), y_tr.astype("int32"), to_model_input(x_val), y_val.astype("int32")


def _augmenter(aug: Augment, seed: int) -> Callable:
    """A batched tf function applying ``lenet.augment``'s distortions (numpy, first), then random rotation, shift,
    zoom and stroke thickness."""
    geo = []
    if aug.rotation:
        geo.append(keras.layers.RandomRotation(aug.rotation / 360.0, fill_mode="constant", seed=seed))
    if aug.shift:
        geo.append(keras.layers.RandomTranslation(aug.shift, aug.shift, fill_mode="constant", seed=seed + 1))
    if aug.zoom:
        geo.append(keras.layers.RandomZoom(aug.zoom, aug.zoom, fill_mode="constant", seed=seed + 2))

    rng = np.random.default_rng(seed + 3)
    written = augment.is_active(aug)

    def by_hand(x, y):
        # numpy's generator is thread-safe, so parallel map calls may share it.
        labels = y.argmax(-1) if y.ndim == 2 else y  # one-hot with label smoothing
        return augment.apply(x, rng, aug, labels=labels)

    def apply(x, y):
        if written:
            shape = x.shape
            x = tf.numpy_function(by_hand, [x, y], tf.float32, stateful=True)
            x.set_shape(shape)
        for layer in geo:
            x = layer(x, training=True)
        if aug.thickness:
            # Pens differ: dilate (max-pool) or erode (min-pool) a random share of the batch.
            n = tf.shape(x)[0]
            thick = tf.nn.max_pool2d(x, 2, 1, "SAME")
            thin = -tf.nn.max_pool2d(-x, 2, 1, "SAME")
            r = tf.random.uniform((n, 1, 1, 1))
            p = aug.thickness / 2
            x = tf.where(r < p, thick, tf.where(r > 1 - p, thin, x))
        return tf.clip_by_value(x, 0.0, 1.0), y

    return apply


def _optimizer(config: TrainConfig, steps: int):
    total = max(1, steps * config.epochs)
    if config.schedule == "constant":
        lr = config.lr
    elif config.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(config.lr, decay_steps=total)
    elif config.schedule == "onecycle":
        # One-cycle: warm up from lr/25 to lr over 25 % of the steps, then cosine-anneal to ~0.
        warm = max(1, int(0.25 * total))
        lr = keras.optimizers.schedules.CosineDecay(config.lr / 25, decay_steps=max(1, total - warm), alpha=1e-3,
                                                    warmup_target=config.lr, warmup_steps=warm)
    else:
        raise ValueError(f"schedule must be one of constant, cosine, onecycle; not {config.schedule!r}")
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=config.momentum, nesterov=config.nesterov)
    if config.optimizer == "adam":
        return keras.optimizers.Adam(lr)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=config.weight_decay)
    raise ValueError(f"optimizer must be sgd, adam or adamw; not {config.optimizer!r}")


def compile_model(model: keras.Model, config: TrainConfig, steps_per_epoch: int) -> keras.Model:
    """Compile with the config's optimizer, schedule and loss (label smoothing needs one-hot targets)."""
    if config.label_smoothing:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
    model.compile(optimizer=_optimizer(config, steps_per_epoch), loss=loss, metrics=["accuracy"])
    return model


def train(config: TrainConfig, data: Mnist, *, model: keras.Model | None = None,
          on_batch: Callable[[BatchProgress], None] | None = None,
          on_epoch: Callable[[dict], None] | None = None,
          stop: threading.Event | None = None, report_every: int = 20, verbose: int = 0) -> TrainResult:
    """Train a network on MNIST as ``config`` says.

    Args:
        config: the run's settings.
        data: MNIST arrays from ``lenet.data.load_mnist()`` (or a smaller stand-in with the same fields).
        model: start from this model instead of a fresh ``config.arch`` (fine-tuning); it is trained in place.
        on_batch: called every ``report_every`` batches (and at each epoch's last batch) with a ``BatchProgress``.
        on_epoch: called at each epoch end with that epoch's row of the history.
        stop: when set, training ends after the current batch; the model trained so far is returned.
        report_every: batches between ``on_batch`` calls.
        verbose: Keras' own progress output (0 = silent).

    Returns:
        A ``TrainResult``; ``stopped`` tells whether the stop request ended it.
    """
    keras.utils.set_random_seed(config.seed)
    x_tr, y_tr, x_val, y_val = _split(config, data)
    if config.label_smoothing:
        y_tr, y_val = (keras.utils.to_categorical(y, NUM_CLASSES) for y in (y_tr, y_val))
    steps = math.ceil(len(x_tr) / config.batch_size)
    if model is None:
        model = build_model(config.arch, config.activation, config.pooling)
    compile_model(model, config, steps)
    live = _LiveCallback(on_batch, on_epoch, stop, report_every, config.epochs, steps, config.batch_size)
    fit_args = dict(epochs=config.epochs, validation_data=(x_val, y_val), callbacks=[live], verbose=verbose)
    t0 = time.perf_counter()
    if config.augment.active:
        ds = (tf.data.Dataset.from_tensor_slices((x_tr, y_tr))
              .shuffle(len(x_tr), seed=config.seed, reshuffle_each_iteration=True)
              .batch(config.batch_size)
              .map(_augmenter(config.augment, config.seed), num_parallel_calls=tf.data.AUTOTUNE)
              .prefetch(tf.data.AUTOTUNE))
        model.fit(ds, shuffle=False, **fit_args)  # the dataset shuffles itself each epoch
    else:
        model.fit(x_tr, y_tr, batch_size=config.batch_size, shuffle=True, **fit_args)
    seconds = time.perf_counter() - t0
    return TrainResult(model=model, config=config, history=live.history, stopped=live.stopped, seconds=seconds)


def train_evaluate_save(config: TrainConfig, data: Mnist, *, name: str | None = None, root=None, dest=None,
                        extra: dict | None = None, **train_kwargs):
    """``train()``, then evaluate on the MNIST test set and save the run (stopped runs too: nothing is lost).

    Returns:
        ``(TrainResult, Evaluation, store.Run)``.
    """
    from .evaluate import evaluate_model
    from .store import save_run

    result = train(config, data, **train_kwargs)
    evaluation = evaluate_model(result.model, data.x_test, data.y_test)
    run = save_run(result.model, config, history=result.history, evaluation=evaluation, stopped=result.stopped,
                   seconds=result.seconds, name=name, root=root, dest=dest, extra=extra)
    return result, evaluation, run
