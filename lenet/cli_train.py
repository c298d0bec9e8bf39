"""The CLI's ``train`` command, and the progress display shared by its long commands (data, train, make-sheet)."""
from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

from . import config as cfgmod
from .config import TrainConfig


def progress_bar(frac: float, text: str, width: int = 30) -> None:
    """A one-line progress bar on stderr (stdout stays clean for --json and scripts)."""
    full = int(round(frac * width))
    sys.stderr.write(f"\r[{'#' * full}{'.' * (width - full)}] {frac * 100:5.1f}% {text}\033[K")
    sys.stderr.flush()


def data_progress(done: int, total: int, message: str) -> None:
    if total:
        progress_bar(done / total, message)
    else:
        sys.stderr.write(f"\r{message}\033[K")
    sys.stderr.flush()


def load_data(idx_dir=None):
    from .data import load_mnist

    data = load_mnist(idx_dir=idx_dir, progress=data_progress)
    sys.stderr.write("\n")
    return data


def eta_text(seconds: float) -> str:
    if seconds == float("inf"):
        return "?"
    m, s = divmod(int(seconds), 60)
    return f"{m}:{s:02d}"


# ---------------------------------------------------------------- train
_OVERRIDES = {  # CLI option -> TrainConfig field
    "arch": "arch", "activation": "activation", "pooling": "pooling", "optimizer": "optimizer", "lr": "lr",
    "momentum": "momentum", "nesterov": "nesterov", "weight_decay": "weight_decay", "schedule": "schedule",
    "batch_size": "batch_size", "epochs": "epochs", "label_smoothing": "label_smoothing",
    "validation": "validation", "val_split": "val_split", "subset": "train_subset", "seed": "seed",
}
_AUG = ("rotation", "shift", "zoom", "thickness", *cfgmod.LATER_AUGMENT_KEYS)


def config_from_args(args) -> TrainConfig:
    """A preset (or the defaults) with every option the user gave applied on top."""
    cfg = cfgmod.preset(args.preset) if args.preset else TrainConfig()
    changes = {field: getattr(args, opt) for opt, field in _OVERRIDES.items() if getattr(args, opt) is not None}
    aug = {k: getattr(args, k) for k in _AUG if getattr(args, k) is not None}
    if aug:
        changes["augment"] = cfgmod.Augment(**{**cfg.augment.__dict__, **aug})
    return cfg.replace(**changes)


def cmd_train(args) -> int:
    config = config_from_args(args)
    if args.queue:
        return _train_queued(config, args)
    from .train import train_evaluate_save

    data = load_data(args.idx_dir)
    print(f"training {config.arch} for {config.epochs} epochs: {json.dumps(config.to_dict())}", file=sys.stderr)

    def on_batch(p):
        progress_bar(p.fraction, f"epoch {p.epoch + 1}/{p.epochs} loss {p.loss:.4f} acc {p.accuracy:.4f} "
                         f"{p.images_per_s:,.0f} img/s ETA {eta_text(p.eta_s)}")

    def on_epoch(row):
        val = f" val_loss {row['val_loss']:.4f} val_acc {row['val_accuracy']:.4f}" if "val_loss" in row else ""
        sys.stderr.write(f"\repoch {row['epoch']}: loss {row['loss']:.4f} acc {row['accuracy']:.4f}{val} "
                         f"({row['seconds']:.1f} s)\033[K\n")

    command = "python -m lenet " + shlex.join(args.argv)
    extra, start = {"command": command}, None
    if args.init:
        # Fine-tuning: go on from a stored run's weights; its own recipe is recorded so the chain stays traceable.
        from .store import load_model, read_run, resolve

        init_path = resolve(args.init, args.models_dir)
        init, start = read_run(init_path), load_model(init_path)
        extra["init"] = {k: init.meta.get(k) for k in ("id", "name", "config", "config_key", "command")}
        extra["init"]["test_accuracy"] = init.accuracy
    result, evaluation, run = train_evaluate_save(
        config, data, name=args.name, root=args.models_dir, dest=args.out, extra=extra,
        on_batch=on_batch, on_epoch=on_epoch, model=start)
    status = "stopped" if result.stopped else "complete"
    print(f"saved run {run.id} ({status}, {result.seconds:.1f} s training) in {run.path}")
    print(f"test accuracy: {evaluation.accuracy:.4f}")
    return 0


def _train_queued(config: TrainConfig, args) -> int:
    """``train --queue``: a job in the store's queue, shown on every app's Train page; Ctrl-C stops it (saved)."""
    import getpass

    from . import jobs

    if args.out:
        raise ValueError("--out cannot be used with --queue (queued runs go to the store)")
    job = jobs.submit(config, name=args.name, root=args.models_dir, owner=f"cli:{getpass.getuser()}")
    print(f"queued job {job.id} in {job.path.parent}", file=sys.stderr)
    try:
        while not (job := jobs.read_job(job.path)).finished:
            p = job.progress
            if job.state == "running" and p:
                progress_bar(job.fraction, f"epoch {p['epoch'] + 1}/{p['epochs']} loss {p['loss']:.4f} acc "
                                   f"{p['accuracy']:.4f} {p['images_per_s']:,.0f} img/s ETA {eta_text(p['eta_s'] or 0)}")
            elif job.state == "evaluating" and job.evaluation.get("total"):
                ev = job.evaluation
                progress_bar(ev["done"] / ev["total"], f"saved; measuring on {ev['what']}")
            else:
                progress_bar(0.0, job.status.get("phase", job.state))
            time.sleep(1.0)
            jobs.pump(args.models_dir)
    except KeyboardInterrupt:
        jobs.request_stop(job.path)
        print("\nstopping: the model as it stands is saved, then measured", file=sys.stderr)
        while not (job := jobs.read_job(job.path)).finished:
            time.sleep(0.5)
    sys.stderr.write("\n")
    if job.state in ("failed", "cancelled"):
        print(f"error: {job.status.get('error') or job.status.get('phase')}", file=sys.stderr)
        return 1
    print(f"saved run {Path(job.run_path).name} ({job.state}, {job.status.get('train_seconds', 0):.1f} s training) "
          f"in {job.run_path}")
    print(f"test accuracy: {job.status.get('test_accuracy', float('nan')):.4f}")
    return 0
