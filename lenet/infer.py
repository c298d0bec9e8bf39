"""Inference: 28×28 arrays in, class probabilities out — the one facade every page and command predicts through.

Predictions are served by the LiteRT interpreter (PyPI ``ai-edge-litert``) from each run's ``model.tflite``:
it imports in ~0.25 s against ~9 s for TensorFlow, and runs one digit in ~0.5-1 ms. Where the runtime is not
installed (no wheel for the platform), ``load_serving`` returns the Keras model instead and ``predict_probs``
gives the same probabilities (to ~1e-6) through it. TensorFlow is imported only to train, convert or take
gradients.

Models loaded here live in one bounded cache keyed by (kind, run folder, model file time); predicting keeps no
reference to a model, so a model dropped from the cache (and by its callers) is freed.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

CHUNK = 2048  # images per Keras call: bounds memory on 10k-image evaluations
SERVING_CHUNK = 256  # images per interpreter call: its arena grows with the batch (~20 MB at 256 for the seed LeNet)
THREADS = min(4, os.cpu_count() or 1)  # 2 threads halve a batch's time on 2 cores; more gains little on LeNets
MAX_MODELS = 8  # cache entries: a handful of runs in use at once across sessions


def to_model_input(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 or float in [0, 1] -> (N, 28, 28, 1) float32 in [0, 1]."""
    x = np.asarray(images)
    x = x.astype("float32") / 255.0 if x.dtype == np.uint8 else x.astype("float32", copy=False)
    return x.reshape(-1, x.shape[1], x.shape[2], 1)


def runtime_available() -> bool:
    """Whether the light runtime (LiteRT) can be imported here."""
    return _interpreter_class() is not None


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # no wheel for this platform (see requirements.txt): Keras serves instead
        return None
    return Interpreter


class ServingModel:
    """A run's model in the LiteRT interpreter: no TensorFlow in the process.

    Safe to share between threads (Streamlit sessions): the interpreter is not, so calls take a lock.
    """

    def __init__(self, content: bytes, source: str = ""):
        """Args: content: the ``.tflite`` flatbuffer; source: where it came from (for messages)."""
        interpreter = _interpreter_class()
        if interpreter is None:
            raise ImportError("ai-edge-litert is not installed")
        self.source = source
        self._interp = interpreter(model_content=content, num_threads=THREADS)
        self._in = self._interp.get_input_details()[0]["index"]
        self._out = self._interp.get_output_details()[0]["index"]
        with _quiet_stderr():  # LiteRT's C++ logger says "INFO: Created ... XNNPACK delegate" on every first
            self._interp.allocate_tensors()  # allocation, and no setting turns it off; the CLI's stderr is for errors
        self._batch = 1
        self._lock = threading.Lock()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(N, 28, 28, 1) float32 -> (N, 10) float32 probabilities."""
        with self._lock:
            if len(x) != self._batch:  # resizing costs ~0.5 ms at small sizes: cheaper than padding a fixed batch
                self._interp.resize_tensor_input(self._in, list(x.shape))
                self._interp.allocate_tensors()
                self._batch = len(x)
            self._interp.set_tensor(self._in, np.ascontiguousarray(x, np.float32))
            self._interp.invoke()
            return self._interp.get_tensor(self._out).copy()  # the interpreter reuses its output buffer

    def __repr__(self) -> str:
        return f"ServingModel({self.source!r})"


_STDERR_LOCK = threading.Lock()  # two loads at once must not save each other's silenced descriptor


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 for a few milliseconds (native code writes there directly)."""
    with _STDERR_LOCK:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all
            yield
            return
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 2)
                yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def predict_probs(model, images: np.ndarray) -> np.ndarray:
    """Class probabilities for a batch.

    Args:
        model: a ``ServingModel`` (``load_serving``) or a Keras model taking (N, 28, 28, 1).
        images: (N, 28, 28) or (28, 28); uint8 MNIST-style or float32 in [0, 1], white ink on black.

    Returns:
        (N, 10) float32; (10,) for a single (28, 28) image.
    """
    x = np.asarray(images)
    single = x.ndim == 2
    x = to_model_input(x[None] if single else x)
    if len(x) == 0:
        return np.zeros((0, 10), "float32")
    if isinstance(model, ServingModel):
        forward, chunk = model.forward, SERVING_CHUNK
    else:
        # A direct eager call, not predict() (~40 ms of per-call overhead) and no traced graph kept per model:
        # such a graph closes over its model and kept every model ever used alive.
        forward, chunk = (lambda b: model(b, training=False)), CHUNK
    out = np.concatenate([np.asarray(forward(x[i:i + chunk]), "float32") for i in range(0, len(x), chunk)])
    return out[0] if single else out


def top_k(probs: np.ndarray, k: int = 3) -> list[tuple[int, float]]:
    """The k most likely digits with their probabilities, best first."""
    order = np.argsort(-probs)[:k]
    return [(int(d), float(probs[d])) for d in order]


def make_classifier(model):
    """A plain callable (N, 28, 28) float32 -> (N, 10) probabilities, for code that must not know the runtime."""
    return lambda batch: predict_probs(model, batch)


# ---------------------------------------------------------------- the one model cache
_CACHE: OrderedDict = OrderedDict()  # (kind, run folder, model file time) -> model, least recently used first
_CACHE_LOCK = threading.Lock()


def _cached(kind: str, path: Path, load):
    from .store import model_mtime

    key = (kind, str(path), model_mtime(path))
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    model = load(path)  # outside the lock: a first conversion takes seconds and must not block other runs
    with _CACHE_LOCK:
        _CACHE[key] = model
        _CACHE.move_to_end(key)
        while len(_CACHE) > MAX_MODELS:
            _CACHE.popitem(last=False)
    return model


def clear_cache() -> None:
    """Forget every cached model (tests; a long-running process that wants its memory back)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def cache_size() -> int:
    return len(_CACHE)


def load_serving(ref: str | Path = "default", root: str | Path | None = None):
    """A run's model for predictions: a ``ServingModel`` when LiteRT is installed, else its Keras model.

    Cached (bounded, per run folder and model file time). A run saved before serving files existed is converted
    once (this imports TensorFlow) and its ``model.tflite`` written next to ``model.keras``.

    Args:
        ref: run id, run folder or ``"default"`` (the shipped model).
        root: the store folder (default ``models_dir()``).

    Raises:
        StoreError: the run is missing or its model is damaged.
    """
    from .store import resolve

    path = resolve(ref, root)
    if runtime_available():
        return _cached("litert", path, _load_litert)
    return _cached("keras", path, _load_keras)


def load_keras(ref: str | Path = "default", root: str | Path | None = None):
    """A run's Keras model (for gradients, embeddings, fine-tuning), from the same bounded cache.

    Raises:
        StoreError: the run is missing or its model file is damaged.
    """
    from .store import resolve

    return _cached("keras", resolve(ref, root), _load_keras)


def _load_litert(path: Path) -> ServingModel:
    from .store import StoreError, serving_bytes

    try:
        return ServingModel(serving_bytes(path), source=str(path))
    except (ValueError, RuntimeError):  # LiteRT's words for a flatbuffer it cannot read: convert it anew
        pass
    try:
        return ServingModel(serving_bytes(path, rebuild=True), source=str(path))
    except (ValueError, RuntimeError) as exc:
        raise StoreError(f"the serving model of {path} is damaged ({exc})") from None


def _load_keras(path: Path):
    from .store import load_model

    return load_model(path)


def is_cached(ref: str | Path, kind: str = "serving") -> bool:
    """Whether ``load_serving`` (kind "serving") or ``load_keras`` ("keras") would answer from the cache."""
    from .store import StoreError, model_mtime, resolve

    try:
        path = resolve(ref)
    except StoreError:
        return False
    if kind == "serving":
        kind = "litert" if runtime_available() else "keras"
    return (kind, str(path), model_mtime(path)) in _CACHE
