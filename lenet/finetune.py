"""Fine-tuning on a user's own handwriting: a copy of a model trained a little on their labelled digits.

The user's digits are split into a training part and a held-out part (stratified by label) so that "it got
better" is measured on digits the fine-tuning never saw. MNIST images are mixed into every epoch so the model
does not forget MNIST (catastrophic forgetting); before/after accuracies on the held-out digits and on MNIST test
are reported side by side, and the result is saved as a new run that names the run it came from.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

import numpy as np

from .config import NUM_CLASSES, Augment, TrainConfig
from .data import Mnist

MIN_USER_DIGITS = 10  # fewer cannot give both a training part and a held-out part worth a number


@dataclass(frozen=True)
class FinetuneConfig:
    """How a model is fine-tuned on a user's digits."""

    epochs: int = 4  # a few passes: enough to adapt, too few to forget
    lr: float = 3e-4  # a third of training's usual Adam rate: adjust the weights, do not relearn them
    batch_size: int = 64
    holdout: float = 0.3  # share of each digit class kept aside to measure the gain honestly
    mnist_images: int = 4000  # MNIST training images mixed in: the reminder of what MNIST looks like
    user_share: float = 0.3  # the user's digits (repeated) make about this share of the mix
    augment: bool = True  # mild rotation/shift/zoom, so repeated user digits are not memorised pixel by pixel
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


MILD_AUGMENT = Augment(rotation=6.0, shift=0.06, zoom=0.06)


@dataclass
class UserSplit:
    """Indices into the user's digits: the part fine-tuned on and the held-out part."""

    train: np.ndarray
    test: np.ndarray


@dataclass
class FinetuneResult:
    """What fine-tuning did: the new model, its curves, before/after accuracies and the saved run."""

    model: object  # the fine-tuned keras.Model (a copy: the source model is untouched)
    config: TrainConfig  # what train() ran with (its "validation" is the held-out user digits)
    finetune: FinetuneConfig
    split: UserSplit
    before: dict  # {"user": accuracy on held-out digits, "mnist": accuracy on MNIST test}
    after: dict
    user_probs_before: np.ndarray  # (n_held_out, 10)
    user_probs_after: np.ndarray
    history: list[dict] = field(default_factory=list)
    stopped: bool = False
    seconds: float = 0.0
    run: object = None  # lenet.store.Run when saved

    @property
    def gain(self) -> dict:
        """after − before, in accuracy points (0-1 scale) for "user" and "mnist"."""
        return {k: self.after[k] - self.before[k] for k in self.before}


def split_user(labels: np.ndarray, holdout: float = 0.3, seed: int = 0) -> UserSplit:
    """A stratified split: from each class with ≥ 2 digits, ``holdout`` of them (at least one) are held out.

    Classes with a single digit go to the training part only (one example cannot be both learnt and tested).

    Raises:
        ValueError: fewer than MIN_USER_DIGITS digits, or nothing to hold out.
    """
    y = np.asarray(labels).astype(int)
    if len(y) < MIN_USER_DIGITS:
        raise ValueError(f"label at least {MIN_USER_DIGITS} digits to fine-tune (you have {len(y)})")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = 0 if len(idx) < 2 else min(len(idx) - 1, max(1, int(round(holdout * len(idx)))))
        test.extend(idx[:k])
        train.extend(idx[k:])
    if not test:
        raise ValueError("every digit class has a single example: label at least two of some digit so that "
                         "some can be held out to measure the gain")
    return UserSplit(train=np.sort(np.array(train, int)), test=np.sort(np.array(test, int)))


def mix(user_x: np.ndarray, user_y: np.ndarray, mnist: Mnist, ft: FinetuneConfig) -> tuple[np.ndarray, np.ndarray]:
    """The fine-tuning set: ``ft.mnist_images`` random MNIST training digits plus the user's digits, repeated so
    that they make about ``ft.user_share`` of it.

    Returns:
        ``(x (M, 28, 28) float32 in [0, 1], y (M,) int32)``, in no particular order (``fit`` shuffles).
    """
    rng = np.random.default_rng(ft.seed)
    n_m = min(ft.mnist_images, len(mnist.x_train))
    pick = np.sort(rng.choice(len(mnist.x_train), n_m, replace=False))
    xm = np.asarray(mnist.x_train[pick], np.float32) / 255.0
    ym = np.asarray(mnist.y_train[pick]).astype(np.int32)
    ux = _as_float(user_x)
    share = min(max(ft.user_share, 0.0), 0.9)
    repeat = max(1, int(round(share / (1 - share) * n_m / max(len(ux), 1))))
    x = np.concatenate([xm, np.repeat(ux, repeat, axis=0)])
    y = np.concatenate([ym, np.repeat(np.asarray(user_y).astype(np.int32), repeat)])
    return x, y


def _as_float(images) -> np.ndarray:
    a = np.asarray(images)
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)


def copy_model(model):
    """A fresh model with the same architecture and weights (the source stays read-only and shareable)."""
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def finetune_config(base: TrainConfig | None, model, ft: FinetuneConfig) -> TrainConfig:
    """The TrainConfig ``train()`` runs: the source's architecture, Adam at ``ft.lr``, validation on the held-out
    user digits (passed as the "test" split)."""
    from .models import REGISTRY

    arch = base.arch if base is not None else getattr(model, "name", "lenet")
    if arch not in REGISTRY:
        arch = "lenet"
    spec = REGISTRY[arch]
    return TrainConfig(
        arch=arch, activation=base.activation if base else spec.default_activation,
        pooling=base.pooling if base else spec.default_pooling, optimizer="adam", lr=ft.lr, schedule="constant",
        batch_size=ft.batch_size, epochs=ft.epochs, augment=MILD_AUGMENT if ft.augment else Augment(),
        validation="test", seed=ft.seed)


def finetune(model, user_x: np.ndarray, user_y: np.ndarray, mnist: Mnist, ft: FinetuneConfig = FinetuneConfig(), *,
             base: TrainConfig | None = None, source: str | None = None, mnist_eval_n: int | None = None,
             save: bool = True, root=None, name: str | None = None, on_batch=None, on_epoch=None, stop=None,
             report_every: int = 5, on_phase=None) -> FinetuneResult:
    """Fine-tune a copy of ``model`` on the user's labelled digits mixed with MNIST, measure, and save it.

    Args:
        model: the source Keras model (not modified).
        user_x: (N, 28, 28) float32 in [0, 1] (or uint8): the user's preprocessed digits.
        user_y: (N,) their labels.
        mnist: MNIST arrays; training images are mixed in, test images measure forgetting.
        ft: the fine-tuning settings.
        base: the source run's TrainConfig (architecture, activation, pooling); inferred from the model if None.
        source: the source run's id or path, written to the new run's metadata.
        mnist_eval_n: measure MNIST on the first n test images (None: all).
        save: save the result as a new run in the store.
        root: the store folder (default ``models_dir()``).
        name: the new run's display name.
        on_batch, on_epoch, stop, report_every: passed to ``lenet.train.train`` (live curves, stop request).
        on_phase: optional ``f(text)`` told what is happening between the training steps.

    Returns:
        A ``FinetuneResult``; ``history``'s ``val_accuracy`` is the accuracy on the held-out user digits.
    """
    from .evaluate import accuracy as _accuracy
    from .evaluate import evaluate_model
    from .infer import predict_probs
    from .train import train

    phase = on_phase or (lambda text: None)
    user_x, user_y = _as_float(user_x), np.asarray(user_y).astype(int)
    if user_x.ndim != 3 or user_x.shape[1:] != (28, 28) or len(user_x) != len(user_y):
        raise ValueError(f"user digits must be (N, 28, 28) with N labels; got {user_x.shape} and {len(user_y)}")
    if len(user_y) and (user_y.min() < 0 or user_y.max() >= NUM_CLASSES):
        raise ValueError("labels must be digits 0-9")
    split = split_user(user_y, ft.holdout, ft.seed)
    n_eval = len(mnist.x_test) if mnist_eval_n is None else min(mnist_eval_n, len(mnist.x_test))
    x_mt, y_mt = mnist.x_test[:n_eval], mnist.y_test[:n_eval]
    x_ut, y_ut = user_x[split.test], user_y[split.test]

    phase(f"Measuring the model before fine-tuning ({len(x_ut)} held-out digits, {n_eval:,} MNIST test images)…")
    probs_before = predict_probs(model, x_ut)
    before = {"user": _accuracy(probs_before, y_ut), "mnist": evaluate_model(model, x_mt, y_mt).accuracy}

    phase("Fine-tuning…")
    cfg = finetune_config(base, model, ft)
    x_mix, y_mix = mix(user_x[split.train], user_y[split.train], mnist, ft)
    data = Mnist(x_train=x_mix, y_train=y_mix, x_test=x_ut, y_test=y_ut.astype(np.int32))
    tuned = copy_model(model)
    result = train(cfg, data, model=tuned, on_batch=on_batch, on_epoch=on_epoch, stop=stop,
                   report_every=report_every)

    phase("Measuring the fine-tuned model…")
    probs_after = predict_probs(tuned, x_ut)
    mnist_after = evaluate_model(tuned, x_mt, y_mt)
    after = {"user": _accuracy(probs_after, y_ut), "mnist": mnist_after.accuracy}

    out = FinetuneResult(model=tuned, config=cfg, finetune=ft, split=split, before=before, after=after,
                         user_probs_before=probs_before, user_probs_after=probs_after, history=result.history,
                         stopped=result.stopped, seconds=result.seconds)
    if save:
        phase("Saving the fine-tuned model…")
        from .store import save_run

        # MNIST test accuracy is stored only when measured on all of it, like every other run.
        evaluation = mnist_after if n_eval == len(mnist.x_test) else None
        out.run = save_run(tuned, cfg, history=result.history, evaluation=evaluation, stopped=result.stopped,
                           seconds=result.seconds, name=name, root=root,
                           extra=run_extra(source, ft, split, before, after, user_x, user_y, n_eval))
    return out


def run_extra(source, ft, split, before, after, user_x, user_y, n_eval) -> dict:
    """The metadata a fine-tuned run carries (source, settings, user data digest, before/after accuracies)."""
    digest = hashlib.sha256(np.ascontiguousarray(user_x).tobytes() + np.asarray(user_y).tobytes()).hexdigest()[:12]
    blob = json.dumps({"source": str(source), "ft": ft.to_dict(), "data": digest}, sort_keys=True)
    return {
        "finetuned_from": str(source) if source is not None else None,
        # Its own key, so "load instead of train" on the Train page never offers a fine-tuned run for a plain
        # config that happens to match.
        "config_key": "finetune-" + hashlib.sha256(blob.encode()).hexdigest()[:12],
        "trained_in": "finetune",
        "finetune": {
            "settings": ft.to_dict(), "user_digits": int(len(user_y)), "user_train": int(len(split.train)),
            "user_held_out": int(len(split.test)), "user_data_sha256": digest, "mnist_eval_n": int(n_eval),
            "before": before, "after": after,
            "validation": "held-out user digits (history's val_accuracy)",
        },
    }
