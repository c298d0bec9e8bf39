"""Model store: save/list/load round trip, atomic writes, corrupt runs skipped, delete and rename."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from lenet import store
from lenet.config import TrainConfig
from lenet.models import build_model

CFG = TrainConfig(arch="lenet1", epochs=1)


def _save(root, model=None, **kw):
    model = model or build_model("lenet1")
    return store.save_run(model, CFG, history=[{"epoch": 1, "loss": 1.0}], root=root, **kw)


def test_round_trip(private_store):
    original = build_model("lenet1")
    run = _save(private_store, model=original, name="first")
    runs, problems = store.list_runs(private_store)
    assert [r.id for r in runs] == [run.id] and not problems
    meta = runs[0].meta
    for key in ("arch", "config", "history", "params", "created_at", "versions", "mnist_sha256_digest", "status"):
        assert key in meta
    assert meta["params"] == 3246 and meta["status"] == "complete"
    model = store.load_model(run.id, private_store)
    x = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(model(x), original(x), rtol=1e-6)
    assert store.resolve(str(run.path)) == run.path
    assert store.resolve(str(run.path / "model.keras")) == run.path
    assert store.find_by_config(CFG, private_store)[0].id == run.id
    assert store.find_by_config(CFG.replace(epochs=2), private_store) == []


def test_crash_mid_save_lists_nothing(private_store, monkeypatch):
    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(store, "write_json", boom)
    with pytest.raises(OSError):
        _save(private_store)
    runs, problems = store.list_runs(private_store)
    assert runs == [] and problems == []
    assert list(private_store.iterdir()) == []  # the temp folder was cleaned up


def test_killed_process_mid_save_leaves_store_consistent(private_store):
    """A real subprocess killed during model.save: the half-written temp folder is hidden, nothing lists."""
    code = textwrap.dedent(f"""
        import os, signal
        from lenet import store
        from lenet.config import TrainConfig
        from lenet.models import build_model
        m = build_model("lenet")
        orig = m.save
        def save_then_die(path, *a, **k):
            orig(path, *a, **k)
            os.kill(os.getpid(), signal.SIGKILL)
        m.save = save_then_die
        store.save_run(m, TrainConfig(), history=[], root={str(private_store)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert proc.returncode == -9
    runs, problems = store.list_runs(private_store)
    assert runs == [] and problems == []
    assert [p.name[:5] for p in private_store.iterdir()] == [".tmp-"]


def test_corrupt_runs_reported_and_skipped(private_store):
    good = _save(private_store)
    bad_meta = private_store / "bad-meta"
    bad_meta.mkdir()
    (bad_meta / "meta.json").write_text("{not json")
    (bad_meta / "model.keras").write_bytes(b"x")
    no_model = private_store / "no-model"
    no_model.mkdir()
    (no_model / "meta.json").write_text(json.dumps({"format": 1}))
    broken = _save(private_store)
    (broken.path / "model.keras").write_bytes(b"garbage, not a zip")
    runs, problems = store.list_runs(private_store)
    assert {r.id for r in runs} == {good.id, broken.id}
    assert len(problems) == 2 and any("bad-meta" in p for p in problems)
    with pytest.raises(store.StoreError, match="damaged"):
        store.load_model(broken.id, private_store)
    with pytest.raises(store.StoreError):
        store.load_model("no-such-run", private_store)


def test_delete_and_rename(private_store):
    run = _save(private_store)
    renamed = store.rename_run(run.id, "  my best  ", private_store)
    assert renamed.name == "my best" and store.read_run(run.path).name == "my best"
    with pytest.raises(store.StoreError):
        store.rename_run(run.id, " ", private_store)
    store.delete_run(run.id, private_store)
    assert store.list_runs(private_store) == ([], [])
    assert not os.listdir(private_store)
    with pytest.raises(store.StoreError):
        store.delete_run("default")


def test_safe_mode_refuses_lambda_layers(private_store, tmp_path):
    import keras

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Lambda(lambda x: x * 2),
                              keras.layers.Flatten(), keras.layers.Dense(10)])
    run = store.save_run(model, CFG, history=[], root=private_store)
    with pytest.raises(store.StoreError):
        store.load_model(run.id, private_store)


def test_older_run_gets_its_serving_file_on_first_use(private_store):
    """A run saved before model.tflite existed is converted once, atomically, and then read as it is"""
    run = _save(private_store)
    (run.path / store.SERVING).unlink()
    meta = json.loads((run.path / "meta.json").read_text())
    del meta[store.SERVING_FROM]
    (run.path / "meta.json").write_text(json.dumps(meta))
    assert not store.serving_current(run.path)
    content = store.serving_bytes(run.id, private_store)
    assert (run.path / store.SERVING).read_bytes() == content and store.serving_current(run.path)
    assert sorted(p.name for p in run.path.iterdir()) == ["meta.json", "model.keras", "model.tflite"]
    assert store.read_run(run.path).meta["name"] == run.name  # the rest of meta.json is kept


def test_replaced_model_file_is_never_served_stale(private_store):
    """model.keras replaced by garbage: its old model.tflite no longer counts, and loading says it is damaged"""
    from lenet import infer

    run = _save(private_store)
    (run.path / "model.keras").write_bytes(b"garbage, not a zip")
    assert not store.serving_current(run.path)
    with pytest.raises(store.StoreError, match="damaged"):
        infer.load_serving(run.id, private_store)


def test_shipped_model_serving_file_is_current():
    """The shipped model.tflite was converted from the shipped model.keras (else every app start would convert)"""
    from lenet.config import DEFAULT_MODEL_DIR

    assert store.serving_current(DEFAULT_MODEL_DIR)


def test_crash_leftovers_older_than_an_hour_are_removed(private_store):
    """.tmp-*/.trash-* folders of killed saves and deletes go once they are old; a save in progress stays"""
    run = _save(private_store)
    old, fresh, trash = (private_store / n for n in (".tmp-old", ".tmp-fresh", ".trash-x-1"))
    for p in (old, fresh, trash):
        p.mkdir()
        (p / "model.keras").write_bytes(b"half")
    two_hours_ago = os.path.getmtime(fresh) - 7200
    for p in (old, trash):
        os.utime(p, (two_hours_ago, two_hours_ago))
    runs, problems = store.list_runs(private_store)
    assert [r.id for r in runs] == [run.id] and not problems
    assert sorted(p.name for p in private_store.iterdir()) == [".tmp-fresh", run.id]
    assert store.clean_leftovers(private_store, max_age_s=0) == 1 and not fresh.exists()
