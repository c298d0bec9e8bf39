"""Architecture registry: the seed networks as named Keras builders, plus a layer table for display.

Every model takes ``(N, 28, 28, 1)`` float32 in [0, 1] (white ink on black, like MNIST) and returns softmax
probabilities ``(N, 10)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras
from keras import layers

from .config import IMAGE_SIZE, NUM_CLASSES

INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)


def _pool(kind: str, name: str) -> layers.Layer:
    if kind == "max":
        return layers.MaxPooling2D(2, name=name)
    if kind == "avg":
        return layers.AveragePooling2D(2, name=name)
    raise ValueError(f"pooling must be 'max' or 'avg', not {kind!r}")


def _check_activation(activation: str) -> str:
    if activation not in ("relu", "tanh"):
        raise ValueError(f"activation must be 'relu' or 'tanh', not {activation!r}")
    return activation


def build_lenet(activation: str = "relu", pooling: str = "max") -> keras.Model:
    """LeNet as in the seed PyImageSearch tutorial (Rosebrock, "LeNet – Convolutional Neural Network in Python").

    conv 20@5×5 same → act → pool 2 → conv 50@5×5 same → act → pool 2 → dense 500 act → dense 10 softmax.
    1,256,080 parameters.
    """
    act = _check_activation(activation)
    return keras.Sequential([
        keras.Input(INPUT_SHAPE, name="image"),
        layers.Conv2D(20, 5, padding="same", name="conv1"),
        layers.Activation(act, name="act1"),
        _pool(pooling, "pool1"),
        layers.Conv2D(50, 5, padding="same", name="conv2"),
        layers.Activation(act, name="act2"),
        _pool(pooling, "pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(500, name="fc1"),
        layers.Activation(act, name="act3"),
        layers.Dense(NUM_CLASSES, activation="softmax", name="output"),
    ], name="lenet")


def build_lenet1(activation: str = "tanh", pooling: str = "avg") -> keras.Model:
    """LeNet-1 (LeCun et al. 1989, "Backpropagation applied to handwritten zip code recognition").

    conv 4@5×5 valid → act → avg-pool 2 → conv 12@5×5 valid → act → avg-pool 2 → dense 10 softmax. 3,246 parameters.
    """
    act = _check_activation(activation)
    return keras.Sequential([
        keras.Input(INPUT_SHAPE, name="image"),
        layers.Conv2D(4, 5, padding="valid", name="conv1"),
        layers.Activation(act, name="act1"),
        _pool(pooling, "pool1"),
        layers.Conv2D(12, 5, padding="valid", name="conv2"),
        layers.Activation(act, name="act2"),
        _pool(pooling, "pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(NUM_CLASSES, activation="softmax", name="output"),
    ], name="lenet1")


def build_lenet5(activation: str = "tanh", pooling: str = "avg") -> keras.Model:
    """LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998, "Gradient-based learning applied to document recognition").

    conv 6@5×5 same → act → avg-pool → conv 16@5×5 valid → act → avg-pool → dense 120 → 84 → 10. 61,706 parameters.
    """
    act = _check_activation(activation)
    return keras.Sequential([
        keras.Input(INPUT_SHAPE, name="image"),
        layers.Conv2D(6, 5, padding="same", name="conv1"),
        layers.Activation(act, name="act1"),
        _pool(pooling, "pool1"),
        layers.Conv2D(16, 5, padding="valid", name="conv2"),
        layers.Activation(act, name="act2"),
        _pool(pooling, "pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(120, activation=act, name="fc1"),
        layers.Dense(84, activation=act, name="fc2"),
        layers.Dense(NUM_CLASSES, activation="softmax", name="output"),
    ], name="lenet5")


def build_mlp(activation: str = "relu", pooling: str = "max") -> keras.Model:
    """The seed comparison's MLP: 784 → 256 → 128 → 64 → 10, ReLU, dropout 0.3. 242,762 parameters.

    ``activation`` and ``pooling`` are accepted for a uniform signature; an MLP has no pooling.
    """
    act = _check_activation(activation)
    return keras.Sequential([
        keras.Input(INPUT_SHAPE, name="image"),
        layers.Flatten(name="flatten"),
        layers.Dense(256, activation=act, name="fc1"),
        layers.Dropout(0.3, name="drop1"),
        layers.Dense(128, activation=act, name="fc2"),
        layers.Dropout(0.3, name="drop2"),
        layers.Dense(64, activation=act, name="fc3"),
        layers.Dropout(0.3, name="drop3"),
        layers.Dense(NUM_CLASSES, activation="softmax", name="output"),
    ], name="mlp")


def build_cnn(activation: str = "relu", pooling: str = "max") -> keras.Model:
    """The seed report's CNN (the Keras ``mnist_cnn`` example): conv 32@3×3 → conv 64@3×3 → max-pool 2 →
    dropout 0.25 → dense 128 → dropout 0.5 → dense 10. 1,199,882 parameters.
    """
    act = _check_activation(activation)
    return keras.Sequential([
        keras.Input(INPUT_SHAPE, name="image"),
        layers.Conv2D(32, 3, activation=act, name="conv1"),
        layers.Conv2D(64, 3, activation=act, name="conv2"),
        _pool(pooling, "pool1"),
        layers.Dropout(0.25, name="drop1"),
        layers.Flatten(name="flatten"),
        layers.Dense(128, activation=act, name="fc1"),
        layers.Dropout(0.5, name="drop2"),
        layers.Dense(NUM_CLASSES, activation="softmax", name="output"),
    ], name="cnn")


def build_small(activation: str = "relu", pooling: str = "max") -> keras.Model:
    """A small LeNet for quick training: conv 16@5×5 valid → act → pool 2 → conv 32@5×5 valid → act → pool 2 →
    dense 128 act → dense 10 softmax. 80,202 parameters; about a sixth of LeNet's multiply-adds per image
    (1.1 M against 6.5 M, by hand: valid convolutions and fewer filters), so an epoch costs a fraction of LeNet's.
    """
    act = _check_activation(activation)
    return keras.Sequential([
        keras.Input(INPUT_SHAPE, name="image"),
        layers.Conv2D(16, 5, padding="valid", name="conv1"),
        layers.Activation(act, name="act1"),
        _pool(pooling, "pool1"),
        layers.Conv2D(32, 5, padding="valid", name="conv2"),
        layers.Activation(act, name="act2"),
        _pool(pooling, "pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(128, name="fc1"),
        layers.Activation(act, name="act3"),
        layers.Dense(NUM_CLASSES, activation="softmax", name="output"),
    ], name="small")


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry: how to build an architecture and where it comes from."""

    name: str
    builder: Callable[..., keras.Model]
    source: str  # citation shown in the app
    params: int  # exact parameter count, checked by the tests
    default_activation: str
    default_pooling: str


REGISTRY: dict[str, ModelSpec] = {
    "lenet": ModelSpec("lenet", build_lenet, "PyImageSearch LeNet (Rosebrock 2016)", 1_256_080, "relu", "max"),
    "lenet1": ModelSpec("lenet1", build_lenet1, "LeNet-1 (LeCun et al. 1989)", 3_246, "tanh", "avg"),
    "lenet5": ModelSpec("lenet5", build_lenet5, "LeNet-5 (LeCun et al. 1998)", 61_706, "tanh", "avg"),
    "mlp": ModelSpec("mlp", build_mlp, "Seed comparison MLP 256-128-64", 242_762, "relu", "max"),
    "cnn": ModelSpec("cnn", build_cnn, "Seed report CNN (Keras mnist_cnn)", 1_199_882, "relu", "max"),
    "small": ModelSpec("small", build_small, "Small LeNet for the fast preset (LeNet Lab)", 80_202, "relu", "max"),
}


def build_model(arch: str, activation: str | None = None, pooling: str | None = None) -> keras.Model:
    """Build a registered architecture.

    Args:
        arch: a key of ``REGISTRY``.
        activation: "relu" or "tanh"; None uses the architecture's own.
        pooling: "max" or "avg"; None uses the architecture's own.

    Returns:
        An uncompiled ``keras.Model`` mapping (N, 28, 28, 1) float32 to (N, 10) probabilities.
    """
    try:
        spec = REGISTRY[arch]
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; choose from {', '.join(REGISTRY)}") from None
    return spec.builder(activation or spec.default_activation, pooling or spec.default_pooling)


_TYPE_NAMES = {
    "Conv2D": "CONV", "MaxPooling2D": "POOL (max)", "AveragePooling2D": "POOL (avg)", "Dense": "FC",
    "Activation": "ACT", "Flatten": "FLATTEN", "Dropout": "DROPOUT",
}


def layer_table(model: keras.Model) -> list[dict]:
    """Rows like the seed's Table 1: one per layer with type, output shape and parameter count.

    Returns:
        ``[{"layer": name, "type": "CONV 20@5×5", "output": "28×28×20", "params": 520}, ...]``,
        starting with the input row.
    """
    rows = [{"layer": "input", "type": "INPUT", "output": _shape(model.inputs[0].shape), "params": 0}]
    for layer in model.layers:
        kind = _TYPE_NAMES.get(type(layer).__name__, type(layer).__name__.upper())
        cfg = layer.get_config()
        if kind == "CONV":
            k = cfg["kernel_size"]
            kind = f"CONV {cfg['filters']}@{k[0]}×{k[1]}"
        elif kind == "FC":
            kind = f"FC {cfg['units']}"
        elif kind == "ACT":
            kind = f"ACT ({cfg['activation']})"
        elif kind == "DROPOUT":
            kind = f"DROPOUT {cfg['rate']}"
        act = cfg.get("activation")
        if kind.startswith(("CONV", "FC")) and act not in (None, "linear"):
            kind += f" + {act}"
        rows.append({"layer": layer.name, "type": kind, "output": _shape(layer.output.shape),
                     "params": int(layer.count_params())})
    return rows


def _shape(shape) -> str:
    return "×".join(str(d) for d in tuple(shape)[1:])
