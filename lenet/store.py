"""The model store: a folder of runs, each ``<run-id>/model.keras`` + ``model.tflite`` + ``meta.json``.

``model.keras`` is the model itself (training, fine-tuning, gradients); ``model.tflite`` is the same model for the
light serving runtime (``lenet.infer``), converted while TensorFlow is loaded anyway; ``meta.json`` records which
``model.keras`` (by sha256) the ``.tflite`` was made from, so a replaced model file is never served stale.

A run is written in a hidden temp folder and renamed into place, so a crash mid-save never leaves a run
that lists as good; single files are replaced atomically. A run whose files are unreadable is reported and
skipped, never a crash. Crash leftovers (``.tmp-*``, ``.trash-*``) older than an hour are removed.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .config import DEFAULT_MODEL_DIR, TrainConfig, models_dir

FORMAT = 1  # meta.json layout version
META, MODEL, SERVING = "meta.json", "model.keras", "model.tflite"
SERVING_FROM = "serving_from_sha256"  # meta key: sha256 of the model.keras that model.tflite was converted from
LEFTOVER_AGE_S = 3600  # hidden temp/trash folders older than this are crash leftovers, never a save in progress
DEFAULT_REF = "default"  # names the shipped model wherever a run is expected


class StoreError(RuntimeError):
    """A run is missing or unreadable; the message is meant for users."""


@dataclass(frozen=True)
class Run:
    """One stored run: its folder and its metadata."""

    path: Path
    meta: dict

    @property
    def id(self) -> str:
        return self.meta.get("id", self.path.name)

    @property
    def name(self) -> str:
        return self.meta.get("name") or self.id

    @property
    def accuracy(self) -> float | None:
        return self.meta.get("test_accuracy")

    @property
    def stopped(self) -> bool:
        return self.meta.get("status") == "stopped"

    @property
    def model_file(self) -> Path:
        return self.path / MODEL

    def card(self) -> str:
        """One line for pickers: name · architecture · params · accuracy · when."""
        acc = f"{self.accuracy * 100:.2f} %" if self.accuracy is not None else "not evaluated"
        flag = " · stopped early" if self.stopped else ""
        when = self.meta.get("created_at", "")[:16].replace("T", " ")
        return (f"{self.name} · {self.meta.get('arch', '?')} · {self.meta.get('params', 0):,} params · "
                f"MNIST test {acc} · {when}{flag}")


def config_key(config: TrainConfig) -> str:
    """A short digest of a config: equal configs (same data) give the same run, so it can be loaded instead."""
    blob = json.dumps(config.to_dict(), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _root(root: str | Path | None) -> Path:
    return Path(root) if root is not None else models_dir()


def read_run(path: str | Path) -> Run:
    """Read a run folder's metadata, checking that its files are there.

    Raises:
        StoreError: the folder is not a complete, readable run.
    """
    path = Path(path)
    try:
        meta = json.loads((path / META).read_text())
    except FileNotFoundError:
        raise StoreError(f"{path} is not a run: it has no {META}") from None
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}/{META} is unreadable ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise StoreError(f"{path}/{META} is not a LeNet Lab run (format {FORMAT} expected)")
    if not (path / MODEL).is_file():
        raise StoreError(f"{path} has no {MODEL}")
    return Run(path=path, meta=meta)


def list_runs(root: str | Path | None = None) -> tuple[list[Run], list[str]]:
    """All good runs, newest first, and a message for each folder that is not a good run.

    Hidden folders (``.tmp-*``: saves in progress or interrupted) are ignored.
    """
    root = _root(root)
    runs, problems = [], []
    if not root.is_dir():
        return runs, problems
    for path in sorted(root.iterdir()):
        if path.name.startswith((".tmp-", ".trash-")):
            _remove_if_stale(path)
        if not path.is_dir() or path.name.startswith("."):
            continue
        try:
            runs.append(read_run(path))
        except StoreError as exc:
            problems.append(str(exc))
    runs.sort(key=lambda r: r.meta.get("created_at", ""), reverse=True)
    return runs, problems


def _remove_if_stale(path: Path, max_age_s: float = LEFTOVER_AGE_S) -> None:
    """Delete a crash leftover (a temp folder of a killed save, a half-deleted run) once it is old enough that no
    save can still be writing it."""
    try:
        if time.time() - path.stat().st_mtime > max_age_s:
            shutil.rmtree(path, ignore_errors=True)
    except OSError:  # gone already (another process cleaned it), or not ours to remove
        pass


def clean_leftovers(root: str | Path | None = None, max_age_s: float = LEFTOVER_AGE_S) -> int:
    """Remove ``.tmp-*`` and ``.trash-*`` folders older than ``max_age_s`` from the store; returns how many."""
    root = _root(root)
    if not root.is_dir():
        return 0
    stale = [p for p in root.iterdir() if p.name.startswith((".tmp-", ".trash-"))]
    for p in stale:
        _remove_if_stale(p, max_age_s)
    return sum(not p.exists() for p in stale)


def model_mtime(path: str | Path) -> float:
    """The modification time of a run's ``model.keras`` (0.0 when missing): with the folder, the key of every
    per-model cache, so a replaced model is reloaded."""
    try:
        return (Path(path) / MODEL).stat().st_mtime
    except OSError:
        return 0.0


def resolve(ref: str | Path, root: str | Path | None = None) -> Path:
    """The folder of a run given by id, by ``"default"`` (the shipped model) or by a folder path.

    Raises:
        StoreError: no such run.
    """
    ref_s = str(ref)
    if ref_s == DEFAULT_REF:
        return DEFAULT_MODEL_DIR
    by_id = _root(root) / ref_s
    if re.fullmatch(r"[\w.-]+", ref_s) and (by_id / META).is_file():
        return by_id
    path = Path(ref_s).expanduser()
    if path.is_file() and path.name == MODEL:
        path = path.parent
    if (path / META).is_file():
        return path
    raise StoreError(f"no run {ref_s!r}: not a run id in {_root(root)} and not a run folder")


def load_model(ref: str | Path = DEFAULT_REF, root: str | Path | None = None):
    """Load a run's Keras model with ``safe_mode=True`` (no arbitrary code from the file).

    Raises:
        StoreError: the run is missing or its model file is corrupt.
    """
    import keras

    path = resolve(ref, root)
    model_file = path / MODEL
    if model_file.suffix != ".keras" or not model_file.is_file():
        raise StoreError(f"{path} has no {MODEL}")
    try:
        return keras.saving.load_model(model_file, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a damaged zip/h5; all mean "unusable"
        raise StoreError(f"the model file {model_file} is damaged or not a Keras model ({type(exc).__name__})"
                         ) from None


def _versions() -> dict:
    import keras
    import numpy
    import tensorflow as tf

    from . import __version__

    return {"lenet_lab": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": numpy.__version__, "python": platform.python_version()}


def _inference_copy(model):
    """The model without optimizer state: a third of the file size (the shipped model must stay ≤ 6 MB)."""
    if getattr(model, "optimizer", None) is None:
        return model
    import keras

    # clone_model() would carry the compile state over; a model rebuilt from its config has none.
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def write_json(path: Path, obj: dict) -> None:
    """Write JSON atomically (see ``_write_bytes``); the run store and the job queue both use it."""
    _write_bytes(path, json.dumps(obj, indent=1).encode())


def _write_bytes(path: Path, data: bytes) -> None:
    """Replace a file atomically: readers see the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def to_tflite(model) -> bytes:
    """A Keras model as a LiteRT flatbuffer (float32: its outputs equal Keras' to ~5e-7). Imports TensorFlow."""
    import tensorflow as tf

    # The converter goes through a SavedModel export that prints its signature to stdout; the CLI's stdout is
    # for results (--json), so keep it quiet.
    with contextlib.redirect_stdout(io.StringIO()):
        return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def serving_current(path: str | Path) -> bool:
    """Whether a run's ``model.tflite`` exists and was converted from its present ``model.keras``."""
    path = Path(path)
    try:
        meta = json.loads((path / META).read_text())
        return (path / SERVING).is_file() and meta.get(SERVING_FROM) == _sha256(path / MODEL)
    except (OSError, ValueError, AttributeError):
        return False


def serving_bytes(ref: str | Path, root: str | Path | None = None, *, rebuild: bool = False) -> bytes:
    """A run's model in the serving format (``.tflite`` bytes), converting it first when it is missing or stale.

    A run saved before serving files existed (or whose ``model.keras`` was replaced) is converted once: this
    loads Keras and TensorFlow. The result is written atomically next to ``model.keras``; a read-only store
    still gets its bytes, converted again next time.

    Args:
        ref: run id, run folder or ``"default"``.
        root: the store folder (default ``models_dir()``).
        rebuild: convert even when the file looks current (it was found unreadable).

    Raises:
        StoreError: the run is missing or its ``model.keras`` is damaged.
    """
    path = resolve(ref, root)
    run = read_run(path)
    if not rebuild and serving_current(path):
        try:
            return (path / SERVING).read_bytes()
        except OSError:
            pass
    digest = _sha256(path / MODEL)
    content = to_tflite(load_model(path))
    try:
        _write_bytes(path / SERVING, content)
        write_json(path / META, dict(run.meta, **{SERVING_FROM: digest}))
    except OSError:  # a read-only install: serve from memory
        pass
    return content


def save_run(model, config: TrainConfig, *, history: list[dict], evaluation=None, stopped: bool = False,
             seconds: float = 0.0, name: str | None = None, root: str | Path | None = None,
             dest: str | Path | None = None, extra: dict | None = None) -> Run:
    """Save a trained model as a new run, atomically.

    Args:
        model: the Keras model.
        config: its TrainConfig.
        history: per-epoch rows from ``train()``.
        evaluation: an ``Evaluation`` on the MNIST test set (accuracy, report, confusion are stored).
        stopped: whether a stop request ended training early.
        seconds: training wall time.
        name: a display name (defaults to the run id).
        root: the store folder (default ``models_dir()``).
        dest: write exactly this folder instead of ``root/<new id>`` (the shipped model); it must not exist.
        extra: more metadata (e.g. the command that trained it, a fine-tuning source).

    Returns:
        The saved ``Run``.
    """
    from .data import MNIST_DIGEST

    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_id = Path(dest).name if dest else f"{config.arch}-{stamp}-{uuid.uuid4().hex[:4]}"
    final = Path(dest) if dest else _root(root) / run_id
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        raise StoreError(f"{final} already exists")
    meta = {
        "format": FORMAT, "id": run_id, "name": name or run_id, "arch": config.arch,
        "config": config.to_dict(), "config_key": config_key(config), "history": history,
        "status": "stopped" if stopped else "complete", "train_seconds": round(seconds, 2),
        "params": int(model.count_params()), "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "versions": _versions(), "mnist_sha256_digest": MNIST_DIGEST,
    }
    if evaluation is not None:
        summary = evaluation.summary()
        meta.update(test_accuracy=summary["accuracy"], report=summary["report"], confusion=summary["confusion"])
    meta.update(extra or {})
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=final.parent))
    try:
        copy = _inference_copy(model)
        copy.save(tmp / MODEL)
        (tmp / SERVING).write_bytes(to_tflite(copy))  # the whole folder is renamed into place: atomic with it
        meta[SERVING_FROM] = _sha256(tmp / MODEL)
        write_json(tmp / META, meta)  # written last: a folder without it never lists as a run
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a run is as readable as any other project file
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Run(path=final, meta=meta)


def find_by_config(config: TrainConfig, root: str | Path | None = None) -> list[Run]:
    """Complete runs trained with exactly this config (same MNIST), newest first — "load instead of train"."""
    from .data import MNIST_DIGEST

    key = config_key(config)
    runs, _ = list_runs(root)
    return [r for r in runs if r.meta.get("config_key") == key and not r.stopped
            and r.meta.get("mnist_sha256_digest") == MNIST_DIGEST]


def delete_run(ref: str, root: str | Path | None = None) -> None:
    """Delete a stored run (never the shipped model)."""
    path = resolve(ref, root)
    if path.resolve() == DEFAULT_MODEL_DIR.resolve():
        raise StoreError("the shipped default model cannot be deleted")
    # Rename first so a half-deleted folder is hidden rather than listed as a broken run.
    trash = path.with_name(f".trash-{path.name}-{uuid.uuid4().hex[:6]}")
    os.rename(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def rename_run(ref: str, new_name: str, root: str | Path | None = None) -> Run:
    """Change a run's display name (its id and folder stay, so references keep working)."""
    run = read_run(resolve(ref, root))
    new_name = new_name.strip()
    if not new_name:
        raise StoreError("a run name cannot be empty")
    meta = dict(run.meta, name=new_name)
    write_json(run.path / META, meta)
    return Run(path=run.path, meta=meta)


def update_meta(ref: str | Path, changes: dict, root: str | Path | None = None) -> Run:
    """Merge ``changes`` into a run's metadata, atomically (e.g. its test accuracy, measured after saving)."""
    run = read_run(resolve(ref, root))
    meta = {**run.meta, **changes}
    write_json(run.path / META, meta)
    return Run(path=run.path, meta=meta)
