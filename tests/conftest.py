"""Shared fixtures: real MNIST (from the verified local cache) and small slices of it."""
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def mnist():
    """Real MNIST; CI fetches it first with `python -m lenet data`."""
    from lenet.data import load_mnist

    return load_mnist()


@pytest.fixture(scope="session")
def tiny(mnist):
    """512 training and 256 test images of real MNIST, same fields as lenet.data.Mnist."""
    from lenet.data import Mnist

    return Mnist(mnist.x_train[:512], mnist.y_train[:512], mnist.x_test[:256], mnist.y_test[:256])


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    """Every test gets its own empty run store, never the project's models/."""
    monkeypatch.setenv("LENET_MODELS_DIR", str(tmp_path / "models"))
    return tmp_path / "models"


@pytest.fixture(scope="session")
def digit_png(tmp_path_factory, mnist):
    """A dark-on-light PNG of MNIST test digit 0 (a 7), scaled up like a scan."""
    import cv2

    img = 255 - cv2.resize(np.asarray(mnist.x_test[0]), (112, 112), interpolation=cv2.INTER_CUBIC)
    path = tmp_path_factory.mktemp("img") / "7.png"
    cv2.imwrite(str(path), np.pad(img, 40, constant_values=255))
    return path
