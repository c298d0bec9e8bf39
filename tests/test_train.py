"""Training: loss falls on 512 samples, callbacks get sane values, stop works, schedules/optimizers build."""
import threading

import numpy as np
import pytest

from lenet.config import Augment, TrainConfig
from lenet.train import train

SMALL = TrainConfig(arch="lenet1", optimizer="adam", lr=3e-3, batch_size=32, epochs=2, seed=1)


def _xent(model, data):
    probs = np.asarray(model(data.x_train[..., None].astype("float32") / 255, training=False))
    return float(-np.mean(np.log(probs[np.arange(len(probs)), data.y_train] + 1e-9)))


def test_loss_falls_within_a_few_steps(tiny):
    """32 Adam steps of the seed LeNet on 512 real digits cut the cross-entropy (computed by numpy) by half."""
    losses = []
    cfg = TrainConfig(arch="lenet", lr=1e-3, batch_size=16, epochs=1, seed=1)
    res = train(cfg, tiny, on_batch=lambda p: losses.append(p.loss), report_every=1)
    assert len(losses) == 32
    from lenet.models import build_model
    import keras
    keras.utils.set_random_seed(1)
    assert _xent(build_model("lenet"), tiny) > 2.0  # an untrained net is near ln(10)
    assert _xent(res.model, tiny) < 1.0


def test_callbacks_sane_values(tiny):
    batches, epochs = [], []
    res = train(SMALL, tiny, on_batch=batches.append, on_epoch=epochs.append, report_every=5)
    assert [e["epoch"] for e in epochs] == [1, 2] and res.history == epochs
    for e in epochs:
        assert 0 <= e["accuracy"] <= 1 and 0 <= e["val_accuracy"] <= 1 and e["loss"] > 0 and e["seconds"] > 0
    assert batches and all(b.batches == 16 and 1 <= b.batch <= 16 for b in batches)
    assert all(b.images_per_s > 0 and b.eta_s >= 0 for b in batches)
    fracs = [b.fraction for b in batches]
    assert fracs == sorted(fracs) and fracs[-1] == pytest.approx(1.0)
    assert batches[-1].eta_s == pytest.approx(0.0, abs=1e-6)
    assert not res.stopped


def test_stop_request_returns_partial_model(tiny):
    stop = threading.Event()
    seen = []

    def on_batch(p):
        seen.append(p)
        if p.batch >= 3:
            stop.set()

    res = train(SMALL.replace(epochs=5), tiny, on_batch=on_batch, stop=stop, report_every=1)
    assert res.stopped
    assert len(res.history) == 1 and res.history[0].get("partial")
    assert seen[-1].batch == 4  # the batch running when stop was set finishes, then training ends
    out = np.asarray(res.model(np.zeros((1, 28, 28, 1), "float32")))
    assert out.shape == (1, 10)


@pytest.mark.parametrize("optimizer,schedule", [("sgd", "cosine"), ("adamw", "onecycle"), ("adam", "constant")])
def test_optimizers_schedules_augmentation(tiny, optimizer, schedule):
    cfg = SMALL.replace(optimizer=optimizer, schedule=schedule, epochs=1, label_smoothing=0.1, nesterov=True,
                        augment=Augment(rotation=10, shift=0.1, zoom=0.1, thickness=0.5, printed=0.2, elastic=20,
                                        slant=0.2, proportion=0.2, bold=0.2, breaks=0.2, stretch=0.2,
                                        resolution=0.2), validation="split")
    res = train(cfg, tiny)
    assert len(res.history) == 1 and np.isfinite(res.history[0]["loss"])


def test_subset_and_bad_options(tiny):
    res = train(SMALL.replace(train_subset=64, epochs=1), tiny, on_batch=lambda p: None)
    assert res.history and res.history[0]["epoch"] == 1
    with pytest.raises(ValueError):
        train(SMALL.replace(optimizer="rmsprop"), tiny)


@pytest.mark.slow
def test_fast_preset_reaches_99_on_full_mnist(mnist):
    """The `fast` preset on full MNIST reaches >= 99.0 % test accuracy (numpy-computed)."""
    from lenet.config import preset
    from lenet.infer import predict_probs

    res = train(preset("fast"), mnist)
    acc = float((predict_probs(res.model, mnist.x_test).argmax(1) == mnist.y_test).mean())
    print(f"fast preset: {acc:.4f} test accuracy, {res.seconds:.1f} s training")
    assert acc >= 0.990
