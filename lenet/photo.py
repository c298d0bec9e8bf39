"""Photo effects for generated pages: what a phone or a scanner does to a sheet of handwriting.

Used by ``sheet.make_sheet`` to render its hard conditions. Light fields are (H, W) float32 factors that multiply
the page's reflectance; geometric effects return the image and a 3x3 matrix that maps page points to image points,
so the true boxes of the digits follow. All functions are pure and take their randomness from ``rng``.
"""
from __future__ import annotations

import cv2
import numpy as np

# Ink and paper colours (RGB reflectance, 0-1) as they look in a photo.
INKS = {
    "blue_ink": (0.12, 0.22, 0.62),
    "red_ink": (0.72, 0.14, 0.14),
    "pencil": (0.42, 0.42, 0.45),
}
YELLOW_PAPER = (0.96, 0.88, 0.52)  # a sticky note
TABLE = (0.33, 0.24, 0.17)  # a wooden desk, darker than any paper


def hard_shadow(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A sharp-edged shadow (a hand or a phone held over the page) over a third to a half of it: (H, W) float32
    light factor, 0.45-0.6 inside the shadow, 1 outside, its wavy edge a few px wide."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = xx / w - 0.5, yy / h - 0.5
    phi = rng.uniform(0, 2 * np.pi)
    along = -np.sin(phi) * u + np.cos(phi) * v
    d = np.cos(phi) * u + np.sin(phi) * v - rng.uniform(0.0, 0.15) \
        + 0.04 * np.sin(along * rng.uniform(4, 9) + rng.uniform(0, 2 * np.pi))
    mask = cv2.GaussianBlur((d > 0).astype(np.float32), (0, 0), max(1.0, 0.002 * max(h, w)))
    return (1.0 - rng.uniform(0.4, 0.55) * mask).astype(np.float32)


def soft_shadow(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A broad shadow fading in over a fifth of the page: (H, W) float32, down to ~0.45 on the dark side."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = xx / w - 0.5, yy / h - 0.5
    phi = rng.uniform(0, 2 * np.pi)
    d = np.cos(phi) * u + np.sin(phi) * v - rng.uniform(-0.1, 0.1)
    return (1.0 - rng.uniform(0.45, 0.55) / (1.0 + np.exp(-d / rng.uniform(0.08, 0.12)))).astype(np.float32)


def uneven_light(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A lamp to one side and a lens's vignette: (H, W) float32, from ~1 at the bright spot to ~0.45 in the far
    corner."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = xx / w - 0.5, yy / h - 0.5
    cx, cy = rng.uniform(-0.4, 0.4, 2)
    spot = 1.0 - rng.uniform(0.35, 0.45) * np.clip(np.hypot(u - cx, v - cy) / 0.9, 0, 1) ** 1.5
    vignette = 1.0 - rng.uniform(0.2, 0.3) * (u ** 2 + v ** 2) * 2
    return (spot * vignette).astype(np.float32)


def on_table(rng: np.random.Generator, page: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Photograph the page from an angle, lying on a wooden table that frames it.

    Args:
        page: (H, W, 3) float32 0-255.

    Returns:
        (photo, m): (H', W', 3) float32 photo, a quarter bigger than the page each way; m (3, 3) page -> photo.
    """
    h, w = page.shape[:2]
    H, W = int(h * 1.3), int(w * 1.3)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    base = np.float32([[0.12 * W, 0.1 * H], [0.88 * W, 0.1 * H], [0.9 * W, 0.9 * H], [0.1 * W, 0.9 * H]])
    # Keystone: the far edge (top) is shorter, as when the phone is tilted; plus a little jitter and a turn.
    squeeze = rng.uniform(0.04, 0.09) * W
    base[0, 0] += squeeze
    base[1, 0] -= squeeze
    dst = (base + rng.uniform(-0.025, 0.025, (4, 2)) * [W, H]).astype(np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    grain = cv2.resize(rng.standard_normal((max(2, H // 40), max(2, W // 4)), dtype=np.float32), (W, H),
                       interpolation=cv2.INTER_LINEAR)  # long streaks along the wood
    table = np.stack([c * 255.0 * (1.0 + 0.12 * grain) for c in TABLE], axis=2).astype(np.float32)
    warped = cv2.warpPerspective(page, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=(0, 0, 0))
    cover = cv2.warpPerspective(np.ones((h, w), np.float32), m, (W, H), flags=cv2.INTER_LINEAR)[:, :, None]
    return warped + table * (1.0 - cover), m


def turn_90(img: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Turn an image by k x 90 degrees counter-clockwise: (image, m) with m (3, 3) the map of points."""
    h, w = img.shape[:2]
    k %= 4
    m = {0: np.eye(3), 1: np.array([[0, 1, 0], [-1, 0, w], [0, 0, 1]]), 2: np.array([[-1, 0, w], [0, -1, h], [0, 0, 1]]),
         3: np.array([[0, -1, h], [1, 0, 0], [0, 0, 1]])}[k].astype(np.float64)
    return np.ascontiguousarray(np.rot90(img, k)), m


def shrink(img: np.ndarray, f: float) -> tuple[np.ndarray, np.ndarray]:
    """A low-resolution camera: the image resized by f < 1 (area averaging). Returns (image, m)."""
    h, w = img.shape[:2]
    size = (max(1, round(w * f)), max(1, round(h * f)))
    out = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    return out, np.diag([size[0] / w, size[1] / h, 1.0])


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB through a JPEG round trip at the given quality (block artefacts, colour bleeding)."""
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].copy() if ok else img


def map_box(pts: np.ndarray, m: np.ndarray, w: int, h: int) -> tuple[int, int, int, int]:
    """Bounding box (x, y, w, h) of points (n, 2) after the 3x3 map m, clipped to a (w, h) image."""
    q = cv2.perspectiveTransform(pts.reshape(-1, 1, 2).astype(np.float64), m.astype(np.float64))[:, 0]
    x0, y0 = np.floor(q.min(0)).astype(int)
    x1, y1 = np.ceil(q.max(0)).astype(int)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    return int(x0), int(y0), int(max(1, x1 - x0)), int(max(1, y1 - y0))
