"""The bad-input zoo (issue "Quality gates"): every kind of file a phone user may upload, written to a folder.

Shared by the CLI tests, the app tests and the browser tests so that all three face the same files.
Each entry says what must happen: ``"error"`` (a clear message, nothing else breaks), ``"blank"`` (no digit
found, said plainly) or a digit the shipped model must read.
"""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(side: int = 30000) -> bytes:
    """A real, valid 1-bit side×side PNG (all black): ~110 kB on disk, 900 MP once decoded."""
    row = b"\0" + b"\0" * ((side + 7) // 8)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def _scan(digit28: np.ndarray, side: int = 160) -> np.ndarray:
    """An MNIST digit as a dark-on-light scan: (side+80)² uint8."""
    big = cv2.resize(np.asarray(digit28), (side, side), interpolation=cv2.INTER_CUBIC)
    return np.pad(255 - big, 40, constant_values=250)


def write_zoo(folder: Path, mnist_test: tuple[np.ndarray, np.ndarray]) -> dict[str, object]:
    """Write every bad/odd input into ``folder``.

    Args:
        folder: where to write.
        mnist_test: (images, labels) to draw real digits from.

    Returns:
        file name -> expectation: "error", "blank", or the int digit a good model reads.
    """
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = mnist_test
    pick = {int(d): int(np.flatnonzero(labels == d)[0]) for d in range(10)}
    scan = {d: _scan(images[i]) for d, i in pick.items()}
    out: dict[str, object] = {}

    def put(name: str, data: bytes, expect) -> None:
        (folder / name).write_bytes(data)
        out[name] = expect

    put("notes.png", b"Meeting notes: buy milk.\n" * 20, "error")
    good_png = _encode(Image.fromarray(scan[3]), "PNG")
    put("truncated.png", good_png[: len(good_png) // 2], "error")
    put("empty.png", b"", "error")
    put("bomb.png", bomb_png(), "error")
    put("sixteen_bit.png", _encode(Image.fromarray(scan[2].astype(np.uint16) * 257), "PNG"), 2)
    cmyk = Image.fromarray(np.dstack([scan[4]] * 3)).convert("CMYK")
    put("cmyk.jpg", _encode(cmyk, "JPEG", quality=95), 4)
    ink = 255 - scan[5]
    rgba = np.dstack([np.zeros_like(ink)] * 3 + [ink])  # black ink, alpha = ink, transparent paper
    put("transparent.png", _encode(Image.fromarray(rgba, "RGBA"), "PNG"), 5)
    frames = [Image.fromarray(scan[6]).convert("P"), Image.fromarray(scan[1]).convert("P")]
    put("animated.gif", _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0), 6)
    pages = [Image.fromarray(scan[7]), Image.fromarray(scan[0])]
    put("multipage.tif", _encode(pages[0], "TIFF", save_all=True, append_images=pages[1:]), 7)
    put("all_black.png", _encode(Image.fromarray(np.zeros((200, 200), np.uint8)), "PNG"), "blank")
    put("all_white.png", _encode(Image.fromarray(np.full((200, 200), 255, np.uint8)), "PNG"), "blank")
    put("photo_4000x3000.jpg", _encode(Image.fromarray(phone_photo(images[pick[8]])), "JPEG", quality=90), 8)
    return out


def phone_photo(digit28: np.ndarray, w: int = 4000, h: int = 3000, seed: int = 0) -> np.ndarray:
    """A 12 MP RGB 'photo' of one digit on paper: lighting gradient, a shadow, sensor noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 215 + 30 * (xx / w) - 25 * (yy / h)
    light -= 45 * np.exp(-(((xx - 0.8 * w) / (0.25 * w)) ** 2 + ((yy - 0.2 * h) / (0.3 * h)) ** 2))
    side = 1400
    big = cv2.resize(np.asarray(digit28), (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    page = light.copy()
    y0, x0 = (h - side) // 2, (w - side) // 2
    page[y0:y0 + side, x0:x0 + side] *= 1 - 0.8 * big
    page += rng.normal(0, 4, page.shape).astype(np.float32)
    g = np.clip(page, 0, 255).astype(np.uint8)
    return np.dstack([g, np.clip(g * 0.97, 0, 255).astype(np.uint8), np.clip(g * 0.92, 0, 255).astype(np.uint8)])
