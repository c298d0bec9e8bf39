"""Synthetic test images made on the fly (no files, no MNIST download)."""
