"""The shipped default model: small, reproducible from the README's command, ≥ 99.3 % on MNIST test."""
import json

from lenet import cli, store
from lenet.config import DEFAULT_MODEL_DIR, TrainConfig, preset
from lenet.infer import predict_probs


def test_shipped_model_files_and_provenance():
    run = store.read_run(DEFAULT_MODEL_DIR)
    assert (DEFAULT_MODEL_DIR / "model.keras").stat().st_size <= 6 * 1024 * 1024
    assert run.meta["command"].startswith("python -m lenet train --preset handwriting")
    assert run.meta["status"] == "complete" and run.meta["arch"] == "lenet"
    readme = (DEFAULT_MODEL_DIR.parent.parent.parent / "README.md").read_text()
    assert run.meta["command"].split(" --name")[0] in readme
    # The recipe it was trained with is the `handwriting` preset's, so the README's command makes it again.
    assert TrainConfig.from_dict(run.meta["config"]) == preset("handwriting")


def test_shipped_model_accuracy_on_mnist_test(mnist):
    model = store.load_model("default")
    acc = float((predict_probs(model, mnist.x_test).argmax(1) == mnist.y_test).mean())
    assert acc >= 0.993
    meta = store.read_run(DEFAULT_MODEL_DIR).meta
    assert abs(meta["test_accuracy"] - acc) < 1e-6


def test_cli_predict_png_with_shipped_model(digit_png, capsys):
    """A new user runs `python -m lenet predict 7.png` and reads 7."""
    assert cli.main(["predict", str(digit_png)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{digit_png}: 7 ")
    assert cli.main(["predict", "--json", str(digit_png)]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["digit"] == 7 and 0.5 < row["confidence"] <= 1
    probs = [p for _, p in row["top3"]]
    assert probs == sorted(probs, reverse=True) and row["top3"][0] == [7, row["confidence"]]


def test_shipped_model_reads_small_scans_by_other_writers():
    """scikit-learn's 8x8 digits (43 writers, not MNIST's): tiny scans are enlarged before cleaning, so the default
    pipeline reads them (91.7 % of all 1,797 at their own size, 97.6 % enlarged; bench/other_writers)."""
    import numpy as np
    from sklearn.datasets import load_digits

    from lenet.preprocess import preprocess

    d = load_digits()
    images = [np.round(im * (255 / 16)).astype(np.uint8) for im in d.images[:400]]
    pre = [preprocess(im) for im in images]
    assert all(p.stages["grey"].shape == (64, 64) for p in pre)
    x = np.stack([p.x for p in pre])
    acc = float((predict_probs(store.load_model("default"), x).argmax(1) == d.target[:400]).mean())
    assert acc >= 0.95
