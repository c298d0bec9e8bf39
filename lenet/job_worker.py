"""The worker process of one job (``python -m lenet.job_worker <job-dir>``): train, save, then evaluate.

It runs at a lower OS priority with a bounded number of TensorFlow threads, so the server that serves everyone's
pages stays responsive. Progress goes to the job's ``progress.jsonl`` about twice a second — whoever watches reads
that small file, which costs this process nothing. Stop is a file: the training callback looks for it after every
batch and the job ends there, without the epoch's validation pass; the model as it stands is saved at once, and
measuring it on the MNIST test set is a separate step with its own progress.
"""
from __future__ import annotations

import fcntl
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import jobs
from .config import TrainConfig

NICE = 10  # below the server (0): a page's rerun is served before the next training batch
THREADS_ENV = "LENET_JOB_THREADS"  # TensorFlow intra-op threads per worker (default: cores / jobs at once)
REPORT_EVERY_S = 0.5  # progress lines at most this often: enough for a live curve, nothing for the disk
POINTS_PER_EPOCH = 50  # callback calls per epoch (each reads the batch's loss, which syncs with TensorFlow)
EVAL_CHUNK = 1000  # test images per evaluation step: one progress line each


class JobStopped(Exception):
    """Raised from the batch callback when the stop file appears: ends ``fit`` without its validation pass."""


class StopFile:
    """A stop request that ``lenet.train.train`` polls after every batch (``is_set``, like a threading.Event)."""

    def __init__(self, path: Path):
        self.path, self._set, self._next = path, False, 0.0

    def is_set(self) -> bool:
        now = time.monotonic()
        if not self._set and now >= self._next:  # a stat at most every 50 ms, not on every batch
            self._set, self._next = self.path.exists(), now + 0.05
        return self._set


class Reporter:
    """Batch and epoch callbacks for ``train()`` that append to the job's progress file."""

    def __init__(self, path: Path, stop: StopFile):
        self.path, self.stop = path, stop
        self.history: list[dict] = []
        self.last = None  # the latest BatchProgress
        self._mark = None  # (elapsed s, images) once past the first batches, which include graph tracing
        self._t = -math.inf

    def batch(self, p) -> None:
        self.last = p
        if self._mark is None and p.epoch * p.batches + p.batch >= 3:
            self._mark = (p.elapsed_s, p.images_per_s * p.elapsed_s)
        now = time.monotonic()
        if self.stop.is_set() or now - self._t >= REPORT_EVERY_S or p.batch == p.batches:
            self._t = now
            jobs.append_progress(self.path, {
                "type": "batch", "x": p.epoch_float, "epoch": p.epoch, "epochs": p.epochs, "batch": p.batch,
                "batches": p.batches, "loss": p.loss, "accuracy": p.accuracy, "images_per_s": p.images_per_s,
                "eta_s": p.eta_s if math.isfinite(p.eta_s) else None, "elapsed_s": p.elapsed_s,
                "fraction": p.fraction, "t": time.time()})
        if self.stop.is_set():
            raise JobStopped

    def epoch(self, row: dict) -> None:
        self.history.append(row)
        jobs.append_progress(self.path, {"type": "epoch", **row})

    def speed(self) -> tuple[float | None, float]:
        """Steady training speed (images/s after the first batches) and the seconds lost to warm-up before it."""
        p = self.last
        if p is None:
            return None, 0.0
        if self._mark is None or p.elapsed_s - self._mark[0] < 0.5:
            return p.images_per_s, 0.0
        ips = (p.images_per_s * p.elapsed_s - self._mark[1]) / (p.elapsed_s - self._mark[0])
        return ips, max(0.0, self._mark[0] - self._mark[1] / ips)

    def partial_row(self) -> dict | None:
        """The history row of an epoch cut short by Stop (its running train loss and accuracy)."""
        p = self.last
        if p is None or (self.history and self.history[-1]["epoch"] > p.epoch):
            return None
        return {"epoch": p.epoch + 1, "loss": p.loss, "accuracy": p.accuracy, "partial": True}


def friendly_error(exc: BaseException) -> str:
    """A message for users (no traceback): what went wrong and what to try."""
    from .store import StoreError

    if isinstance(exc, MemoryError):
        return "Training ran out of memory. Try a smaller batch size or a smaller architecture."
    if isinstance(exc, StoreError):
        return f"The model could not be saved or loaded: {exc}"
    if isinstance(exc, OSError):
        return f"The trained model could not be saved ({exc.strerror or exc}). Check free disk space and that " \
               f"the models folder is writable."
    if isinstance(exc, ValueError):
        return f"These settings cannot be trained: {exc}"
    return f"Training failed ({type(exc).__name__}: {exc}). Try other settings or a smaller batch size."


def _bound_tensorflow() -> None:
    """Lower this process's priority and bound TensorFlow's threads (before TensorFlow starts its pools)."""
    try:
        os.nice(NICE)
    except OSError:
        pass  # not allowed here: run at normal priority
    env = os.environ.get(THREADS_ENV, "").strip()
    threads = int(env) if env.isdigit() and int(env) > 0 else max(1, (os.cpu_count() or 1) // jobs.max_running())
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))


def _prepare(spec: dict, path: Path, mnist):
    """The model to train, the data it trains on and the run's extra metadata; for a fine-tune also its parts."""
    from .data import Mnist
    from .models import build_model

    config = TrainConfig.from_dict(spec["config"])
    if spec.get("kind") != "finetune":
        return config, build_model(config.arch, config.activation, config.pooling), mnist, {"trained_in": spec.get(
            "owner") or "queue"}, None
    from .finetune import FinetuneConfig, copy_model, mix, run_extra, split_user
    from .store import load_model

    ft_spec = spec["finetune"]
    ft = FinetuneConfig(**ft_spec["settings"])
    with np.load(path / jobs.USER) as f:
        x, y = f["x"], f["y"].astype(int)
    split = split_user(y, ft.holdout, ft.seed)
    source = load_model(ft_spec["source"])
    x_mix, y_mix = mix(x[split.train], y[split.train], mnist, ft)
    data = Mnist(x_train=x_mix, y_train=y_mix, x_test=x[split.test], y_test=y[split.test].astype(np.int32))
    n_eval = min(int(spec.get("eval_n", 10_000)), len(mnist.x_test))
    extra = run_extra(Path(ft_spec["source"]).name, ft, split, None, None, x, y, n_eval)
    return config, copy_model(source), data, extra, {"source": source, "split": split, "x": x, "y": y}


def _predict(path: Path, model, x, done: int, total: int, what: str) -> np.ndarray:
    """Class probabilities in chunks, reporting evaluation progress after each."""
    from .infer import predict_probs

    out = []
    for i in range(0, len(x), EVAL_CHUNK):
        out.append(predict_probs(model, x[i:i + EVAL_CHUNK]))
        jobs.append_progress(path, {"type": "eval", "done": done + min(i + EVAL_CHUNK, len(x)), "total": total,
                                    "what": what})
    return np.concatenate(out) if out else np.zeros((0, 10), np.float32)


def _evaluate(path: Path, spec: dict, model, mnist, run, ft) -> dict:
    """Measure the saved model on MNIST test (and, for a fine-tune, the held-out digits before and after)."""
    from .evaluate import Evaluation
    from .store import update_meta

    n = min(int(spec.get("eval_n", 10_000)), len(mnist.x_test))
    x_t, y_t = mnist.x_test[:n], np.asarray(mnist.y_test[:n]).astype(int)
    if ft is None:
        ev = Evaluation(y_true=y_t, probs=_predict(path, model, x_t, 0, n, f"MNIST test ({n:,} images)"))
        summary = ev.summary()
        changes = {"test_accuracy": summary["accuracy"], "report": summary["report"],
                   "confusion": summary["confusion"]}
        if n < len(mnist.x_test):
            changes["test_n"] = n
        update_meta(run.path, changes)
        return {"test_accuracy": ev.accuracy}
    held = ft["split"].test
    x_u, y_u = ft["x"][held], ft["y"][held]
    total = 2 * (n + len(held))
    pb = _predict(path, ft["source"], x_u, 0, total, "the old model on your held-out digits")
    mb = _predict(path, ft["source"], x_t, len(held), total, f"the old model on MNIST test ({n:,} images)")
    pa = _predict(path, model, x_u, len(held) + n, total, "the new model on your held-out digits")
    ma = _predict(path, model, x_t, 2 * len(held) + n, total, f"the new model on MNIST test ({n:,} images)")
    acc = lambda probs, y: float(Evaluation(y_true=y, probs=probs).accuracy)  # noqa: E731
    before, after = {"user": acc(pb, y_u), "mnist": acc(mb, y_t)}, {"user": acc(pa, y_u), "mnist": acc(ma, y_t)}
    np.savez_compressed(path / "result.npz", held_out=held, probs_before=pb, probs_after=pa)
    meta_ft = {**run.meta["finetune"], "before": before, "after": after}
    changes = {"finetune": meta_ft}
    if n == len(mnist.x_test):  # MNIST test accuracy is stored only when measured on all of it, like every run
        summary = Evaluation(y_true=y_t, probs=ma).summary()
        changes.update(test_accuracy=summary["accuracy"], report=summary["report"], confusion=summary["confusion"])
    update_meta(run.path, changes)
    return {"test_accuracy": after["mnist"], "before": before, "after": after}


def run_job(path: Path) -> int:
    """Run the job in ``path`` to its end; returns a process exit status."""
    path = Path(path).resolve()
    lock = open(path / jobs.LOCK, "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 1  # another worker has this job
    spec = jobs._read_json(path / jobs.SPEC)
    if jobs._read_json(path / jobs.STATUS).get("state") not in (jobs.QUEUED, jobs.STARTING):
        return 0  # cancelled (or already run) meanwhile
    t0 = time.time()
    jobs.update_status(path, state=jobs.RUNNING, phase="Loading TensorFlow and MNIST…", pid=os.getpid(),
                       worker_started_at=t0)
    try:
        _bound_tensorflow()
        from .data import load_mnist
        from .store import save_run
        from .train import train

        mnist = load_mnist()
        config, model, data, extra, ft = _prepare(spec, path, mnist)
        stop = StopFile(path / jobs.STOP)
        reporter = Reporter(path, stop)
        n_train = len(data.x_train) if ft else jobs.train_images(config, len(data.x_train))
        every = max(1, math.ceil(n_train / config.batch_size) // POINTS_PER_EPOCH)
        jobs.update_status(path, phase="Training")
        t_train = time.perf_counter()
        startup = time.time() - t0
        stopped = False
        try:
            train(config, data, model=model, on_batch=reporter.batch, on_epoch=reporter.epoch, stop=stop,
                  report_every=every)
        except JobStopped:
            stopped = True
        seconds = time.perf_counter() - t_train
        history = list(reporter.history)
        stopped = stopped or stop.is_set()  # a stop during the last epoch's validation
        if stopped and (row := reporter.partial_row()):
            history.append(row)
        run = save_run(model, config, history=history, stopped=stopped, seconds=seconds, name=spec.get("name"),
                       root=spec["root"], extra=extra)
        saved_at = time.time()
        ips, warmup = reporter.speed()
        jobs.update_status(path, state=jobs.EVALUATING, phase="Saved; measuring it on the MNIST test images…",
                           run_path=str(run.path), saved_at=saved_at, stopped=stopped, train_seconds=seconds,
                           images_per_s=ips if not ft else None, startup_s=startup + warmup)
        t_eval = time.perf_counter()
        results = _evaluate(path, spec, model, mnist, run, ft)
        jobs.update_status(path, state=jobs.STOPPED if stopped else jobs.DONE, finished_at=time.time(),
                           eval_s=time.perf_counter() - t_eval,
                           phase="Stopped early: the model so far is saved" if stopped else "Done", **results)
        return 0
    except Exception as exc:  # shown as a message on the page, never as a traceback
        import traceback

        traceback.print_exc()  # into worker.log, for whoever looks into it
        jobs.update_status(path, state=jobs.FAILED, phase="Failed", error=friendly_error(exc),
                           finished_at=time.time())
        return 1
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
        jobs.pump(path.parent.parent)  # the next queued job starts now, whether or not a page is open


def main(argv: list[str] | None = None) -> int:
    """``python -m lenet.job_worker <job-dir>``: started by ``lenet.jobs.launch``."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m lenet.job_worker <job-dir>", file=sys.stderr)
        return 2
    return run_job(Path(argv[0]))


if __name__ == "__main__":
    sys.exit(main())
