"""LeNet Lab library: MNIST data, LeNet-family models, training, model store, preprocessing and inference.

Importing ``lenet`` is cheap: TensorFlow is imported only by the modules that need it.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter hides our own output
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
