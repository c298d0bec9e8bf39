"""Upload page, the files: keeping them in the session (uploads, camera shots, the two samples) and reading each one
— sheet or single digit, typed true labels, boxes the user dropped.

A file is read by ``ui.reading.read_page``: what is on it decides whether it is a sheet (several digit-like blobs)
or a single digit, and only a single digit takes a true label from its file name.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from lenet import config
from lenet.io import ImageError, to_grey
from lenet.study import fit_labels, label_from_name
from ui import reading
from ui.inputs import new_source, predict_crops
from ui.state import UPLOAD_DROPS, UPLOAD_FIXES, UPLOAD_SOURCES, UPLOADER_N

TYPES = ["png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp", "gif"]
MAX_FILES = 60  # files kept per session (their bytes live in session state)
MAX_BYTES = 150 * 2 ** 20  # and at most this much of them
KINDS = {"auto": "Auto", "digit": "Digit", "sheet": "Sheet"}  # short: the control must fit its column
SAMPLE_PHOTO = config.ASSETS_DIR / "sample_photo.jpg"  # a real phone photo (MIT, © 2017 Yupan; assets/README.md)
SAMPLE_PHOTO_LABELS = config.ASSETS_DIR / "sample_photo_labels.txt"


@dataclass
class FileResult:
    """One file read: its digits (flat, reading order), predictions, and the true labels its name or text gives."""

    src: dict
    sheet: bool
    page: np.ndarray  # the image the boxes refer to (the flattened page of a sheet, the file of a digit)
    boxes: list  # (x, y, w, h) per digit
    places: list  # (row, col) per digit, 0-based
    crops: list
    x: np.ndarray  # (N, 28, 28) float32: what the model saw
    probs: np.ndarray  # (N, 10)
    doubtful: list  # per digit: read with low confidence
    dropped: list  # per digit: the user says it is not a digit
    polarity: str
    given: list  # true label per digit from the name / typed text (None: unknown)
    stages: dict = field(default_factory=dict)  # the page reading's stages (sheets)
    orientation: int = 0
    labels: list = field(default_factory=list)  # final true labels (table included), -1 unknown or dropped

    @property
    def rows(self) -> list[int]:
        """Digits kept per row (dropped boxes do not count)."""
        n = 1 + max((r for r, _ in self.places), default=-1)
        return [sum(1 for (r, _), d in zip(self.places, self.dropped) if r == k and not d) for k in range(n)]


# ---------------------------------------------------------------------------------------------------- the files
def sources() -> list[dict]:
    return st.session_state.setdefault(UPLOAD_SOURCES, [])


def fixes() -> dict:
    return st.session_state.setdefault(UPLOAD_FIXES, {})


def drops() -> dict:
    return st.session_state.setdefault(UPLOAD_DROPS, {})


def add(src: dict) -> None:
    srcs = sources()
    if src["cid"] in {s["cid"] for s in srcs}:
        return
    if len(srcs) >= MAX_FILES or sum(len(s["data"]) for s in srcs) + len(src["data"]) > MAX_BYTES:
        st.toast(f"At most {MAX_FILES} files and {MAX_BYTES >> 20} MB at once: {src['name']} was not added. "
                 "Remove some files first.", icon=":material/warning:")
        return
    srcs.append(src)


def _absorb(key: str) -> None:
    """Uploader callback: keep the new files in the session and show a fresh, empty uploader."""
    for f in st.session_state.get(key) or []:
        add(new_source(f.name, f.getvalue()))
    st.session_state[UPLOADER_N] = st.session_state.get(UPLOADER_N, 0) + 1


def _absorb_camera(key: str) -> None:
    """Camera callback: the shot becomes a file like any upload (named by the time it was taken)."""
    shot = st.session_state.get(key)
    if shot is not None:
        add(new_source(time.strftime("camera_%H%M%S.jpg"), shot.getvalue()))


def forget_fixes(cid: str) -> None:
    for k in [k for k in fixes() if k.startswith(f"{cid}:")]:
        del fixes()[k]


def _changed_kind(cid: str) -> None:
    forget_fixes(cid)
    drops().pop(cid, None)


def _remove(cid: str) -> None:
    st.session_state[UPLOAD_SOURCES] = [s for s in sources() if s["cid"] != cid]
    _changed_kind(cid)
    reading.forget_file(cid)


def _clear() -> None:
    st.session_state[UPLOAD_SOURCES] = []
    st.session_state[UPLOAD_FIXES] = {}
    st.session_state[UPLOAD_DROPS] = {}
    reading.forget_file()


def sample_photo_source() -> dict:
    """The bundled real photo as an upload, its true rows typed in (``1247673|8952481``)."""
    from lenet.sheet import load_labels

    seq = "|".join("".join(map(str, r)) for r in load_labels(SAMPLE_PHOTO_LABELS))
    return new_source(SAMPLE_PHOTO.name, SAMPLE_PHOTO.read_bytes(), seq=seq)


def uploader_ui() -> None:
    """File uploader, camera, the two samples and "remove all"."""
    from ui.inputs import sample_source

    key = f"upload_files_{st.session_state.get(UPLOADER_N, 0)}"
    st.file_uploader("Photos or scans of handwritten digits — one digit per image, or whole sheets",
                     type=TYPES, accept_multiple_files=True, key=key, on_change=_absorb, args=(key,),
                     help="Name a single-digit file after its digit (7.png, scan_label7.jpg) to give its true label.")
    with st.container(horizontal=True, gap="small"):
        st.button("Use the sample sheet", key="upload_sample", icon=":material/description:",
                  on_click=lambda: add(sample_source()))
        st.button("Use a real photo", key="upload_sample_photo", icon=":material/photo_camera_back:",
                  on_click=lambda: add(sample_photo_source()))
        camera = st.toggle("Camera", key="upload_camera", help="Photograph a sheet with this device's camera.")
        st.button("Remove all files", key="upload_clear", icon=":material/delete_sweep:", on_click=_clear,
                  disabled=not sources())
    if camera:
        st.camera_input("Photograph a sheet (fill the frame with the page, in good light)", key="upload_camera_shot",
                        on_change=_absorb_camera, args=("upload_camera_shot",))
    st.caption("The **sample sheet** is synthesised from MNIST test digits (15 rows of 0–9, rendered as a "
               "photographed page); the **real photo** is a sticky note on a dark desk, taken by phone "
               "(MIT licence, © 2017 Yupan). Both come with their true labels filled in.")


# ---------------------------------------------------------------------------------------------------- one file
def file_ui(src: dict, run, model, style: str, scale: float) -> FileResult | None:
    """One file's row: what it looks like, how to read it (auto / digit / sheet), typed labels, remove."""
    cid, name = src["cid"], src["name"]
    try:
        rgb = reading.decoded(src)
    except ImageError as err:
        st.warning(f"**{name}** was skipped: {err}", icon=":material/broken_image:")
        return None
    page = reading.reading(src, run, model, style, scale)
    with st.container(horizontal=True, vertical_alignment="center"):  # the close button stays on the name's line
        st.markdown(f"**{name}**  \n{rgb.shape[1]}×{rgb.shape[0]} px · looks like "
                    f"{'a sheet' if page.is_sheet else 'one digit'}", width="stretch")
        st.button("", key=f"upload_remove_{cid}", icon=":material/close:", help=f"Remove {name}",
                  on_click=_remove, args=(cid,))
    c2, c3 = st.columns([2, 3], vertical_alignment="top")
    kind = c2.segmented_control("Read as", list(KINDS), format_func=KINDS.get, default="auto",
                                key=f"upload_kind_{cid}", persist_state="session",
                                on_change=_changed_kind, args=(cid,))
    sheet = page.is_sheet if kind in (None, "auto") else kind == "sheet"
    res = _sheet_result(src, page) if sheet else _digit_result(src, to_grey(rgb), run, model, style, scale)
    if res is None or not len(res.boxes):
        c3.info(f"No digits found on {name}.", icon=":material/search_off:")
        return None
    if not sheet and not res.x[0].any():  # preprocessing found no ink: a blank image is not "some digit"
        c3.info(f"No digit found in {name}: the image looks blank.", icon=":material/search_off:")
        return None
    if sheet:
        _typed_labels_ui(c3, res)
    else:
        named = label_from_name(name)
        res.given = [named if not page.is_sheet else None]
        if named is not None and page.is_sheet:
            c3.caption(f"The file name says **{named}**, but the image holds several digits: no label taken from "
                       "the name. Set it in the table below.")
        else:
            c3.caption(f"True label from the file name: **{named}**" if named is not None else
                       "No true label in the file name (7.png or …_label7.png): set it in the table below.")
    return res


def _sheet_result(src: dict, page: reading.PageReading) -> FileResult | None:
    from lenet.preprocess import detect_polarity

    digits = [(r, c, d) for r, row in enumerate(page.rows) for c, d in enumerate(row)]
    if not digits:
        return None
    gone = drops().get(src["cid"], set())
    boxes = [tuple(d["box"]) for *_, d in digits]
    return FileResult(
        src=src, sheet=True, page=page.page, boxes=boxes, places=[(r, c) for r, c, _ in digits],
        crops=[d["crop"] for *_, d in digits], x=np.stack([d["x"] for *_, d in digits]).astype(np.float32),
        probs=np.stack([d["probs"] for *_, d in digits]).astype(np.float32),
        doubtful=[bool(d.get("doubtful")) for *_, d in digits], dropped=[b in gone for b in boxes],
        polarity=detect_polarity(page.page), given=[None] * len(digits), stages=dict(page.stages),
        orientation=page.orientation)


def _digit_result(src: dict, grey: np.ndarray, run, model, style: str, scale: float) -> FileResult:
    from lenet.preprocess import detect_polarity

    pol = detect_polarity(grey)
    x, probs = predict_crops(run, model, [grey], [pol], style, scale)
    h, w = grey.shape[:2]
    return FileResult(src=src, sheet=False, page=grey, boxes=[(0, 0, int(w), int(h))], places=[(0, 0)],
                      crops=[grey], x=x, probs=probs, doubtful=[float(probs[0].max()) < reading.DOUBT_CONFIDENCE],
                      dropped=[False], polarity=pol, given=[None])


def _typed_labels_ui(area, res: FileResult) -> None:
    """The sheet's true labels as typed (all digits, one row's pattern, or rows split by | or new lines)."""
    cid = res.src["cid"]
    rows = res.rows
    kept = [i for i, d in enumerate(res.dropped) if not d]
    text = area.text_area(f"True labels ({len(kept)} digits in {len(rows)} rows)", value=res.src.get("seq", ""),
                          key=f"upload_seq_{cid}", persist_state="session", height=68,
                          placeholder="e.g. 0123456789 if every row reads 0–9, rows split by | (1247|8952), "
                                      "or all digits in reading order", on_change=forget_fixes, args=(cid,))
    if not text.strip():
        return
    # Rows whose every box was dropped are no rows at all for the typed text.
    full = [r for r, n in enumerate(rows) if n]
    row_x = [[res.boxes[i][0] + res.boxes[i][2] / 2 for i in kept if res.places[i][0] == r] for r in full]
    try:
        labels, note = fit_labels(text, [rows[r] for r in full], row_x)
    except ValueError as err:
        area.warning(str(err))
        return
    if note:
        area.warning(note, icon=":material/rule:")
    for i, lab in zip(kept, labels):
        res.given[i] = lab
