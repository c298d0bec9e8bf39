"""A synthetic "scanned sheet" of handwritten digits, for the Lab page, the CLI and the tests.

The seed study read a scanned page of 15 rows x 10 columns, digits 0-9 in order on each row. ``make_sheet`` lays
out MNIST test digits the same way and renders them as a photographed page: dark ink on off-white paper, each
digit enlarged with some size, position and slant variation, a slightly rotated page, uneven light and a shadow,
paper grain, a little blur; ``save_sheet`` writes it as a JPEG (artefacts included) with its labels file. The true
boxes come back too, for tests.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from lenet import photo

Box = tuple[int, int, int, int]  # x, y, w, h in image pixels

# Cell and margin sizes in units of the largest digit scale: at the default scale (up to 5.2) a 15 x 10 page is
# 1618 x 2536 px, an A4 page at ~200 dpi.
PITCH = (27.0, 29.0)  # cell width, height
MARGIN = (21.0, 29.0, 21.0, 23.0)  # left, top, right, bottom

# Hard photos: each a realistic distortion of the page, measured one at a time by bench/real_pages.py.
CONDITIONS = ("clean", "hard_shadow", "soft_shadow", "uneven_light", "ruled", "grid", "perspective", "rotate",
              "rotate_90", "blur_jpeg_noise", "low_res", "blue_ink", "red_ink", "pencil", "yellow_paper")
LOW_RES = 0.3  # "low_res" shrinks the page to this: digits ~25-30 px tall, a far-away phone


def make_sheet(images: np.ndarray, labels: np.ndarray, seed: int = 0, rows: int = 15, cols: int = 10, *,
               scale: tuple[float, float] = (3.8, 5.2), rotate: float | None = None, ruled: bool = False,
               specks: int = 0, shadow: bool = True,
               condition: str = "clean") -> tuple[np.ndarray, list[list[int]], list[list[Box]]]:
    """Render a page of handwritten digits.

    Args:
        images: (N, 28, 28) uint8 MNIST-style digits (white on black).
        labels: (N,) their digits.
        seed: same seed, same page.
        rows, cols: grid size; column c holds digit c % 10, each cell a different random sample of that digit.
        scale: range of the enlargement of the 28x28 digit.
        rotate: page rotation in degrees; None draws it from +-1.5.
        ruled: draw light ruled lines (one under each row, crossing the digits' feet) and a margin line.
        specks: number of dark specks of dust to scatter.
        shadow: add a soft shadow across one side of the page.
        condition: one of CONDITIONS, a hard photo to render ("clean" is the plain sample-sheet look; see
            CONDITIONS for the others). Its randomness is drawn apart, so the clean page of a seed never changes.

    Returns:
        (page, labels, boxes): page (H, W, 3) uint8 RGB; labels[r][c] the digit in row r, column c; boxes[r][c]
        its ink bounding box (x, y, w, h) in page pixels (after the page rotation, so approximate to a pixel or two).
        Labels stay in the page's reading order when the condition turns the page.

    Raises:
        ValueError: an unknown condition, or a digit with no image.
    """
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; choose from {', '.join(CONDITIONS)}")
    crng = np.random.default_rng([seed, CONDITIONS.index(condition)])
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.dtype != np.uint8:  # float 0-1 (a model's input) or 0-255
        f = images.astype(np.float32)
        images = np.clip(f * (255.0 if f.max(initial=0) <= 1.0 else 1.0) + 0.5, 0, 255).astype(np.uint8)
    labels = np.asarray(labels).astype(int).ravel()
    rng = np.random.default_rng(seed)
    unit = scale[1]
    pw, ph = (int(round(v * unit)) for v in PITCH)
    ml, mt, mr, mb = (int(round(v * unit)) for v in MARGIN)
    width, height = ml + cols * pw + mr, mt + rows * ph + mb

    by_digit = {d: np.flatnonzero(labels == d) for d in range(10)}
    need = {d: sum(1 for c in range(cols) if c % 10 == d) * rows for d in range(10)}
    picks = {}
    for d, n in need.items():
        if n and by_digit[d].size == 0:
            raise ValueError(f"no image of digit {d} given")
        if n:
            picks[d] = list(rng.choice(by_digit[d], size=n, replace=by_digit[d].size < n))

    ink = np.zeros((height, width), np.float32)
    grid_labels: list[list[int]] = []
    ink_points: list[list[np.ndarray]] = []
    for r in range(rows):
        row_l, row_b = [], []
        for c in range(cols):
            d = c % 10
            digit = images[picks[d].pop()]
            s = rng.uniform(*scale)
            cx = ml + (c + 0.5) * pw + rng.uniform(-0.07, 0.07) * pw
            cy = mt + (r + 0.5) * ph + rng.uniform(-0.06, 0.06) * ph
            pts = _stamp(ink, digit, s, rng.uniform(-6, 6), cx, cy)
            row_l.append(d)
            row_b.append(pts)
        grid_labels.append(row_l)
        ink_points.append(row_b)

    paper = np.array([0.93, 0.915, 0.87], np.float32) + rng.uniform(-0.02, 0.02, 3).astype(np.float32)
    if condition == "yellow_paper":
        paper = np.array(photo.YELLOW_PAPER, np.float32) + crng.uniform(-0.03, 0.03, 3).astype(np.float32)
    # Slow fields (blotchy paper, light) are drawn at 1/4 size and enlarged: same look, a fraction of the time.
    sh, sw = max(2, height // 4), max(2, width // 4)
    blotch = cv2.GaussianBlur(rng.standard_normal((sh, sw), dtype=np.float32), (0, 0), 0.6 * unit)
    blotch *= 0.012 / (float(blotch.std()) + 1e-6)
    slow = cv2.resize((1.0 + blotch) * _lighting(rng, sh, sw, shadow) * 255.0, (width, height),
                      interpolation=cv2.INTER_LINEAR)
    shade = slow * (1.0 + 0.01 * rng.standard_normal((height, width), dtype=np.float32))
    light = {"hard_shadow": photo.hard_shadow, "soft_shadow": photo.soft_shadow,
             "uneven_light": photo.uneven_light}.get(condition)
    if light is not None:
        shade *= light(crng, height, width)
    line = None
    if ruled:
        line = np.zeros((height, width), np.float32)
        for r in range(rows):
            y = int(mt + (r + 0.5) * ph + 0.3 * ph)
            cv2.line(line, (0, y), (width - 1, y), 0.45, 2, cv2.LINE_AA)
        cv2.line(line, (ml * 3 // 4, 0), (ml * 3 // 4, height - 1), 0.45, 2, cv2.LINE_AA)
    if condition == "ruled":  # an exercise book: lines twice per row, crossing the digits' feet and middles
        line = np.zeros((height, width), np.float32)
        t = max(2, int(round(0.4 * unit)))
        for y in np.arange(mt + 0.8 * ph, height, ph / 2):
            cv2.line(line, (0, int(y)), (width - 1, int(y)), 0.6, t, cv2.LINE_AA)
        cv2.line(line, (ml * 3 // 4, 0), (ml * 3 // 4, height - 1), 0.6, t, cv2.LINE_AA)
    if condition == "grid":  # a printed form: a box around every digit
        line = np.zeros((height, width), np.float32)
        t = max(2, int(round(0.5 * unit)))
        for r in range(rows + 1):
            cv2.line(line, (ml, mt + r * ph), (ml + cols * pw, mt + r * ph), 0.8, t, cv2.LINE_AA)
        for c in range(cols + 1):
            cv2.line(line, (ml + c * pw, mt), (ml + c * pw, mt + rows * ph), 0.8, t, cv2.LINE_AA)
    if specks:
        dots = np.zeros((height, width), np.float32)
        for _ in range(specks):
            cv2.circle(dots, (int(rng.integers(width // 40, width - width // 40)),
                              int(rng.integers(height // 40, height - height // 40))),
                       int(rng.integers(1, 4)), float(rng.uniform(0.4, 0.9)), -1, cv2.LINE_AA)
        ink = np.maximum(ink, dots)
    ink_rgb = np.array([0.13, 0.14, 0.3], np.float32) + rng.uniform(-0.05, 0.05, 3).astype(np.float32)
    blue = np.array([0.55, 0.68, 0.9], np.float32)  # ruled lines
    if condition == "grid":
        blue = np.array([0.25, 0.25, 0.28], np.float32)  # printed in black
    a = np.clip(ink * 1.25, 0, 1)
    if condition in photo.INKS:
        ink_rgb = np.array(photo.INKS[condition], np.float32) + crng.uniform(-0.04, 0.04, 3).astype(np.float32)
    if condition == "pencil":  # graphite: lighter, and grainy along the stroke
        a *= 0.8 + 0.2 * crng.random((height, width), dtype=np.float32)
    channels = []
    for ch in range(3):
        refl = np.full((height, width), paper[ch], np.float32)
        if line is not None:
            refl *= 1.0 - line * (1.0 - blue[ch])
        refl += (ink_rgb[ch] - refl) * a
        channels.append(refl * shade)
    page = cv2.merge(channels)

    angle = float(rng.uniform(-1.5, 1.5)) if rotate is None else float(rotate)
    if condition == "rotate":
        angle = float(crng.choice([-1, 1]) * crng.uniform(4, 8))
    m = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    page = cv2.warpAffine(page, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    page, m = _finish(page, np.vstack([m, [0, 0, 1]]), condition, rng, crng)
    h_out, w_out = page.shape[:2]
    boxes = [[photo.map_box(b, m, w_out, h_out) for b in row] for row in ink_points]
    return page, grid_labels, boxes


def save_sheet(path_jpg: str | Path, labels_path: str | Path, page: np.ndarray, labels: list[list[int]],
               quality: int = 80) -> None:
    """Write a page (from make_sheet) as a JPEG, which adds a scan's compression artefacts, and its labels file
    (one line per row of digits, e.g. "0123456789"). Parent folders are created."""
    path_jpg, labels_path = Path(path_jpg), Path(labels_path)
    path_jpg.parent.mkdir(parents=True, exist_ok=True)
    labels_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(page, np.uint8)).save(path_jpg, "JPEG", quality=quality)
    labels_path.write_text(format_labels(labels))


def format_labels(grid: list[list[int]]) -> str:
    """[[0, 1, ...], ...] -> "01...\\n...\\n": one line per row of digits."""
    return "".join("".join(str(d) for d in row) + "\n" for row in grid)


def load_labels(path: str | Path) -> list[list[int]]:
    """Read a labels file (one line per row of digits; blank lines and spaces ignored)."""
    rows = []
    for line in Path(path).read_text().splitlines():
        digits = [ch for ch in line if not ch.isspace()]
        if not digits:
            continue
        if not all(ch.isdigit() for ch in digits):
            raise ValueError(f"labels file {Path(path).name}: non-digit in line {line!r}")
        rows.append([int(ch) for ch in digits])
    return rows


def _stamp(ink: np.ndarray, digit: np.ndarray, s: float, angle: float, cx: float, cy: float) -> np.ndarray:
    """Draw a 28x28 digit enlarged by s and slanted by angle, centred at (cx, cy), into ink (max).

    Returns its ink pixels' centres as (n, 2) float64 x, y (page coordinates)."""
    side = int(np.ceil(28 * s * 1.15))
    m = cv2.getRotationMatrix2D((14.0, 14.0), angle, s)
    m[:, 2] += (side / 2 - 14.0, side / 2 - 14.0)
    patch = cv2.warpAffine(digit.astype(np.float32) / 255.0, m, (side, side), flags=cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    patch = np.clip(patch, 0, 1)
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    h, w = ink.shape
    ys, xs = slice(max(0, y0), min(h, y0 + side)), slice(max(0, x0), min(w, x0 + side))
    sub = patch[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
    np.maximum(ink[ys, xs], sub, out=ink[ys, xs])
    yy, xx = np.nonzero(sub > 0.25)
    if yy.size == 0:
        return np.array([[cx, cy]], np.float64)
    return np.stack([xs.start + xx + 0.5, ys.start + yy + 0.5], axis=1).astype(np.float64)


def _lighting(rng: np.random.Generator, h: int, w: int, shadow: bool) -> np.ndarray:
    """(h, w) float32 illumination: a gradient, a vignette and optionally a soft shadow over one side."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = xx / w - 0.5, yy / h - 0.5
    theta = rng.uniform(0, 2 * np.pi)
    light = 1.0 - rng.uniform(0.12, 0.22) * (np.cos(theta) * u + np.sin(theta) * v + 0.5)
    light *= 1.0 - 0.12 * (u ** 2 + v ** 2) * 2
    if shadow:
        phi = rng.uniform(0, 2 * np.pi)
        d = np.cos(phi) * u + np.sin(phi) * v - rng.uniform(0.15, 0.3)  # > 0 inside the shadow
        soft = rng.uniform(0.03, 0.06)
        light *= 1.0 - rng.uniform(0.25, 0.35) / (1.0 + np.exp(-d / soft))
    return light.astype(np.float32)


def _finish(page: np.ndarray, m: np.ndarray, condition: str, rng: np.random.Generator,
            crng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The camera's part: the condition's geometry (table and perspective, a quarter turn, low resolution), then
    blur, noise and, for "blur_jpeg_noise", heavy JPEG. (H, W, 3) float32 0-255 and the page -> image map m in,
    (H', W', 3) uint8 RGB and the updated m out."""
    if condition == "perspective":
        page, mp = photo.on_table(crng, page)
        m = mp @ m
    sigma, noise = (2.2, 7.0) if condition == "blur_jpeg_noise" else (0.8, 2.0)
    page = cv2.GaussianBlur(page, (0, 0), sigma)
    page += noise * rng.standard_normal(page.shape[:2], dtype=np.float32)[:, :, None]  # sensor noise
    page = np.clip(page + 0.5, 0, 255).astype(np.uint8)
    if condition == "rotate_90":
        page, mt = photo.turn_90(page, int(crng.choice([1, 3])))
        m = mt @ m
    if condition == "low_res":
        page, ms = photo.shrink(page, LOW_RES)
        m = ms @ m
    if condition == "blur_jpeg_noise":
        page = photo.jpeg(page, int(crng.integers(25, 40)))
    return page, m
