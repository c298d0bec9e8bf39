"""Time estimates for training jobs, made only from speeds measured on this machine by earlier jobs.

Each worker records the images/s it trained at (after the first batches, which trace the graph), the seconds it
took to start (Python, TensorFlow, MNIST, tracing) and to measure the saved model; an estimate for new settings
is built from the medians of recent jobs of the same architecture. No measurement, no estimate.
"""
from __future__ import annotations

import math

import numpy as np

from .config import TrainConfig
from .jobs import EVALUATING, RUNNING, Job


def train_images(config: TrainConfig, available: int = 60_000) -> int:
    """How many training images ``config`` uses per epoch (after the validation split and the subset)."""
    n = available - (max(1, int(available * config.val_split)) if config.validation == "split" else 0)
    return min(n, config.train_subset) if config.train_subset else n


def measured_speed(config: TrainConfig, jobs: list[Job]) -> dict | None:
    """This machine's measured training speed for ``config``'s architecture, from finished jobs.

    Prefers jobs with the same batch size (speed depends on it); each job's worker records the images/s it trained
    at, its start-up time (Python, TensorFlow, MNIST) and its evaluation time.

    Returns:
        ``{"images_per_s", "startup_s", "eval_s", "n"}`` (medians over up to 5 jobs), or None if none was measured.
    """
    done = [j for j in jobs if j.status.get("images_per_s") and j.spec["config"].get("arch") == config.arch
            and j.kind == "train"]
    same = [j for j in done if j.spec["config"].get("batch_size") == config.batch_size]
    pick = (same or done)[:5]
    if not pick:
        return None

    def median(key):
        vals = [j.status[key] for j in pick if j.status.get(key) is not None]
        return float(np.median(vals)) if vals else 0.0

    return {"images_per_s": median("images_per_s"), "startup_s": median("startup_s"), "eval_s": median("eval_s"),
            "n": len(pick), "same_batch": bool(same)}


def estimate_seconds(config: TrainConfig, speed: dict | None) -> float | None:
    """Seconds from start to saved and evaluated, from a measured speed (None if there is no measurement)."""
    if not speed or not speed.get("images_per_s"):
        return None
    return speed["startup_s"] + train_images(config) * config.epochs / speed["images_per_s"] + speed["eval_s"]


def remaining_seconds(job: Job, speed: dict | None) -> float | None:
    """Seconds until ``job`` is finished: its live ETA while training, else the estimate of a fresh run."""
    if job.state == RUNNING and job.progress.get("eta_s") is not None and math.isfinite(job.progress["eta_s"]):
        return job.progress["eta_s"] + (speed or {}).get("eval_s", 0.0)
    if job.state == EVALUATING:
        return (speed or {}).get("eval_s", 0.0)
    return estimate_seconds(job.config, speed)
