"""The command line, run in-process on tiny data: train, models, evaluate, predict (including a non-image)."""
import json

import numpy as np
import pytest

from lenet import cli, data


@pytest.fixture
def tiny_data(monkeypatch, tiny):
    monkeypatch.setattr(data, "load_mnist", lambda idx_dir=None, progress=None: tiny)
    return tiny


@pytest.fixture
def trained_run(tiny_data, private_store, capsys):
    assert cli.main(["train", "--arch", "lenet1", "--epochs", "1", "--batch-size", "32", "--lr", "0.01",
                     "--name", "tiny"]) == 0
    out = capsys.readouterr().out
    run_id = out.split("saved run ")[1].split()[0]
    return run_id, out


def test_train_prints_accuracy_line_and_saves(trained_run, private_store):
    run_id, out = trained_run
    last = out.strip().splitlines()[-1]
    assert last.startswith("test accuracy: ")
    acc = float(last.split(": ")[1])
    assert 0.0 <= acc <= 1.0
    meta = json.loads((private_store / run_id / "meta.json").read_text())
    assert meta["command"].startswith("python -m lenet train --arch lenet1")
    assert meta["test_accuracy"] == pytest.approx(acc, abs=1e-4)
    assert len(meta["confusion"]) == 10 and sum(map(sum, meta["confusion"])) == 256


def test_models_and_evaluate_json(trained_run, capsys):
    run_id, _ = trained_run
    assert cli.main(["models"]) == 0
    assert run_id in capsys.readouterr().out
    assert cli.main(["evaluate", run_id, "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert set(obj) >= {"accuracy", "report", "confusion"}
    assert np.array(obj["confusion"]).sum() == 256
    assert cli.main(["evaluate", run_id]) == 0
    assert "true\\pred" in capsys.readouterr().out


def test_predict_files_including_a_non_image(trained_run, digit_png, tmp_path, capsys):
    run_id, _ = trained_run
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    code = cli.main(["predict", "--model", run_id, "--json", str(digit_png), str(bad), str(digit_png)])
    assert code == 1  # one file failed
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert [r["file"] for r in rows] == [str(digit_png), str(bad), str(digit_png)]
    assert "error" in rows[1] and "digit" in rows[0] and len(rows[0]["top3"]) == 3
    assert rows[0]["top3"][0][0] == rows[0]["digit"]
    assert captured.err.count("\n") == 1 and "notes.png" in captured.err
    assert cli.main(["predict", "--model", run_id, str(digit_png)]) == 0


def test_clear_errors(capsys):
    assert cli.main(["evaluate", "no-such-run"]) == 2
    assert "no run 'no-such-run'" in capsys.readouterr().err


def test_train_init_goes_on_from_a_run(trained_run, private_store, capsys):
    """--init starts from a stored run's weights (a vanishing learning rate keeps its accuracy) and records it;
    the new augmentation options reach the config."""
    run_id, _ = trained_run
    before = json.loads((private_store / run_id / "meta.json").read_text())
    assert cli.main(["train", "--arch", "lenet1", "--epochs", "1", "--batch-size", "32", "--lr", "1e-12",
                     "--init", run_id, "--elastic", "10", "--resolution", "0.5"]) == 0
    new_id = capsys.readouterr().out.split("saved run ")[1].split()[0]
    meta = json.loads((private_store / new_id / "meta.json").read_text())
    assert meta["init"]["id"] == run_id and meta["init"]["config_key"] == before["config_key"]
    assert meta["config"]["augment"]["elastic"] == 10 and meta["config"]["augment"]["resolution"] == 0.5
    assert meta["test_accuracy"] == pytest.approx(before["test_accuracy"], abs=2e-3)
