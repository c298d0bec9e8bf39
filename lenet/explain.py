"""Looking inside a model for one digit: feature maps, filters, saliency, and nearest training digits.

Works for every registered architecture (``lenet.models.REGISTRY``): layers are found by type and by the
``output`` layer's position, never by architecture name. An MLP has no conv layers; ``map_layers`` is then empty.
All functions take a ``(28, 28)`` float32 image in [0, 1] (white ink on black), the array the model itself sees.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .infer import to_model_input

import keras  # noqa: E402  (after lenet's TF log settings)
import tensorflow as tf  # noqa: E402

EMBED_BATCH = 1024  # images per direct call when embedding the training set: bounded memory, few calls
OCCLUSION_PATCH = 4  # px: about a stroke's width in a 28x28 digit
SALIENCY_METHODS = ("gradient × input", "gradient", "occlusion")

_CONV, _POOL = ("Conv2D",), ("MaxPooling2D", "AveragePooling2D")


@dataclass(frozen=True)
class MapLayer:
    """A layer whose output is shown as feature maps."""

    name: str  # the Keras layer whose output is shown
    title: str  # e.g. "conv1 → relu", "pool1 (max)"
    kind: str  # "conv" or "pool"


def map_layers(model: keras.Model) -> list[MapLayer]:
    """The conv and pool layers, in order; a conv followed by an Activation layer is shown after it.

    Returns:
        One ``MapLayer`` per conv/pool layer; empty for an MLP.
    """
    layers = model.layers
    out = []
    for i, layer in enumerate(layers):
        kind = type(layer).__name__
        if kind in _CONV:
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            if nxt is not None and type(nxt).__name__ == "Activation":
                out.append(MapLayer(nxt.name, f"{layer.name} → {nxt.get_config()['activation']}", "conv"))
            else:
                act = layer.get_config().get("activation")
                suffix = f" → {act}" if act not in (None, "linear") else ""
                out.append(MapLayer(layer.name, f"{layer.name}{suffix}", "conv"))
        elif kind in _POOL:
            out.append(MapLayer(layer.name, f"{layer.name} ({'max' if kind.startswith('Max') else 'avg'})", "pool"))
    return out


def _sub_model(model: keras.Model, names: list[str]) -> keras.Model:
    return keras.Model(model.inputs[0], [model.get_layer(n).output for n in names])


def feature_maps(model: keras.Model, x: np.ndarray, layers: list[str] | None = None) -> dict[str, np.ndarray]:
    """Outputs of the conv/pool layers for one digit.

    Args:
        model: a Keras model of the registry.
        x: (28, 28) float32 in [0, 1].
        layers: layer names (default: ``map_layers(model)``).

    Returns:
        name -> (H, W, C) float32, in layer order; ``{}`` when the model has no conv layers.
    """
    names = [m.name for m in map_layers(model)] if layers is None else list(layers)
    if not names:
        return {}
    outs = _sub_model(model, names)(to_model_input(np.asarray(x)[None]), training=False)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    return {n: np.asarray(o)[0] for n, o in zip(names, outs)}


def conv_filters(model: keras.Model, layer: str = "conv1") -> np.ndarray:
    """A conv layer's kernels, one image per (output filter, input channel) pair.

    Returns:
        (filters, k, k) float32 for a layer on the 1-channel input (conv1); (filters, in, k, k) otherwise.
    """
    kernel = np.asarray(model.get_layer(layer).get_weights()[0])  # (k, k, in, out)
    k = np.transpose(kernel, (3, 2, 0, 1))
    return k[:, 0] if k.shape[1] == 1 else k


def _head(model: keras.Model):
    """The sub-model to the penultimate layer and the output layer's kernel and bias (its logits)."""
    out = model.get_layer("output")
    i = model.layers.index(out)
    if i == 0:
        raise ValueError("the model has no layer before 'output'")
    penult = keras.Model(model.inputs[0], model.layers[i - 1].output)
    w, b = out.get_weights()
    return penult, w, b


def logits(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """Pre-softmax scores (N, 10) float32: what the saliency maps differentiate (softmax saturates at p≈1)."""
    penult, w, b = _head(model)
    h = np.asarray(penult(to_model_input(np.asarray(images)), training=False))
    return h @ w + b


def _target(z: tf.Tensor, cls: int, versus: int | None) -> tf.Tensor:
    return z[:, cls] - (z[:, versus] if versus is not None else 0.0)


def saliency(model: keras.Model, x: np.ndarray, cls: int, method: str = "gradient × input",
             versus: int | None = None, patch: int = OCCLUSION_PATCH) -> np.ndarray:
    """Which pixels of the input push the score of class ``cls`` (optionally: ``cls`` rather than ``versus``).

    The score is the class logit ``z_cls`` (or ``z_cls - z_versus``: "why a 9 rather than the 4 predicted").

    Methods:
        "gradient × input": ∂score/∂x · x (Shrikumar et al. 2016) — the ink's signed contribution; zero off
            the ink.
        "gradient": ∂score/∂x (Simonyan et al. 2013) — where adding ink would raise (+) or lower (−) the score,
            so it also speaks about the background ("a 9 would need ink here").
        "occlusion": score drop when a ``patch``×``patch`` square is blacked out (Zeiler & Fergus 2014),
            averaged over every square covering a pixel.

    Args:
        model: a Keras model of the registry (last layer a softmax Dense named ``output``).
        x: (28, 28) float32 in [0, 1].
        cls: the class explained, 0-9.
        method: one of SALIENCY_METHODS.
        versus: a class to contrast with, or None.
        patch: occlusion square side in px.

    Returns:
        (28, 28) float32, signed: positive = evidence for ``cls``.
    """
    x = np.asarray(x, np.float32)
    penult, w, b = _head(model)
    w, b = tf.constant(w), tf.constant(b)
    if method in ("gradient × input", "gradient"):
        xt = tf.constant(to_model_input(x[None]))
        with tf.GradientTape() as tape:
            tape.watch(xt)
            z = tf.matmul(penult(xt, training=False), w) + b
            score = _target(z, cls, versus)
        g = np.asarray(tape.gradient(score, xt))[0, :, :, 0]
        return (g * x if method == "gradient × input" else g).astype(np.float32)
    if method == "occlusion":
        return _occlusion(penult, w, b, x, cls, versus, patch)
    raise ValueError(f"method must be one of {', '.join(SALIENCY_METHODS)}; not {method!r}")


def _occlusion(penult, w, b, x, cls, versus, patch):
    n = x.shape[0] - patch + 1
    batch = np.repeat(x[None], n * n + 1, axis=0)  # the last one stays intact: the reference score
    for k in range(n * n):
        r, c = divmod(k, n)
        batch[k, r:r + patch, c:c + patch] = 0.0
    z = np.asarray(penult(to_model_input(batch), training=False)) @ np.asarray(w) + np.asarray(b)
    s = z[:, cls] - (z[:, versus] if versus is not None else 0.0)
    drop = s[-1] - s[:-1]
    total = np.zeros_like(x)
    count = np.zeros_like(x)
    for k in range(n * n):
        r, c = divmod(k, n)
        total[r:r + patch, c:c + patch] += drop[k]
        count[r:r + patch, c:c + patch] += 1
    return (total / count).astype(np.float32)


def embedding_model(model: keras.Model) -> keras.Model:
    """The model cut before its output layer: (N, 28, 28, 1) -> (N, D) penultimate features."""
    return _head(model)[0]


def embed(model: keras.Model, images: np.ndarray, batch: int = EMBED_BATCH, progress=None) -> np.ndarray:
    """Penultimate-layer features of many images, L2-normalised so a dot product is the cosine similarity.

    Args:
        model: a Keras model of the registry.
        images: (N, 28, 28) uint8 (MNIST) or float32 in [0, 1].
        batch: images per direct call (not ``predict()``: no per-call overhead, no progress bar).
        progress: optional ``f(done, total)`` called after each batch.

    Returns:
        (N, D) float32 unit rows (a zero feature vector stays zero).
    """
    sub = embedding_model(model)
    images = np.asarray(images)
    parts = []
    for i in range(0, len(images), batch):
        h = np.asarray(sub(to_model_input(images[i:i + batch]), training=False), np.float32)
        parts.append(h.reshape(len(h), -1))
        if progress is not None:
            progress(min(i + batch, len(images)), len(images))
    h = np.concatenate(parts) if parts else np.zeros((0, 1), np.float32)
    norms = np.linalg.norm(h, axis=1, keepdims=True)
    return h / np.where(norms > 0, norms, 1.0)


def nearest(train_emb: np.ndarray, query: np.ndarray, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` training digits closest to a query in cosine distance.

    Args:
        train_emb: (N, D) unit rows from ``embed``.
        query: (D,) or (1, D) features of one digit (normalised here).
        k: how many.

    Returns:
        ``(indices (k,), cosine distances (k,))``, closest first.
    """
    q = np.asarray(query, np.float32).reshape(-1)
    q = q / (np.linalg.norm(q) or 1.0)
    dist = 1.0 - train_emb.astype(np.float32, copy=False) @ q
    k = min(k, len(dist))
    idx = np.argpartition(dist, k - 1)[:k] if k < len(dist) else np.arange(len(dist))
    idx = idx[np.argsort(dist[idx], kind="stable")]
    return idx, dist[idx]
