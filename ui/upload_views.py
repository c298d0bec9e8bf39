"""Upload page, the views: the table of true labels (with "not a digit" to drop a false box), each sheet's stages
and reading with doubtful digits marked, single digits, one digit opened stage by stage, and the CSV."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from lenet.preprocess import format_style, preprocess
from ui.inputs import display_image, draw_boxes, stages_ui
from ui.state import CURRENT_DIGIT
from ui.upload_files import FileResult, drops, fixes
from ui.views import digit_grid_ui, label_markdown, probs_figure

GRID_COLS = 10  # digits per grid row on a wide screen (a sheet's row of 0-9)
STAGE_WIDTH = 160  # px of each page stage in the strip: two side by side on a 390 px phone, six on a desktop
DROP = "not a digit"


# ---------------------------------------------------------------------------------------------------- true labels
def _toggle_drops(table_key: str, refs: list[tuple[str, tuple]]) -> None:
    """Table callback: a ticked "not a digit" drops that box before the typed labels are laid on the sheet."""
    edits = (st.session_state.get(table_key) or {}).get("edited_rows", {})
    for i, change in edits.items():
        if DROP in change:
            cid, box = refs[int(i)]
            gone = drops().setdefault(cid, set())
            gone.add(box) if change[DROP] else gone.discard(box)


def labels_table_ui(results: list[FileResult]) -> None:
    """Every digit with its prediction, an editable true label and "not a digit"; fills each result's ``labels``.

    Corrections live in ``UPLOAD_FIXES`` and drops in ``UPLOAD_DROPS`` (they survive a page switch); the table's
    key follows the labels given by names, typed text and drops, so a change there starts a fresh table.
    """
    rows, given_keys, refs = [], [], []
    for r in results:
        preds = r.probs.argmax(axis=1)
        for i, ((row, col), g) in enumerate(zip(r.places, r.given)):
            key = f"{r.src['cid']}:{i}"
            fix = fixes().get(key)
            true = g if fix is None else (None if fix < 0 else fix)
            rows.append({"#": len(rows) + 1, "file": r.src["name"],
                         "where": f"row {row + 1}, col {col + 1}" if r.sheet else "—",
                         "predicted": int(preds[i]), "confidence": float(r.probs[i].max()),
                         "doubtful": bool(r.doubtful[i]), "true": true, DROP: bool(r.dropped[i])})
            given_keys.append((key, g, r.dropped[i]))
            refs.append((r.src["cid"], tuple(r.boxes[i])))
    df = pd.DataFrame(rows)
    df["true"] = df["true"].astype("Int64")
    table_key = "upload_table_" + hashlib.sha1(repr(given_keys).encode()).hexdigest()[:12]
    edited = st.data_editor(
        df, key=table_key, hide_index=True, height=min(420, 35 * (len(df) + 1) + 3),
        disabled=["#", "file", "where", "predicted", "confidence", "doubtful"],
        on_change=_toggle_drops, args=(table_key, refs),
        column_config={
            "confidence": st.column_config.ProgressColumn("confidence", format="percent", min_value=0, max_value=1),
            "doubtful": st.column_config.CheckboxColumn("doubtful", help="Read with low confidence: check it"),
            "true": st.column_config.SelectboxColumn("true label ✎", options=list(range(10)),
                                                     help="The digit actually written; empty if unknown"),
            DROP: st.column_config.CheckboxColumn(f"{DROP} ✎", help="A false box (a page edge, a shadow, a "
                                                  "speck): dropped from the labels and the evaluation")})
    values = [None if pd.isna(v) else int(v) for v in edited["true"]]
    for (key, g, _), v in zip(given_keys, values):
        if v == g:
            fixes().pop(key, None)
        else:
            fixes()[key] = -1 if v is None else v
    i = 0
    for r in results:
        r.labels = [-1 if v is None or gone else v for v, gone in zip(values[i:i + len(r.given)], r.dropped)]
        i += len(r.given)


# ---------------------------------------------------------------------------------------------------- pictures
def captions(r: FileResult, start: int) -> list[str]:
    """Grid captions: number, prediction (green right, red wrong), ? when doubtful; dropped boxes struck out."""
    preds = r.probs.argmax(axis=1)
    out = []
    for i, (p, t) in enumerate(zip(preds, r.labels)):
        if r.dropped[i]:
            out.append(f"~~#{start + i + 1}~~ dropped")
            continue
        doubt = " :orange[**?**]" if r.doubtful[i] else ""
        out.append(f"#{start + i + 1} " + label_markdown(None if t < 0 else t, int(p)) + doubt)
    return out


def stages_strip_ui(r: FileResult) -> None:
    """The reading's stages (photo → page found → flattened → light evened → ink → boxes), wrapping."""
    if not r.stages:
        return
    names = list(r.stages)
    pics = [display_image(np.asarray(img), 2 * STAGE_WIDTH) for img in r.stages.values()]
    turned = f" · turned {r.orientation}°" if r.orientation else ""
    st.caption(f"How {r.src['name']} was read: " + " → ".join(names) + turned)
    st.image(pics, caption=names, width=STAGE_WIDTH)


def sheet_ui(r: FileResult, start: int) -> None:
    """A sheet: its stages, the page with boxes and predicted digits (doubtful ones marked), and the grid."""
    preds = r.probs.argmax(axis=1).tolist()
    stages_strip_ui(r)
    kept = [i for i, d in enumerate(r.dropped) if not d]
    doubtful = sum(r.doubtful[i] for i in kept)
    left, right = st.columns([1, 2], gap="medium")  # the right one holds a row of 10 digits of 56 px
    with left:
        st.image(draw_boxes(r.page, [r.boxes[i] for i in kept], [preds[i] for i in kept],
                            [r.labels[i] for i in kept], doubtful=[r.doubtful[i] for i in kept]),
                 output_format="JPEG", caption=f"{r.src['name']}: {len(kept)} digits in {len(r.rows)} rows"
                 + (f", {doubtful} doubtful (?)" if doubtful else ""))
    with right:
        digit_grid_ui(r.x, captions(r, start), cols=GRID_COLS, scale=2)


def singles_ui(singles: list[tuple[FileResult, int]]) -> None:
    """Single-digit files, wrapping: the file as uploaded over the 28x28 the model saw."""
    with st.container(horizontal=True, gap="small"):
        for r, start in singles:
            with st.container(width=96, gap=None):
                st.image(display_image(r.page, 84), output_format="PNG")
                st.image(display_image(r.x[0], 84), output_format="PNG")
                st.caption(f"{captions(r, start)[0]}  \n{r.src['name']}")


def inspect_ui(results: list[FileResult], style: str, scale: float) -> None:
    """Open any digit: every preprocessing stage side by side, and its probabilities."""
    items = [(r, i) for r in results for i in range(len(r.given))]
    names = []
    for k, (r, i) in enumerate(items):
        where = f" row {r.places[i][0] + 1}, col {r.places[i][1] + 1}" if r.sheet else ""
        names.append(f"#{k + 1} · {r.src['name']}{where} → {int(r.probs[i].argmax())}")
    choice = st.selectbox("Open a digit to see every stage", range(len(items)), index=None,
                          format_func=names.__getitem__, placeholder="Choose a digit…", key="upload_inspect")
    if choice is None:
        return
    r, i = items[choice]
    crop = r.crops[i]
    pre = preprocess(crop, style, scale, polarity=r.polarity)
    st.session_state[CURRENT_DIGIT] = {"source": "upload", "image": crop, "x": pre.x, "name": names[choice],
                                       "style": format_style(style, scale), "polarity": r.polarity}
    stages_ui(pre.stages)
    true = r.labels[i] if r.labels[i] >= 0 else None
    st.plotly_chart(probs_figure(r.probs[i], true, height=220), key="upload_inspect_probs",
                    config={"displayModeBar": False})


# ---------------------------------------------------------------------------------------------------- results out
def results_csv(results: list[FileResult], style: str) -> str:
    rows, k = [], 0
    for r in results:
        for i, (box, (row, col)) in enumerate(zip(r.boxes, r.places)):
            k += 1
            p, t = int(r.probs[i].argmax()), r.labels[i]
            rows.append({"n": k, "file": r.src["name"], "row": row + 1 if r.sheet else None,
                         "col": col + 1 if r.sheet else None, "x": box[0], "y": box[1], "w": box[2], "h": box[3],
                         "predicted": p, "confidence": float(r.probs[i, p]), "doubtful": bool(r.doubtful[i]),
                         "dropped": bool(r.dropped[i]), "true": t if t >= 0 else None,
                         "correct": (p == t) if t >= 0 else None, "style": style})
    return pd.DataFrame(rows).to_csv(index=False, float_format="%.4f")


def keep_labelled(results: list[FileResult]) -> list[dict]:
    """The labelled digits for fine-tuning (``LABELLED_UPLOADS``); x is the input of the style chosen here."""
    out = []
    for r in results:
        for i, t in enumerate(r.labels):
            if t >= 0:
                where = f" r{r.places[i][0] + 1}c{r.places[i][1] + 1}" if r.sheet else ""
                out.append({"x": r.x[i], "label": int(t), "name": f"{r.src['name']}{where}",
                            "crop": r.crops[i], "polarity": r.polarity})
    return out
