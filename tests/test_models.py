"""Architecture registry: exact parameter counts (computed by hand), output shapes, options, layer table."""
import numpy as np
import pytest

from lenet.models import REGISTRY, build_model, layer_table

# Parameter counts by hand: conv = filters*(k*k*in + 1); dense = units*(in + 1).
HAND = {
    "lenet": 20 * (25 + 1) + 50 * (25 * 20 + 1) + 500 * (7 * 7 * 50 + 1) + 10 * (500 + 1),
    "lenet1": 4 * (25 + 1) + 12 * (25 * 4 + 1) + 10 * (4 * 4 * 12 + 1),
    "lenet5": 6 * (25 + 1) + 16 * (25 * 6 + 1) + 120 * (5 * 5 * 16 + 1) + 84 * (120 + 1) + 10 * (84 + 1),
    "mlp": 256 * (784 + 1) + 128 * (256 + 1) + 64 * (128 + 1) + 10 * (64 + 1),
    "cnn": 32 * (9 + 1) + 64 * (9 * 32 + 1) + 128 * (12 * 12 * 64 + 1) + 10 * (128 + 1),
    "small": 16 * (25 + 1) + 32 * (25 * 16 + 1) + 128 * (4 * 4 * 32 + 1) + 10 * (128 + 1),
}


@pytest.mark.parametrize("arch", list(REGISTRY))
def test_param_counts_and_output_shape(arch):
    model = build_model(arch)
    assert model.count_params() == HAND[arch] == REGISTRY[arch].params
    out = np.asarray(model(np.zeros((3, 28, 28, 1), "float32"), training=False))
    assert out.shape == (3, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_issue_param_table():
    assert {k: s.params for k, s in REGISTRY.items()} == {
        "lenet": 1_256_080, "lenet1": 3_246, "lenet5": 61_706, "mlp": 242_762, "cnn": 1_199_882,
        "small": 80_202}


def test_activation_and_pooling_options():
    model = build_model("lenet", activation="tanh", pooling="avg")
    types = {type(l).__name__ for l in model.layers}
    assert "AveragePooling2D" in types and "MaxPooling2D" not in types
    assert model.get_layer("act1").get_config()["activation"] == "tanh"
    assert model.count_params() == 1_256_080
    with pytest.raises(ValueError):
        build_model("lenet", activation="sigmoid")
    with pytest.raises(ValueError):
        build_model("resnet")


def test_layer_table_like_seed_table1():
    rows = layer_table(build_model("lenet"))
    assert rows[0] == {"layer": "input", "type": "INPUT", "output": "28×28×1", "params": 0}
    by_name = {r["layer"]: r for r in rows}
    assert by_name["conv1"]["type"] == "CONV 20@5×5" and by_name["conv1"]["output"] == "28×28×20"
    assert by_name["pool2"]["output"] == "7×7×50"
    assert by_name["fc1"]["params"] == 1_225_500
    assert sum(r["params"] for r in rows) == 1_256_080
