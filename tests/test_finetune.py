"""Fine-tuning on a user's handwriting: a consistent "writer" (MNIST test digits slanted, thickened and shrunk) that
the model reads worse; a few epochs on part of them raise accuracy on the held-out rest and keep MNIST."""
import cv2
import numpy as np
import pytest

from lenet.config import DEFAULT_MODEL_DIR, TrainConfig
from lenet.data import Mnist
from lenet.finetune import FinetuneConfig, finetune, mix, split_user
from lenet.infer import predict_probs

WRITER = slice(9000, 9240)  # test digits turned into the writer's; MNIST accuracy is measured on the first 9,000
MNIST_EVAL = 3000


def writer_style(images: np.ndarray, shear: float = 0.6, thick: int = 4, scale: float = 0.8) -> np.ndarray:
    """A writer who slants strongly, uses a thick pen and writes small: (N, 28, 28) uint8 -> float32 in [0, 1]."""
    c = 13.5
    m = np.array([[scale, -shear * scale, 0], [0, scale, 0]], np.float32)
    m[:, 2] = [c - m[0, 0] * c - m[0, 1] * c, c - m[1, 1] * c]
    pen = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (thick, thick))
    out = [cv2.dilate(cv2.warpAffine(im.astype(np.float32) / 255, m, (28, 28), flags=cv2.INTER_LINEAR), pen)
           for im in images]
    return np.clip(np.stack(out), 0, 1)


@pytest.fixture(scope="module")
def source(mnist, tmp_path_factory):
    """The shipped LeNet when it is there; otherwise a LeNet trained quickly on 12,000 digits."""
    from lenet.store import load_model, read_run

    if (DEFAULT_MODEL_DIR / "model.keras").is_file():
        run = read_run(DEFAULT_MODEL_DIR)
        return load_model(DEFAULT_MODEL_DIR), TrainConfig.from_dict(run.meta["config"])
    from lenet.train import train

    cfg = TrainConfig(arch="lenet", lr=2e-3, batch_size=128, epochs=1, train_subset=12000, seed=2)
    return train(cfg, mnist).model, cfg


def test_split_is_stratified_and_disjoint():
    y = np.array([0] * 10 + [1] * 3 + [2] * 1 + [3] * 6)
    s = split_user(y, holdout=0.3, seed=1)
    assert not set(s.train) & set(s.test) and sorted([*s.train, *s.test]) == list(range(len(y)))
    held = np.bincount(y[s.test], minlength=4)
    assert list(held) == [3, 1, 0, 2]  # 30 % of each class, at least one, never a class's only digit
    with pytest.raises(ValueError, match="at least 10"):
        split_user(np.arange(9) % 3)
    with pytest.raises(ValueError, match="single example"):
        split_user(np.arange(10))


def test_mix_proportions(tiny):
    ux = np.random.default_rng(0).random((20, 28, 28)).astype(np.float32)
    uy = np.arange(20) % 10
    x, y = mix(ux, uy, tiny, FinetuneConfig(mnist_images=400, user_share=0.3))
    assert x.dtype == np.float32 and x.shape[1:] == (28, 28) and len(x) == len(y)
    n_user = len(x) - 400
    assert n_user % 20 == 0 and 0.25 < n_user / len(x) < 0.35
    assert 0 <= x.min() and x.max() <= 1


def test_finetune_raises_held_out_accuracy_and_keeps_mnist(source, mnist, tmp_path):
    """Fine-tuning on 70 % of a writer's digits raises accuracy on the other 30 % and keeps MNIST within 0.5 points"""
    model, cfg = source
    wx, wy = writer_style(mnist.x_test[WRITER]), mnist.y_test[WRITER].astype(int)
    data = Mnist(mnist.x_train, mnist.y_train, mnist.x_test[:9000], mnist.y_test[:9000])
    weights = [w.copy() for w in model.get_weights()]
    epochs = []
    ft = FinetuneConfig(epochs=3, mnist_images=2000, seed=0)
    res = finetune(model, wx, wy, data, ft, base=cfg, source="default", mnist_eval_n=MNIST_EVAL, root=tmp_path,
                   name="my handwriting", on_epoch=epochs.append)
    n_test = len(res.split.test)
    assert 60 <= n_test <= 80 and not set(res.split.train) & set(res.split.test)
    # before/after are the model's own accuracies on exactly those digits
    held_x, held_y = wx[res.split.test], wy[res.split.test]
    assert res.before["user"] == float((predict_probs(model, held_x).argmax(1) == held_y).mean())
    assert res.after["user"] == float((predict_probs(res.model, held_x).argmax(1) == held_y).mean())
    assert res.before["user"] < 0.93  # the writer really is hard for the model
    assert res.after["user"] >= res.before["user"] + 0.05
    assert res.after["mnist"] >= res.before["mnist"] - 0.005
    # the source model is untouched; the tuned one is a different object with changed weights
    assert all((a == b).all() for a, b in zip(model.get_weights(), weights))
    assert res.model is not model and any((a != b).any() for a, b in zip(res.model.get_weights(), weights))
    # the live callback saw every epoch, and validation is the held-out writer digits
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert epochs[-1]["val_accuracy"] == pytest.approx(res.after["user"], abs=1e-6)
    # saved as a new run naming its source, with a config key of its own
    from lenet.store import list_runs, load_model

    runs, _ = list_runs(tmp_path)
    assert [r.id for r in runs] == [res.run.id]
    meta = runs[0].meta
    assert meta["finetuned_from"] == "default" and meta["name"] == "my handwriting"
    assert meta["config_key"].startswith("finetune-") and meta["arch"] == cfg.arch
    assert meta["finetune"]["after"]["user"] == res.after["user"] and meta["finetune"]["user_held_out"] == n_test
    reloaded = load_model(runs[0].path)
    np.testing.assert_allclose(predict_probs(reloaded, wx[:8]), predict_probs(res.model, wx[:8]), atol=1e-5)


def test_finetune_rejects_bad_input(source, tiny):
    model, _ = source
    with pytest.raises(ValueError, match="0-9"):
        finetune(model, np.zeros((12, 28, 28), np.float32), np.arange(12), tiny, save=False)
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        finetune(model, np.zeros((12, 20, 20), np.float32), np.arange(12) % 10, tiny, save=False)
