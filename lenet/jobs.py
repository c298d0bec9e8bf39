"""Training jobs on disk and the one server-wide queue that runs them in worker processes.

A job is a folder ``<models_dir>/.jobs/<job-id>/``: ``job.json`` (what to train, written once), ``status.json``
(state, phase, the saved run; rewritten atomically), ``progress.jsonl`` (batch, epoch and evaluation points, appended
about once a second by the worker), ``user.npz`` (a fine-tune's digits), a ``stop`` file when a stop was requested,
and ``worker.log``. The folder *is* the queue: every session of every server — and the CLI — sees the same jobs,
and a reload loses nothing. Job ids sort by submission time, so queue order is folder-name order.

At most ``max_running()`` workers run at once (``python -m lenet.job_worker <job-dir>``);
``pump()`` starts queued jobs when a slot is free. It runs on submit, when a worker ends and whenever a page reads
the queue, under a file lock, so two processes never start the same job. A worker holds ``worker.lock`` for its
life: a job whose lock is free while its state says running has lost its worker and is marked failed.

This module never imports TensorFlow: the server reads jobs with it; only the worker trains.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import PROJECT_ROOT, TrainConfig, models_dir
from .store import write_json

JOBS_DIRNAME = ".jobs"  # hidden, so the run store never lists it as a run
MAX_RUNNING_ENV = "LENET_MAX_JOBS"  # override the number of jobs that run at once
# One job at a time on small machines: two TensorFlow workers on 2-4 cores are each more than twice as slow, and
# the server's own sessions need a core too.
SMALL_MACHINE_CORES = 4
STARTUP_GRACE_S = 90.0  # a launched worker takes its lock within this (Python start-up, before TensorFlow)
SPEC, STATUS, PROGRESS, STOP, LOCK, USER = "job.json", "status.json", "progress.jsonl", "stop", "worker.lock", "user.npz"

QUEUED, STARTING, RUNNING, EVALUATING = "queued", "starting", "running", "evaluating"
DONE, STOPPED, FAILED, CANCELLED = "done", "stopped", "failed", "cancelled"
ACTIVE = (STARTING, RUNNING, EVALUATING)  # a worker owns the job
FINISHED = (DONE, STOPPED, FAILED, CANCELLED)


def max_running() -> int:
    """How many jobs run at once: ``$LENET_MAX_JOBS``, else 1 on machines of ≤ 4 cores and 2 above."""
    env = os.environ.get(MAX_RUNNING_ENV, "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return 1 if (os.cpu_count() or 1) <= SMALL_MACHINE_CORES else 2


def jobs_dir(root: str | Path | None = None) -> Path:
    """The queue folder inside a run store (default ``models_dir()``)."""
    return Path(root if root is not None else models_dir()) / JOBS_DIRNAME


@dataclass
class Job:
    """One job as read from its folder: the spec, the latest status and what the worker has reported."""

    path: Path
    spec: dict
    status: dict
    points: list  # within-epoch training points {"x": epochs done, "loss", "accuracy"}
    history: list  # per-epoch rows (val_* included), a stopped epoch marked "partial"
    progress: dict  # the latest batch report: epoch, epochs, batch, batches, images_per_s, eta_s, fraction, ...
    evaluation: dict  # the latest evaluation report: {"done", "total", "what"}

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def state(self) -> str:
        return self.status.get("state", QUEUED)

    @property
    def kind(self) -> str:
        return self.spec.get("kind", "train")

    @property
    def config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.spec["config"])

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def stop_requested(self) -> bool:
        return (self.path / STOP).exists()

    @property
    def run_path(self) -> str | None:
        return self.status.get("run_path")

    @property
    def fraction(self) -> float:
        if self.state == DONE:
            return 1.0
        return float(self.progress.get("fraction", 0.0))


# ---------------------------------------------------------------- files
def _read_json(path: Path) -> dict:
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return obj if isinstance(obj, dict) else {}


def append_progress(path: Path, record: dict) -> None:
    """Append one JSON line to the job's progress file (one small write: readers see whole lines)."""
    with open(Path(path) / PROGRESS, "a") as f:
        f.write(json.dumps(record) + "\n")


def update_status(path: Path, **changes) -> dict:
    """Merge ``changes`` into the job's status.json (written by one process at a time: the queue or its worker)."""
    status = {**_read_json(Path(path) / STATUS), **changes}
    write_json(Path(path) / STATUS, status)
    return status


class _Progress:
    """What a progress file said so far, and how far it was read: each read parses only the lines added since."""

    def __init__(self):
        self.offset, self.points, self.history, self.progress, self.evaluation = 0, [], [], {}, {}

    def update(self, file: Path) -> "_Progress":
        try:
            with open(file, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return self
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next read
        self.offset += end
        for line in data[:end].splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            kind = rec.pop("type", None)
            if kind == "batch":
                self.progress = rec
                self.points.append({"x": rec["x"], "loss": rec["loss"], "accuracy": rec["accuracy"]})
            elif kind == "epoch":
                self.history.append(rec)
            elif kind == "eval":
                self.evaluation = rec
        return self


_PROGRESS: dict[str, _Progress] = {}  # job folder -> its progress read so far (every watcher of a job shares it)
_PROGRESS_MAX = 64
_PROGRESS_LOCK = threading.Lock()  # Streamlit serves sessions from threads of one process


def read_job(path: str | Path, progress: bool = True) -> Job | None:
    """The job in a folder, or None if it is not (or no longer) a readable job.

    Args:
        path: the job folder.
        progress: also read its progress file (lists that only need states pass False).
    """
    path = Path(path)
    spec = _read_json(path / SPEC)
    if not spec.get("config"):
        return None
    p = _Progress()
    if progress:
        with _PROGRESS_LOCK:
            key = str(path)
            p = _PROGRESS.pop(key, None) or _Progress()
            _PROGRESS[key] = p.update(path / PROGRESS)  # re-inserted: the dict keeps the most recent last
            while len(_PROGRESS) > _PROGRESS_MAX:
                _PROGRESS.pop(next(iter(_PROGRESS)))
    return Job(path=path, spec=spec, status=_read_json(path / STATUS), points=list(p.points),
               history=list(p.history), progress=dict(p.progress), evaluation=dict(p.evaluation))


def list_jobs(root: str | Path | None = None, limit: int | None = None, progress: bool = True) -> list[Job]:
    """Jobs in the queue folder, newest first (``limit``: only the newest n; ``progress``: see ``read_job``)."""
    folder = jobs_dir(root)
    if not folder.is_dir():
        return []
    names = sorted((p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True)
    jobs = (read_job(folder / n, progress) for n in (names[:limit] if limit else names))
    return [j for j in jobs if j is not None]


# ---------------------------------------------------------------- submitting, stopping
def submit(config: TrainConfig, *, name: str | None = None, root: str | Path | None = None, owner: str = "",
           finetune: dict | None = None, user_digits: tuple | None = None, eval_n: int = 10_000,
           start: bool = True) -> Job:
    """Put a training (or fine-tuning) job at the end of the queue, and start it if a slot is free.

    Args:
        config: what to train (for a fine-tune: what ``lenet.finetune.finetune_config`` made).
        name: the run's display name.
        root: the run store the model is saved into; the queue lives in its ``.jobs`` folder.
        owner: who asked (e.g. "app" or "cli:alice"), shown next to other people's jobs.
        finetune: for a fine-tune, ``{"source": run folder, "settings": FinetuneConfig dict, "base": config dict}``.
        user_digits: for a fine-tune, ``(x (N, 28, 28) float32, y (N,) int, names)``, saved as ``user.npz``.
        eval_n: MNIST test images the finished model is measured on.
        start: start it now if a slot is free (tests pass False to look at the queue).

    Returns:
        The queued ``Job``.
    """
    root = Path(root if root is not None else models_dir())
    folder = jobs_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()  # ids sort by submission time (to the microsecond): the queue's order
    job_id = f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{int(now * 1e6) % 1_000_000:06d}-" \
             f"{uuid.uuid4().hex[:4]}"
    tmp = folder / f".new-{job_id}"
    tmp.mkdir()
    spec = {"id": job_id, "kind": "finetune" if finetune else "train", "config": config.to_dict(), "name": name,
            "root": str(root.resolve()), "owner": owner, "submitted_at": time.time(), "eval_n": int(eval_n)}
    if finetune:
        spec["finetune"] = finetune
        x, y, names = user_digits
        np.savez_compressed(tmp / USER, x=np.asarray(x, np.float32), y=np.asarray(y, np.int64),
                            names=np.asarray(list(names), dtype=str))
    write_json(tmp / SPEC, spec)
    write_json(tmp / STATUS, {"state": QUEUED, "phase": "Waiting for a free worker"})
    os.rename(tmp, folder / job_id)  # appears whole, with its spec, or not at all
    if start:
        pump(root)
        clean_finished(root)
    return read_job(folder / job_id)


def request_stop(path: str | Path) -> None:
    """Stop a job: a queued one is cancelled at once; a running one ends after its current batch and is saved."""
    path = Path(path)
    (path / STOP).touch()
    with _queue_lock(path.parent):
        if _read_json(path / STATUS).get("state") == QUEUED:
            update_status(path, state=CANCELLED, phase="Cancelled before it started", finished_at=time.time())


# ---------------------------------------------------------------- the queue
@contextlib.contextmanager
def _queue_lock(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def worker_alive(path: Path) -> bool:
    """Whether a worker process holds this job's lock (the lock dies with the process, however it ends)."""
    try:
        with open(path / LOCK, "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f, fcntl.LOCK_UN)
            return False
    except OSError:
        return False


_CHILDREN: list[subprocess.Popen] = []  # workers this process started: polled so none lingers as a zombie


def _reap() -> None:
    _CHILDREN[:] = [p for p in _CHILDREN if p.poll() is None]


def launch(path: Path) -> None:
    """Start the worker process of a job (lower priority, detached from the caller's session)."""
    _reap()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT),
                                                                    os.environ.get("PYTHONPATH")])))
    with open(path / "worker.log", "ab") as log:
        _CHILDREN.append(subprocess.Popen([sys.executable, "-m", "lenet.job_worker", str(path)], cwd=PROJECT_ROOT,
                                          env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True))


def pump(root: str | Path | None = None, *, launcher=launch, now: float | None = None) -> list[str]:
    """Start queued jobs, oldest first, while fewer than ``max_running()`` run; mark jobs whose worker died.

    Args:
        root: the run store whose queue to serve.
        launcher: starts a job's worker (tests pass a recorder).
        now: the current time (tests).

    Returns:
        The ids of the jobs started now.
    """
    _reap()
    folder = jobs_dir(root)
    if not folder.is_dir():
        return []
    now = time.time() if now is None else now
    started = []
    with _queue_lock(folder):
        names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        busy, queued = 0, []
        for name in names:
            path = folder / name
            status = _read_json(path / STATUS)
            state = status.get("state")
            if state in ACTIVE:
                young = state == STARTING and now - status.get("started_at", 0) < STARTUP_GRACE_S
                if young or worker_alive(path):
                    busy += 1
                else:
                    update_status(path, state=FAILED, phase="Failed", finished_at=now,
                                  error="The training process ended unexpectedly (out of memory, or the server "
                                        "was restarted). Whatever was saved before is in the store.")
            elif state == QUEUED:
                queued.append(path)
        for path in queued[: max(0, max_running() - busy)]:
            update_status(path, state=STARTING, phase="Starting a worker (loading TensorFlow)…", started_at=now)
            try:
                launcher(path)
            except OSError as exc:
                update_status(path, state=FAILED, phase="Failed", finished_at=now,
                              error=f"The training process could not be started ({exc}).")
                continue
            started.append(path.name)
    return started


def queue_ahead(job: Job, jobs: list[Job]) -> tuple[list[Job], list[Job]]:
    """The jobs running now and the queued jobs ahead of ``job`` (oldest first)."""
    running = [j for j in jobs if j.active]
    ahead = sorted((j for j in jobs if j.state == QUEUED and j.id < job.id), key=lambda j: j.id)
    return running, ahead


def clean_finished(root: str | Path | None = None, keep: int = 50) -> None:
    """Delete the folders of all but the newest ``keep`` finished jobs (their runs stay in the store)."""
    for job in [j for j in list_jobs(root, progress=False) if j.finished][keep:]:
        shutil.rmtree(job.path, ignore_errors=True)
