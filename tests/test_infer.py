"""Serving: the light runtime gives Keras' probabilities, Keras serves where it is missing, and memory stays bounded."""
import gc
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest

from lenet import infer, store
from lenet.config import DEFAULT_MODEL_DIR, TrainConfig

needs_litert = pytest.mark.skipif(not infer.runtime_available(), reason="ai-edge-litert not installed here")


@pytest.fixture(autouse=True)
def empty_cache():
    infer.clear_cache()
    yield
    infer.clear_cache()


@pytest.fixture
def no_litert(monkeypatch):
    """The light runtime made unavailable, as on a platform without its wheel."""
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # `import` raises ImportError
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    assert not infer.runtime_available()


@needs_litert
def test_serving_equals_keras_on_mnist_test(mnist):
    """The shipped model through LiteRT and through Keras: same probabilities (≤ 1e-4) and same predictions"""
    x = mnist.x_test[:1000]
    serving = infer.load_serving("default")
    assert isinstance(serving, infer.ServingModel)
    light = infer.predict_probs(serving, x)
    heavy = infer.predict_probs(store.load_model("default"), x)
    assert light.shape == heavy.shape == (1000, 10) and light.dtype == np.float32
    assert np.abs(light - heavy).max() <= 1e-4
    assert (light.argmax(1) == heavy.argmax(1)).all()
    single = infer.predict_probs(serving, mnist.x_test[0])  # (28, 28) in, (10,) out, batch size changes back
    np.testing.assert_allclose(single, light[0], atol=1e-6)
    assert infer.predict_probs(serving, x[:0]).shape == (0, 10)


def test_keras_serves_when_the_runtime_is_missing(no_litert, mnist):
    """Without LiteRT, load_serving gives the Keras model and the same probabilities as Keras itself"""
    model = infer.load_serving("default")
    assert not isinstance(model, infer.ServingModel) and hasattr(model, "layers")
    x = mnist.x_test[:64]
    np.testing.assert_allclose(infer.predict_probs(model, x),
                               np.asarray(store.load_model("default")(x[..., None] / 255.0, training=False)),
                               atol=1e-6)


@needs_litert
def test_cache_follows_the_model_file_and_stays_bounded(tmp_path):
    """A replaced model file is reloaded (key: run folder + file time); the cache never holds more than its bound"""
    import os
    import shutil

    run = tmp_path / "run"
    shutil.copytree(DEFAULT_MODEL_DIR, run)
    first = infer.load_serving(run)
    assert infer.load_serving(run) is first and infer.is_cached(run)
    for i in range(infer.MAX_MODELS + 3):
        t = 1_700_000_000 + i
        os.utime(run / "model.keras", (t, t))
        assert infer.load_serving(run) is not first
        assert infer.cache_size() <= infer.MAX_MODELS


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.slow
@needs_litert
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc (Linux)")
def test_200_models_loaded_used_and_dropped_hold_bounded_memory(tmp_path, mnist):
    """Load, predict with and drop 200 models (each a new cache key): memory grows by < 60 MB past the first 20.

    Each seed-LeNet interpreter holds ~5 MB of weights plus its arena, so a leak of every model would grow by
    ~1 GB; the bound is the cache's 8 entries (~40-60 MB) plus allocator noise.
    """
    import os
    import shutil

    run = tmp_path / "run"
    shutil.copytree(DEFAULT_MODEL_DIR, run)
    x = mnist.x_test[:32]
    refs = []
    base = None
    for i in range(200):
        t = 1_700_000_000 + i
        os.utime(run / "model.keras", (t, t))
        model = infer.load_serving(run)
        infer.predict_probs(model, x)
        infer.predict_probs(model, x[0])
        refs.append(weakref.ref(model))
        del model
        if i == 19:
            gc.collect()
            base = _rss_mb()
    gc.collect()
    grown = _rss_mb() - base
    assert infer.cache_size() <= infer.MAX_MODELS
    assert sum(r() is not None for r in refs) <= infer.MAX_MODELS  # only what the cache holds is alive
    assert grown < 60, f"RSS grew by {grown:.0f} MB over 180 more models"


def test_predicting_keeps_no_reference_to_a_keras_model(mnist):
    """A Keras model predicted with and dropped is freed (the old per-model graph cache kept every one alive)"""
    from lenet.models import build_model

    model = build_model("lenet1")
    infer.predict_probs(model, mnist.x_test[:8])
    infer.predict_probs(model, mnist.x_test[0])
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None


@needs_litert
def test_saved_run_serves_without_converting(private_store, mnist):
    """A fresh run has model.tflite from its save; the serving model agrees with the Keras one"""
    from lenet.models import build_model

    model = build_model("lenet1")
    run = store.save_run(model, TrainConfig(arch="lenet1", epochs=1), history=[], root=private_store)
    assert (run.path / store.SERVING).is_file() and store.serving_current(run.path)
    assert not list(run.path.glob(".*"))  # no temp files left
    x = mnist.x_test[:100]
    assert np.abs(infer.predict_probs(infer.load_serving(run.id, private_store), x)
                  - infer.predict_probs(model, x)).max() <= 1e-5
