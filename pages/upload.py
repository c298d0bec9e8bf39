"""Upload page: photos and scans of handwritten digits — single digits or whole sheets — read by the active model.

Files are kept in the session (``UPLOAD_SOURCES``), so they survive a visit to another page. True labels come from
file names, from a typed sequence per sheet, or from the table; with them the grid turns green/red and the
Evaluate views (confusion matrix, report, gallery) show the model on the user's own handwriting.
"""
import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import streamlit as st

from lenet.evaluate import Evaluation
from lenet.io import ImageError
from lenet.preprocess import format_style, preprocess
from lenet.study import label_from_name, parse_label_sequence
from ui.inputs import (Segmented, decode, display_image, draw_boxes, guess_sheet, new_source, predict_crops,
                       probs_figure, sample_source, segment, stages_ui, style_ui)
from ui.state import CURRENT_DIGIT, LABELLED_UPLOADS, UPLOAD_FIXES, UPLOAD_SOURCES, UPLOADER_N, active_model, require_app
from ui.finetune import render_finetune
from ui.views import digit_grid_ui, evaluation_ui, label_markdown

require_app(__file__)

TYPES = ["png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp", "gif"]
MAX_FILES = 60  # files kept per session (their bytes live in session state)
MAX_BYTES = 150 * 2 ** 20  # and at most this much of them
KINDS = {"auto": "Auto", "digit": "Single digit", "sheet": "Sheet"}
GRID_COLS = 10


@dataclass
class FileResult:
    """One file read: its page, digits, predictions and the true labels its name or typed sequence gives."""

    src: dict
    grey: np.ndarray
    seg: Segmented
    sheet: bool
    x: np.ndarray
    probs: np.ndarray
    given: list  # true label per digit from the name / sequence (None: unknown)
    area: object = None  # the container its pictures go into, once the labels are final
    labels: list = field(default_factory=list)  # final true labels (table included), -1 unknown


# ---------------------------------------------------------------------------------------------------- the files
def sources() -> list[dict]:
    return st.session_state.setdefault(UPLOAD_SOURCES, [])


def fixes() -> dict:
    return st.session_state.setdefault(UPLOAD_FIXES, {})


def _add(src: dict) -> None:
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
        _add(new_source(f.name, f.getvalue()))
    st.session_state[UPLOADER_N] = st.session_state.get(UPLOADER_N, 0) + 1


def _forget_fixes(cid: str) -> None:
    for k in [k for k in fixes() if k.startswith(f"{cid}:")]:
        del fixes()[k]


def _remove(cid: str) -> None:
    st.session_state[UPLOAD_SOURCES] = [s for s in sources() if s["cid"] != cid]
    _forget_fixes(cid)


def _clear() -> None:
    st.session_state[UPLOAD_SOURCES] = []
    st.session_state[UPLOAD_FIXES] = {}


def uploader_ui() -> None:
    key = f"upload_files_{st.session_state.get(UPLOADER_N, 0)}"
    c1, c2 = st.columns([3, 1], vertical_alignment="center")
    c1.file_uploader("Photos or scans of handwritten digits — one digit per image, or whole sheets",
                     type=TYPES, accept_multiple_files=True, key=key, on_change=_absorb, args=(key,),
                     help="Name a single-digit file after its digit (7.png, scan_label7.jpg) to give its true label.")
    c2.button("Use the sample sheet", key="upload_sample", icon=":material/description:", use_container_width=True,
              on_click=lambda: _add(sample_source()))
    c2.button("Remove all files", key="upload_clear", icon=":material/delete_sweep:", use_container_width=True,
              on_click=_clear, disabled=not sources())
    st.caption("The sample sheet is **synthesised from MNIST test digits** (15 rows of 0–9, rendered as a "
               "photographed page with uneven light, slight rotation and blur, saved as JPEG); its true labels "
               "are filled in.")


def file_ui(src: dict, run, model, style: str, scale: float) -> FileResult | None:
    """One file's row: kind (auto / single digit / sheet), typed labels for a sheet, remove. Reads the file."""
    cid, name = src["cid"], src["name"]
    try:
        grey = decode(cid, src["data"])
    except ImageError as err:
        st.warning(f"**{name}** was skipped: {err}", icon=":material/broken_image:")
        return None
    auto = guess_sheet(cid, grey)
    c1, c2, c3, c4 = st.columns([3, 3, 5, 1], vertical_alignment="center")
    c1.markdown(f"**{name}**  \n{grey.shape[1]}×{grey.shape[0]} px · looks like {'a sheet' if auto else 'one digit'}")
    kind = c2.segmented_control("Read as", list(KINDS), format_func=KINDS.get, default="auto",
                                key=f"upload_kind_{cid}", persist_state="session",
                                on_change=_forget_fixes, args=(cid,))
    sheet = auto if kind in (None, "auto") else kind == "sheet"
    c4.button("", key=f"upload_remove_{cid}", icon=":material/close:", help=f"Remove {name}",
              on_click=_remove, args=(cid,))
    seg = segment(cid, sheet, grey)
    n = len(seg.crops)
    if not n:
        c3.info(f"No digits found on {name}.", icon=":material/search_off:")
        return None
    x, probs = predict_crops(run, model, seg.crops, [seg.polarity] * n, style, scale)
    if not sheet and not x[0].any():  # preprocessing found no ink: a blank image is not "some digit"
        c3.info(f"No digit found in {name}: the image looks blank.", icon=":material/search_off:")
        return None
    given: list = [None] * n
    if sheet:
        text = c3.text_area(f"True labels ({n} digits in {len(seg.rows)} rows)", value=src.get("seq", ""),
                            key=f"upload_seq_{cid}", persist_state="session", height=68,
                            placeholder="e.g. 0123456789 if every row reads 0–9, or all digits in reading order",
                            on_change=_forget_fixes, args=(cid,))
        if text.strip():
            try:
                given = parse_label_sequence(text, [len(r) for r in seg.rows])
            except ValueError as err:
                c3.warning(str(err))
    else:
        given = [label_from_name(name)]
        c3.caption(f"True label from the file name: **{given[0]}**" if given[0] is not None else
                   "No true label in the file name (7.png or …_label7.png): set it in the table below.")
    return FileResult(src=src, grey=grey, seg=seg, sheet=sheet, x=x, probs=probs, given=given)


# ---------------------------------------------------------------------------------------------------- true labels
def labels_table_ui(results: list[FileResult]) -> None:
    """Every digit with its prediction and an editable true label; fills each result's ``labels``.

    Corrections are kept in ``UPLOAD_FIXES`` (they survive a page switch); the table's key follows the labels
    given by names and sequences, so typing a new sequence starts a fresh table.
    """
    rows, given_keys = [], []
    for r in results:
        preds = r.probs.argmax(axis=1)
        for i, ((row, col), g) in enumerate(zip(r.seg.places, r.given)):
            key = f"{r.src['cid']}:{i}"
            fix = fixes().get(key)
            true = g if fix is None else (None if fix < 0 else fix)
            rows.append({"#": len(rows) + 1, "file": r.src["name"],
                         "where": f"row {row + 1}, col {col + 1}" if r.sheet else "—",
                         "predicted": int(preds[i]), "confidence": float(r.probs[i].max()), "true": true})
            given_keys.append((key, g))
    df = pd.DataFrame(rows)
    df["true"] = df["true"].astype("Int64")
    table_key = "upload_table_" + hashlib.sha1(repr(given_keys).encode()).hexdigest()[:12]
    edited = st.data_editor(
        df, key=table_key, hide_index=True, disabled=["#", "file", "where", "predicted", "confidence"],
        height=min(420, 35 * (len(df) + 1) + 3),
        column_config={
            "confidence": st.column_config.ProgressColumn("confidence", format="percent", min_value=0, max_value=1),
            "true": st.column_config.SelectboxColumn("true label ✎", options=list(range(10)),
                                                     help="The digit actually written; empty if unknown")})
    values = [None if pd.isna(v) else int(v) for v in edited["true"]]
    for (key, g), v in zip(given_keys, values):
        if v == g:
            fixes().pop(key, None)
        else:
            fixes()[key] = -1 if v is None else v
    i = 0
    for r in results:
        r.labels = [-1 if v is None else v for v in values[i:i + len(r.given)]]
        i += len(r.given)


# ---------------------------------------------------------------------------------------------------- pictures
def captions(r: FileResult, start: int) -> list[str]:
    preds = r.probs.argmax(axis=1)
    return [f"#{start + i + 1} " + label_markdown(None if t < 0 else t, int(p))  # confidence: in the table
            for i, (p, t) in enumerate(zip(preds, r.labels))]


def sheet_ui(r: FileResult, start: int) -> None:
    """A sheet: the page with boxes and predicted digits, and the grid of what the model saw."""
    preds = r.probs.argmax(axis=1).tolist()
    left, right = st.columns([2, 3], gap="medium")
    with left:
        st.image(draw_boxes(r.grey, r.seg.boxes, preds, r.labels), output_format="JPEG",
                 caption=f"{r.src['name']}: {len(preds)} digits in {len(r.seg.rows)} rows")
    with right:
        cols = min(GRID_COLS, max(len(row) for row in r.seg.rows))
        digit_grid_ui(r.x, captions(r, start), cols=cols, scale=2)


def singles_ui(singles: list[tuple[FileResult, int]]) -> None:
    """Single-digit files in one grid: the file as uploaded over the 28x28 the model saw."""
    cols = st.columns(min(8, max(4, len(singles))))
    for k, (r, start) in enumerate(singles):
        with cols[k % len(cols)]:
            st.image(display_image(r.grey, 84), output_format="PNG")
            st.image(display_image(r.x[0], 84), output_format="PNG")
            st.caption(f"{captions(r, start)[0]}  \n{r.src['name']}")


def inspect_ui(results: list[FileResult], style: str, scale: float) -> None:
    """Open any digit: every preprocessing stage side by side, and its probabilities."""
    items = [(r, i) for r in results for i in range(len(r.given))]
    names = []
    for k, (r, i) in enumerate(items):
        where = f" row {r.seg.places[i][0] + 1}, col {r.seg.places[i][1] + 1}" if r.sheet else ""
        names.append(f"#{k + 1} · {r.src['name']}{where} → {int(r.probs[i].argmax())}")
    choice = st.selectbox("Open a digit to see every stage", range(len(items)), index=None, format_func=names.__getitem__,
                          placeholder="Choose a digit…", key="upload_inspect")
    if choice is None:
        return
    r, i = items[choice]
    crop = r.seg.crops[i]
    pre = preprocess(crop, style, scale, polarity=r.seg.polarity)
    st.session_state[CURRENT_DIGIT] = {"source": "upload", "image": crop, "x": pre.x, "name": names[choice],
                                       "style": format_style(style, scale), "polarity": r.seg.polarity}
    stages_ui(pre.stages)
    true = r.labels[i] if r.labels[i] >= 0 else None
    st.plotly_chart(probs_figure(r.probs[i], true, height=220), key="upload_inspect_probs",
                    config={"displayModeBar": False})


def results_csv(results: list[FileResult], style: str) -> str:
    rows, k = [], 0
    for r in results:
        for i, (box, (row, col)) in enumerate(zip(r.seg.boxes, r.seg.places)):
            k += 1
            p, t = int(r.probs[i].argmax()), r.labels[i]
            rows.append({"n": k, "file": r.src["name"], "row": row + 1 if r.sheet else None,
                         "col": col + 1 if r.sheet else None, "x": box[0], "y": box[1], "w": box[2], "h": box[3],
                         "predicted": p, "confidence": float(r.probs[i, p]), "true": t if t >= 0 else None,
                         "correct": (p == t) if t >= 0 else None, "style": style})
    return pd.DataFrame(rows).to_csv(index=False, float_format="%.4f")


def keep_labelled(results: list[FileResult]) -> list[dict]:
    """The labelled digits for fine-tuning (``LABELLED_UPLOADS``); x is the input of the style chosen here."""
    out = []
    for r in results:
        for i, t in enumerate(r.labels):
            if t >= 0:
                where = f" r{r.seg.places[i][0] + 1}c{r.seg.places[i][1] + 1}" if r.sheet else ""
                out.append({"x": r.x[i], "label": int(t), "name": f"{r.src['name']}{where}",
                            "crop": r.seg.crops[i], "polarity": r.seg.polarity})
    return out


# ---------------------------------------------------------------------------------------------------- the page
def main() -> None:
    st.title("Upload")
    st.caption("Your own handwriting, read by the active model: single digits or whole sheets, with every "
               "preprocessing stage on view.")
    run, model = active_model()
    if model is None:
        return
    uploader_ui()
    if not sources():
        st.session_state[LABELLED_UPLOADS] = []  # removed files take their labelled digits with them (Lab, fine-tune)
        st.info("Upload photos or scans of digits, or press **Use the sample sheet**. A sheet is split into its "
                "digits automatically (rows, then left to right).", icon=":material/upload_file:")
        return
    with st.columns([1, 1])[0]:
        style, scale = style_ui("upload")
    st.subheader("Files")
    results = []
    for src in list(sources()):
        with st.container(border=True):
            r = file_ui(src, run, model, style, scale)
        if r is not None:
            results.append(r)
    if not results:
        st.session_state[LABELLED_UPLOADS] = []
        return
    pictures = st.container()
    st.subheader("True labels")
    st.caption("Correct any label in the **true label** column; empty means unknown. Labelled digits turn the grid "
               "green (right) or red (wrong) and feed the evaluation below.")
    labels_table_ui(results)
    st.download_button("Download all results (CSV)", results_csv(results, format_style(style, scale)),
                       file_name="lenet_upload_results.csv", mime="text/csv", key="upload_csv", on_click="ignore",
                       icon=":material/download:")
    st.session_state[LABELLED_UPLOADS] = keep_labelled(results)

    with pictures:
        st.subheader("What the model read")
        start, singles = 0, []
        for r in results:
            if r.sheet:
                sheet_ui(r, start)
            else:
                singles.append((r, start))
            start += len(r.given)
        if singles:
            singles_ui(singles)
        st.subheader("Inspect a digit")
        inspect_ui(results, style, scale)

    y_true = np.concatenate([np.asarray(r.labels, int) for r in results])
    known = y_true >= 0
    st.subheader("Your handwriting, evaluated")
    if not known.any():
        st.info("Give true labels (file names, a typed sequence or the table) to see accuracy, the confusion matrix "
                "and the mistakes.", icon=":material/label:")
        return
    probs = np.concatenate([r.probs for r in results])[known]
    images = np.concatenate([r.x for r in results])[known]
    names = [f"#{k + 1}" for k in np.flatnonzero(known)]
    st.caption(f"{int(known.sum())} labelled digits of {len(known)}, style **{format_style(style, scale)}**. "
               "They are kept in this session for the Preprocessing Lab and for fine-tuning.")
    evaluation_ui(Evaluation(y_true=y_true[known], probs=probs), images, prefix="upload_eval", names=names,
                  what="uploaded digits")
    render_finetune()


main()
