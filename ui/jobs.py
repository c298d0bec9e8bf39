"""Background training owned by one browser session (NOTES.md, "Long work and Streamlit reruns").

A ``TrainJob`` runs ``lenet.train.train_evaluate_save`` in a worker thread and keeps everything the page needs to
draw it — progress, per-batch points, per-epoch history, the saved run, an error — as plain data. The thread
never calls ``st.*``; the Train page reads the job from ``st.session_state`` in an ``@st.fragment(run_every=…)``.
A click or a page switch restarts the script, not the thread, so training keeps going and its curves keep moving.
Each job builds its own model, so two sessions training at once never share a mutable model.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from lenet.config import TrainConfig, models_dir

POINTS_PER_EPOCH = 40  # within-epoch chart points: enough to see a curve move, few enough to redraw every second


def report_every(config: TrainConfig, n_train: int) -> int:
    """Batches between live points so that an epoch gives about ``POINTS_PER_EPOCH`` of them."""
    steps = math.ceil(n_train / config.batch_size)
    return max(1, steps // POINTS_PER_EPOCH)


def train_size(config: TrainConfig, available: int = 60_000) -> int:
    """How many training images ``config`` uses (after the validation split and the subset)."""
    n = available - (max(1, int(available * config.val_split)) if config.validation == "split" else 0)
    return min(n, config.train_subset) if config.train_subset else n


def friendly_error(exc: BaseException) -> str:
    """A message for users (no traceback): what went wrong and what to try."""
    from lenet.store import StoreError

    if isinstance(exc, MemoryError):
        return "Training ran out of memory. Try a smaller batch size or a smaller architecture."
    if isinstance(exc, StoreError):
        return f"The trained model could not be saved: {exc}"
    if isinstance(exc, OSError):
        return f"The trained model could not be saved ({exc.strerror or exc}). Check free disk space and that " \
               f"the models folder ({models_dir()}) is writable."
    if isinstance(exc, ValueError):
        return f"These settings cannot be trained: {exc}"
    return f"Training failed ({type(exc).__name__}: {exc}). Try other settings or a smaller batch size."


@dataclass
class TrainJob:
    """One training run in a worker thread, plus what it has reported so far.

    Lists are only appended to by the worker (atomic under the GIL); readers copy them with ``list(...)``.
    """

    config: TrainConfig
    root: str  # the store folder the run is saved into, resolved when the job starts
    name: str | None = None
    state: str = "starting"  # starting | training | saving | done | stopped | error
    phase: str = "Preparing data and building the model…"
    progress: dict = field(default_factory=dict)  # latest BatchProgress as a dict, plus "fraction"
    points: list = field(default_factory=list)  # within-epoch {"x": epochs, "loss", "accuracy"}
    history: list = field(default_factory=list)  # per-epoch rows: epoch, loss, accuracy, val_loss, val_accuracy
    run_path: str | None = None
    test_accuracy: float | None = None
    seconds: float = 0.0
    error: str | None = None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    collected: bool = False  # the page has added the finished run to the session and made it active
    stop_event: threading.Event = field(default_factory=threading.Event, repr=False)
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.state in ("starting", "training", "saving")

    @property
    def finished(self) -> bool:
        return not self.running

    @property
    def stop_requested(self) -> bool:
        return self.stop_event.is_set()

    def stop(self) -> None:
        """Ask training to end after the current batch; the model so far is saved and marked stopped."""
        self.stop_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker ends (tests, scripts); True if it has."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.finished

    # ------------------------------------------------------------------ worker side (no st.* here)
    def _on_batch(self, p) -> None:
        self.state = "training"
        self.phase = "Training"
        self.progress = {"epoch": p.epoch, "epochs": p.epochs, "batch": p.batch, "batches": p.batches,
                         "loss": p.loss, "accuracy": p.accuracy, "images_per_s": p.images_per_s,
                         "eta_s": p.eta_s, "elapsed_s": p.elapsed_s, "fraction": p.fraction}
        self.points.append({"x": p.epoch_float, "loss": p.loss, "accuracy": p.accuracy})

    def _on_epoch(self, row: dict) -> None:
        self.history.append(row)
        if row["epoch"] >= self.config.epochs or self.stop_event.is_set():
            self.state = "saving"
            self.phase = "Evaluating on the 10,000 MNIST test images and saving the run…"

    def _work(self, data) -> None:
        try:
            from lenet.train import train_evaluate_save  # imports TensorFlow: only in the worker

            n_train = train_size(self.config, len(data.x_train))
            result, evaluation, run = train_evaluate_save(
                self.config, data, name=self.name, root=self.root, extra={"trained_in": "app"},
                on_batch=self._on_batch, on_epoch=self._on_epoch, stop=self.stop_event,
                report_every=report_every(self.config, n_train))
            self.history = list(result.history)
            self.seconds = result.seconds
            self.test_accuracy = evaluation.accuracy
            self.run_path = str(run.path)
            del result  # the saved run is the model now; do not keep a second copy in the session
            self.state = "stopped" if run.stopped else "done"
            self.phase = "Stopped early: the model so far is saved" if run.stopped else "Done"
        except Exception as exc:  # shown as a message on the page, never as a traceback
            self.error = friendly_error(exc)
            self.state = "error"
            self.phase = "Failed"
        finally:
            self.finished_at = time.time()

    @classmethod
    def start(cls, config: TrainConfig, data, *, root: str | Path | None = None, name: str | None = None
              ) -> "TrainJob":
        """Start training ``config`` on ``data`` (a ``lenet.data.Mnist``) in a daemon thread.

        Args:
            config: the run's settings.
            data: MNIST arrays (shared and read-only; training copies what it uses).
            root: the store folder (default ``models_dir()``, read now rather than in the thread).
            name: a display name for the run.
        """
        job = cls(config=config, root=str(root if root is not None else models_dir()), name=name or None)
        job.thread = threading.Thread(target=job._work, args=(data,), name="lenet-train", daemon=True)
        job.thread.start()
        return job


def eta_text(seconds: float) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def progress_text(job: TrainJob) -> str:
    """One line for the progress bar: epoch, batch, speed, ETA."""
    p = job.progress
    if job.state == "error":
        return job.phase
    if not p or job.state == "starting":
        return f"{job.phase} ({time.time() - job.started_at:.0f} s)"
    if job.state == "saving":
        return job.phase
    if job.finished:
        done = p.get("epoch", 0) + p.get("batch", 0) / max(1, p.get("batches", 1))
        return f"{job.phase} · {done:.2g} of {job.config.epochs} epochs in {job.seconds:.1f} s"
    # The first batches include graph tracing, so their speed says little about the rest.
    early = p["epoch"] == 0 and p["batch"] < min(5, p["batches"])
    eta = "estimating…" if early else eta_text(p["eta_s"])
    return (f"Epoch {p['epoch'] + 1}/{p['epochs']} · batch {p['batch']}/{p['batches']} · "
            f"{p['images_per_s']:,.0f} images/s · ETA {eta}")


# ---------------------------------------------------------------- session side (script thread only)
def current_job() -> TrainJob | None:
    """This session's training job, running or finished (None if it never trained)."""
    import streamlit as st

    from ui.state import TRAIN_JOB

    return st.session_state.get(TRAIN_JOB)


def collect_finished() -> TrainJob | None:
    """Once a job has saved its run: add the run to this session and make it the active model (once).

    Called by the sidebar on every page, so a training that ends while the user is elsewhere still lands.

    Returns:
        The job if it was collected just now, else None.
    """
    from ui.state import add_session_run, set_active

    job = current_job()
    if job is None or job.collected or not job.finished:
        return None
    job.collected = True
    if job.run_path:
        add_session_run(job.run_path)
        set_active(job.run_path)
    return job
