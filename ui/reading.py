"""Reading uploaded files: the one seam to the library's page reader, and the Upload page's per-session caches.

``read_page`` is the only place that knows which library function reads a page. Every other line of the UI works
with its ``PageReading`` (rows of digit dicts, the stages of the reading, the page the boxes refer to), so moving to
another reader is a one-line change there.

Caches are per session, not global (``st.cache_data`` is shared by every session: with 24 entries for everyone and
60 files allowed per session, a busy session decoded its files again on every rerun). Each session keeps its
decoded images and readings up to a byte budget, dropping the least recently used; a file that failed to decode
keeps its error, so it is not decoded again on every rerun.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from lenet.page import DOUBT_CONFIDENCE, PageReading
from lenet.page import read_page as library_read_page
from ui.inputs import model_key
from ui.lru import ByteLRU
from ui.state import UPLOAD_CACHE

DECODED_BUDGET = 192 * 2 ** 20  # bytes of decoded images one session keeps (~5 12 MP photos in colour)
READING_BUDGET = 96 * 2 ** 20  # bytes of readings (crops, inputs, stage pictures) one session keeps
STAGE_SIDE = 900  # px: stage pictures are kept this big at most (they are shown, never computed on)


def read_page(image: np.ndarray, classify, style: str, pad_scale: float) -> PageReading:
    """The page reader the app uses: (H, W, 3) RGB or (H, W) grey photo or scan -> ``PageReading``."""
    return library_read_page(image, classify, style=style, pad_scale=pad_scale)


# ---------------------------------------------------------------------------------------------------- session caches
def _caches() -> dict:
    return st.session_state.setdefault(UPLOAD_CACHE, {"decoded": ByteLRU(DECODED_BUDGET),
                                                      "readings": ByteLRU(READING_BUDGET), "failed": {}})


def forget_file(cid: str | None = None) -> None:
    """Drop what the session keeps for one file (all files when ``cid`` is None)."""
    c = _caches()
    c["decoded"].forget(lambda k: cid is None or k == cid)
    c["readings"].forget(lambda k: cid is None or k[0] == cid)
    if cid is None:
        c["failed"].clear()
    else:
        c["failed"].pop(cid, None)


def decoded(src: dict) -> np.ndarray:
    """An uploaded file -> (H, W, 3) uint8 RGB (the page reader tells blue ink from yellow paper), decoded once per
    session. Raises ImageError (remembered)."""
    from lenet.io import ImageError, decode_image

    c = _caches()
    cid = src["cid"]
    if cid in c["failed"]:
        raise ImageError(c["failed"][cid])
    rgb = c["decoded"].get(cid)
    if rgb is None:
        try:
            rgb = decode_image(src["data"], colour=True)
        except ImageError as err:
            c["failed"][cid] = str(err)
            raise
        c["decoded"].put(cid, rgb)
    return rgb


def _shrunk(img: np.ndarray, side: int = STAGE_SIDE) -> np.ndarray:
    """A stage picture no bigger than ``side`` (kept for display only)."""
    from ui.inputs import display_image

    a = np.asarray(img)
    return a if max(a.shape[:2]) <= side else display_image(a, side)


def reading(src: dict, run, model, style: str, pad_scale: float) -> PageReading:
    """The file read by ``read_page`` with this model and style, once per session (bounded)."""
    from lenet.infer import make_classifier
    from lenet.preprocess import format_style

    key = (src["cid"], *model_key(run), format_style(style, pad_scale))
    c = _caches()["readings"]
    found = c.get(key)
    if found is None:
        found = read_page(decoded(src), make_classifier(model), style, pad_scale)
        found.stages = {name: _shrunk(img) for name, img in found.stages.items()}
        c.put(key, found)
    return found
