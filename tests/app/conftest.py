"""AppTest fixtures: a tiny real run (LeNet-1, 512 images, 1 epoch, ~5 s) and the app with it active."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")  # AppTest resolves relative paths from the test file, so pass it absolute
TIMEOUT = 120  # TensorFlow imports slowly; the machine is shared


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny):
    """A complete stored run outside any store: LeNet-1 trained on 512 MNIST images for one epoch."""
    from lenet.config import TrainConfig
    from lenet.train import train_evaluate_save

    dest = tmp_path_factory.mktemp("runs") / "tiny-lenet1"
    cfg = TrainConfig(arch="lenet1", lr=3e-3, batch_size=32, epochs=1, seed=1, train_subset=512)
    _, _, run = train_evaluate_save(cfg, tiny, dest=dest, name="tiny test run")
    return run


@pytest.fixture
def store_run(tiny_run, private_store):
    """The tiny run copied into this test's private store (the sidebar picker lists only stored runs)."""
    import shutil

    from lenet.store import read_run

    dest = private_store / tiny_run.path.name
    shutil.copytree(tiny_run.path, dest)
    return read_run(dest)


@pytest.fixture
def app(store_run):
    """The whole app (router + sidebar) with the tiny run as the active model, not yet run."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["active_model"] = str(store_run.path)
    return at


@pytest.fixture
def wait_for_job():
    """A function that reruns the app until the job it shows (this session's newest) has finished."""
    return _wait_for_job


def _wait_for_job(at, timeout: float = 180.0, key: str = "focus_job"):
    """Rerun the app (as the live fragment would) until the job in ``session_state[key]`` has finished.

    Returns:
        The finished ``lenet.jobs.Job``.
    """
    import time

    from lenet.jobs import read_job

    path = at.session_state[key]
    deadline = time.monotonic() + timeout
    while not (job := read_job(path)).finished and time.monotonic() < deadline:
        time.sleep(1.0)
        at.run()
    log = (job.path / "worker.log").read_text() if (job.path / "worker.log").exists() else ""
    assert job.finished, f"the job did not finish in {timeout} s (state {job.state}); worker log: {log[-2000:]}"
    at.run()  # the run that collects the finished job
    return job
