"""Pages as people photograph and scan them: find the sheet, flatten it, even out its light, turn it upright and
read its digits.

``read_page`` is the reader behind the CLI's ``read-sheet`` and the Upload page. Every step returns its image
(``PageReading.stages``) so the app can show photo -> page found -> flattened -> light evened -> ink -> boxes.
A single digit is a page with one box.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from lenet import preprocess as pp
from lenet import segment
from lenet.grid import read_grid
from lenet.io import to_grey
from lenet.light import even_light
from lenet.touching import split_touching

DOUBT_CONFIDENCE = 0.7  # a digit read with less confidence than this is marked doubtful
DEFAULT_STYLE = pp.DEFAULT_STYLE
DEFAULT_PAD_SCALE = pp.DEFAULT_PAD_SCALE
FIND_SIDE = 480  # the page is looked for on a copy this big
MAX_PAGE_SIDE = 1600  # the flattened page is kept at most this big (segment works at 1600 px anyway)
MIN_PAGE_AREA = 0.08  # a "page" smaller than this fraction of the photo is a bright object, not the sheet
PAGE_CONTRAST = 0.72  # the table around a page is darker than this fraction of the page
RIM = 0.025  # a found page's outer band (fraction of its shorter side): its rim, never a whole digit
PAGE_INSET = 0.01  # the found corners are pulled in by this fraction so no sliver of table stays on the page
DESKEW_RANGE = (3.0, 20.0)  # rows tilted by this many degrees are levelled (less: the rows and the model cope)
ASPECT_DOUBT = 0.15  # digits' median height/width within 1 +- this: the boxes cannot tell upright from sideways
ORIENT_MARGIN = 0.15  # a turn must raise the mean log-confidence by this much to beat "as stored"
SHEET_MIN_DIGITS = 3  # several digit-like blobs make a sheet


@dataclass
class PageReading:
    """What ``read_page`` found.

    Attributes:
        rows: digit rows in reading order; dicts as from ``segment.read_sheet`` plus ``doubtful`` (bool), boxes in
            the pixels of ``page``.
        stages: ordered name -> image: "photo", "page found", "flattened", "light evened", "ink", "boxes".
        orientation: degrees the flattened page was turned counter-clockwise to read it upright (0/90/180/270).
        is_sheet: several digit-like blobs (False: a single digit, or nothing).
        grid: (rows, cols) when the digits were read from the cells of a grid, else None.
        page: (H, W) uint8, the flattened, light-evened, upright page the boxes refer to (for a form read
            cell by cell: the photo's grey, turned upright).
    """

    rows: list[list[dict]]
    stages: dict[str, np.ndarray] = field(default_factory=dict)
    orientation: int = 0
    is_sheet: bool = False
    grid: tuple[int, int] | None = None
    page: np.ndarray | None = None


def read_page(image: np.ndarray, classify: segment.Classifier, style: str = DEFAULT_STYLE,
              pad_scale: float = DEFAULT_PAD_SCALE) -> PageReading:
    """Read every digit on a photo or scan of a page, in reading order.

    Args:
        image: (H, W, 3) uint8 RGB photo or scan (colour helps: yellow paper, blue ink), or (H, W) grey.
        classify: (N, 28, 28) float32 in [0, 1] -> (N, 10) probabilities.
        style, pad_scale: preprocessing style for each digit (see ``preprocess.preprocess``).

    Returns:
        PageReading with the rows, every stage's image, the orientation found and the upright page.
    """
    rgb = to_rgb(image)
    stages: dict[str, np.ndarray] = {"photo": rgb}
    quad = find_page(rgb)
    stages["page found"] = draw_quad(rgb, quad)
    flat = flatten(rgb, quad)
    stages["flattened"] = flat
    even = even_light(flat)
    stages["light evened"] = even
    page, turn, read, ink = _upright(even, classify, style, pad_scale)
    if quad is not None:
        read = _without_rim(read, page.shape)
    # A form (a sudoku, a row of boxes) is read cell by cell, in the order of its cells (``lenet.grid``).
    grid = None
    # The grid reader finds and flattens the grid itself and cleans each cell, and does best on the photo as
    # taken (dev-set sudoku cells 96.3 % from the photo, 93.4 % from the flattened page): it gets the photo's
    # grey turned like the page, which is then the page its boxes refer to. A lone digit is no form.
    if _count_digits(read) >= 2:
        photo_up = np.ascontiguousarray(np.rot90(to_grey(rgb), turn // 90))
        cells = read_grid(photo_up, classify, style, pad_scale)
        if cells and _count_digits(cells) >= 2:
            read, grid, page = cells, (len(cells), len(cells[0])), photo_up
    for row in read:
        for d in row:
            d["doubtful"] = bool(not d["empty"] and d["confidence"] < DOUBT_CONFIDENCE)
    stages["ink"] = np.where(ink, 0, 255).astype(np.uint8)
    stages["boxes"] = draw_boxes(page, read)
    return PageReading(rows=read, stages=stages, orientation=turn, is_sheet=_count_digits(read) >= SHEET_MIN_DIGITS,
                       grid=grid, page=page)


# ---------------------------------------------------------------------------------------------------- the page
def to_rgb(image: np.ndarray) -> np.ndarray:
    """Any image array (grey, RGB, RGBA, float...) -> (H, W, 3) uint8 RGB."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 3 and a.dtype == np.uint8:
        return a
    if a.ndim == 3 and a.shape[2] == 4 and a.dtype == np.uint8 and a[:, :, 3].min() == 255:
        return np.ascontiguousarray(a[:, :, :3])
    g = to_grey(a)
    return np.repeat(g[:, :, None], 3, axis=2)


def find_page(rgb: np.ndarray) -> np.ndarray | None:
    """Find the sheet in a photo: the largest bright quadrilateral against a darker table.

    Args:
        rgb: (H, W, 3) uint8.

    Returns:
        (4, 2) float32 corners (top-left, top-right, bottom-right, bottom-left) in rgb's pixels, or None when no
        convincing page is found (a scan, a tight crop, a photo of paper only).
    """
    h, w = rgb.shape[:2]
    f = min(1.0, FIND_SIDE / max(h, w))
    small = cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA) \
        if f < 1 else rgb
    v = cv2.GaussianBlur(small.max(axis=2), (5, 5), 0)  # brightness: yellow paper is as bright as white
    otsu, _ = cv2.threshold(v, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # A lit patch of table can join the page at Otsu's level, and a shadow can cut it at a higher one: try a few
    # levels and keep the largest region that is a clean quadrilateral on a darker ground.
    found = [q for t in np.linspace(otsu, max(otsu, float(np.percentile(v, 97)) - 10), 9)
             if (q := _page_at(v, t)) is not None]
    if not found:
        return None
    # Of the regions nearly as big as the biggest (not a page cut short by a shadow), the most quadrilateral.
    biggest = max(area for _, area, _ in found)
    quad = max((f for f in found if f[1] >= 0.6 * biggest), key=lambda f: f[2])[0]
    centre = quad.mean(axis=0)
    quad = centre + (quad - centre) * (1 - 2 * PAGE_INSET)
    return (quad / f).astype(np.float32)


def flatten(rgb: np.ndarray, quad: np.ndarray | None) -> np.ndarray:
    """Warp the page inside ``quad`` to a flat rectangle (sides from the quad's side lengths).

    Args:
        rgb: (H, W, 3) uint8.
        quad: (4, 2) corners from ``find_page``, or None for the whole image.

    Returns:
        (h, w, 3) uint8, longer side at most MAX_PAGE_SIDE.
    """
    if quad is None:
        h, w = rgb.shape[:2]
        f = min(1.0, MAX_PAGE_SIDE / max(h, w))
        return rgb if f >= 1 else cv2.resize(rgb, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    tl, tr, br, bl = quad
    out_w = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
    out_h = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
    f = min(1.0, MAX_PAGE_SIDE / max(out_w, out_h))
    ow, oh = max(8, int(round(out_w * f))), max(8, int(round(out_h * f)))
    dst = np.float32([[0, 0], [ow - 1, 0], [ow - 1, oh - 1], [0, oh - 1]])
    m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    return cv2.warpPerspective(rgb, m, (ow, oh), flags=cv2.INTER_AREA if f < 0.7 else cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def _upright(even: np.ndarray, classify: segment.Classifier, style: str, pad_scale: float
             ) -> tuple[np.ndarray, int, list[list[dict]], np.ndarray]:
    """Turn the page so its digits stand upright and read it: (page, turn, rows read, ink mask).

    Digits are taller than wide, so the boxes' shape tells upright (0/180) from sideways (90/270) pages; the model
    tells a page from its upside-down self, and decides the axis too when the boxes' shape cannot.
    """
    rows, ink = segment.find_digits_and_ink(even, polarity=pp.DARK_ON_LIGHT)
    boxes = np.array([b for row in rows for b in row], np.float64).reshape(-1, 4)
    if len(boxes) < SHEET_MIN_DIGITS:
        return even, 0, _read(even, rows, classify, style, pad_scale), ink
    tall = float(np.median(boxes[:, 3]) / max(np.median(boxes[:, 2]), 1.0))
    bases = [0] if tall > 1 + ASPECT_DOUBT else [90] if tall < 1 - ASPECT_DOUBT else [0, 90]
    scores = {}
    for base in bases:
        page = even if base == 0 else np.ascontiguousarray(np.rot90(even, 1))
        if base:
            rows, ink = segment.find_digits_and_ink(page, polarity=pp.DARK_ON_LIGHT)
        page, rows, ink = _deskew(page, rows, ink)
        read = _read(page, rows, classify, style, pad_scale)
        s_as_is, s_turned = _confidence(read, classify)
        scores[base] = (s_as_is, page, read, ink)
        scores[base + 180] = (s_turned, page, read, ink)
    turn = max(scores, key=lambda t: scores[t][0])
    if 0 in scores and scores[turn][0] < scores[0][0] + ORIENT_MARGIN:
        turn = 0  # as stored, unless a turn reads clearly better
    _, page, read, ink = scores[turn]
    if turn >= 180:  # read again the right way up: boxes and rows are found on the turned page
        page = np.ascontiguousarray(np.rot90(page, 2))
        rows, ink = segment.find_digits_and_ink(page, polarity=pp.DARK_ON_LIGHT)
        read = _read(page, rows, classify, style, pad_scale)
    return page, turn, read, ink


def _deskew(page: np.ndarray, rows: list[list[segment.Box]], ink: np.ndarray
            ) -> tuple[np.ndarray, list[list[segment.Box]], np.ndarray]:
    """Level a page whose rows are tilted by a few degrees (a scan fed askew, a photo taken at a slant), so the
    digits stand upright in their crops; the digits are found again on the levelled page."""
    angle = np.degrees(segment.tilt([b for row in rows for b in row]))
    if not DESKEW_RANGE[0] <= abs(angle) <= DESKEW_RANGE[1]:
        return page, rows, ink
    h, w = page.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), float(angle), 1.0)
    level = cv2.warpAffine(page, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=255)
    rows, ink = segment.find_digits_and_ink(level, polarity=pp.DARK_ON_LIGHT)
    return level, rows, ink


def _read(page: np.ndarray, rows: list[list[segment.Box]], classify: segment.Classifier, style: str,
          pad_scale: float) -> list[list[dict]]:
    """Read the digits found; boxes that hold touching digits are split and their parts read."""
    read = segment.read_digits(page, rows, classify, style, pad_scale)
    conf = {d["box"]: d["confidence"] for row in read for d in row}
    split = split_touching(page, rows, conf, classify, style, pad_scale)
    if not split:
        return read
    parts = segment.read_digits(page, list(split.values()), classify, style, pad_scale)
    by_box = dict(zip(split, parts))
    return [[p for d in row for p in by_box.get(d["box"], [d])] for row in read]


def _confidence(read: list[list[dict]], classify: segment.Classifier) -> tuple[float, float]:
    """The model's mean log-confidence over the digits as read and turned upside down (one classify call for
    the turned ones)."""
    digits = [d for row in read for d in row if not d["empty"]]
    if not digits:
        return -np.inf, -np.inf
    as_read = np.log(np.clip([d["confidence"] for d in digits], 1e-6, 1)).mean()
    # Turned about the image's centre (13.5) the centre of mass lands on 13, not MNIST's 14: shift it back.
    xs = np.roll(np.stack([d["x"] for d in digits])[:, ::-1, ::-1], (1, 1), axis=(1, 2)).astype(np.float32)
    turned = np.log(np.clip(np.asarray(classify(xs), np.float32).max(axis=1), 1e-6, 1)).mean()
    return float(as_read), float(turned)


# ---------------------------------------------------------------------------------------------------- pictures
def draw_quad(rgb: np.ndarray, quad: np.ndarray | None) -> np.ndarray:
    """The photo with the found page outlined (the whole frame when none was found). (H, W, 3) uint8."""
    out = rgb.copy()
    h, w = out.shape[:2]
    pts = quad if quad is not None else np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    t = max(2, round(max(h, w) / 300))
    cv2.polylines(out, [pts.astype(np.int32).reshape(-1, 1, 2)], True, (0, 200, 0), t, cv2.LINE_AA)
    return out


def draw_boxes(grey: np.ndarray, read: list[list[dict]]) -> np.ndarray:
    """The upright page with each digit's box and reading; doubtful ones in red. (H, W, 3) uint8."""
    out = np.repeat(grey[:, :, None], 3, axis=2)
    t = max(1, round(max(grey.shape) / 600))
    for row in read:
        for d in row:
            if d["empty"]:
                continue  # an empty cell of a form
            x, y, w, h = d["box"]
            colour = (220, 0, 0) if d.get("doubtful") else (0, 160, 0)
            cv2.rectangle(out, (x, y), (x + w, y + h), colour, t)
            cv2.putText(out, str(d["digit"]), (x, max(0, y - 2)), cv2.FONT_HERSHEY_SIMPLEX,
                        max(0.4, h / 60), colour, t, cv2.LINE_AA)
    return out


# ---------------------------------------------------------------------------------------------------- internals
def _without_rim(read: list[list[dict]], shape: tuple[int, ...]) -> list[list[dict]]:
    """Drop boxes centred in the outer band of a found, flattened page: the paper's rim or a sliver of table the
    corners missed (a digit centred that close to the paper's edge would be half off the paper)."""
    H, W = shape[:2]
    m = RIM * min(H, W)

    def rim(d: dict) -> bool:
        x, y, w, h = d["box"]
        cx, cy = x + w / 2, y + h / 2
        return cx >= W - m or cx <= m or cy >= H - m or cy <= m

    rows = [[d for d in row if not rim(d)] for row in read]
    return [row for row in rows if row]


def _count_digits(read: list[list[dict]]) -> int:
    return sum(not d["empty"] for row in read for d in row)


def _page_at(v: np.ndarray, t: float) -> tuple[np.ndarray, float, float] | None:
    """The largest region brighter than t, if it is a page: (quad in v's pixels, its area, how well the quad
    covers the region (IoU)) or None."""
    sh, sw = v.shape
    mask = (v > t).astype(np.uint8) * 255
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7))
    mask = cv2.morphologyEx(cv2.morphologyEx(mask, cv2.MORPH_CLOSE, k), cv2.MORPH_OPEN, k)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    c = max(contours, key=cv2.contourArea)
    area = cv2.contourArea(c)
    if not MIN_PAGE_AREA * sh * sw <= area <= 0.95 * sh * sw:
        return None
    quad = _quad(cv2.convexHull(c))
    if _edges_on_border(quad, sw, sh) >= 2:
        return None  # a lit part of a scan, cut by the image's edges, not a sheet lying on a table
    region = np.zeros_like(mask)
    cv2.drawContours(region, [c], -1, 255, cv2.FILLED)
    inside = np.zeros_like(mask)
    cv2.fillConvexPoly(inside, quad.astype(np.int32), 255)
    inter = np.count_nonzero(region & inside)
    if inter < 0.9 * (np.count_nonzero(region) + np.count_nonzero(inside) - inter):
        return None  # the bright region is not a quadrilateral (a page joined to a lit patch of table)
    ring = (cv2.dilate(inside, np.ones((15, 15), np.uint8)) > 0) & (inside == 0)
    if ring.sum() < 50 or np.median(v[ring]) > PAGE_CONTRAST * np.median(v[inside > 0]):
        return None
    return quad, float(cv2.contourArea(quad)), inter / (np.count_nonzero(region) + np.count_nonzero(inside) - inter)


def _quad(hull: np.ndarray) -> np.ndarray:
    """A convex hull -> its 4 corners (tl, tr, br, bl): polygon simplification, else the min-area rectangle."""
    peri = cv2.arcLength(hull, True)
    pts = None
    for eps in (0.02, 0.03, 0.05, 0.08):
        approx = cv2.approxPolyDP(hull, eps * peri, True)
        if len(approx) == 4:
            pts = approx.reshape(4, 2).astype(np.float32)
            break
    if pts is None:
        pts = cv2.boxPoints(cv2.minAreaRect(hull)).astype(np.float32)
    return _order(pts)


def _order(pts: np.ndarray) -> np.ndarray:
    """Corners in order top-left, top-right, bottom-right, bottom-left (by angle around the centre)."""
    c = pts.mean(axis=0)
    ang = np.arctan2(pts[:, 1] - c[1], pts[:, 0] - c[0])
    pts = pts[np.argsort(ang)]  # clockwise in image coordinates, starting near the left
    start = int(np.argmin(pts.sum(axis=1)))
    return np.roll(pts, -start, axis=0)


def _edges_on_border(quad: np.ndarray, w: int, h: int) -> int:
    """How many of the quad's sides run along the image's border."""
    tol = 0.03 * max(w, h)
    n = 0
    for a, b in zip(quad, np.roll(quad, -1, axis=0)):
        for near in (lambda p: p[0] < tol, lambda p: p[0] > w - 1 - tol,
                     lambda p: p[1] < tol, lambda p: p[1] > h - 1 - tol):
            if near(a) and near(b):
                n += 1
                break
    return n
