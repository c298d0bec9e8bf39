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


def test_any_failure_is_one_line_without_traceback(monkeypatch, capsys):
    """A user's mistake and a bug both end as one line on stderr and a non-zero exit; --debug shows the traceback"""
    assert cli.main(["predict", "--model", "no-such-run", "x.png"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: no run 'no-such-run'") and "Traceback" not in err

    def boom(args):
        raise RuntimeError("something\nbroke")

    monkeypatch.setattr(cli, "cmd_models", boom)
    assert cli.main(["models"]) == 1
    err = capsys.readouterr().err
    assert err == "error: RuntimeError: something broke (run again with --debug for the traceback)\n"
    with pytest.raises(RuntimeError):
        cli.main(["models", "--debug"])


def test_predict_read_sheet_evaluate_never_import_tensorflow(digit_png, tmp_path):
    """`predict`, `read-sheet` and `evaluate` run through the light runtime: TensorFlow is never imported"""
    import subprocess
    import sys

    from lenet import config, infer

    if not infer.runtime_available():
        pytest.skip("ai-edge-litert not installed here: the CLI serves through Keras")
    code = ("import sys; from lenet.cli import main\n"
            f"codes = [main(['predict', {str(digit_png)!r}]), main(['read-sheet', {str(config.SAMPLE_SHEET)!r}]),"
            " main(['evaluate', 'default', '--json', '--limit', '500'])]\n"
            "print('codes', codes, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=config.PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "codes [0, 0, 0] False False", proc.stdout
    assert f"{digit_png}: 7 " in proc.stdout


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
