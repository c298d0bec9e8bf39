"""Upload page: photos and scans of handwritten digits — single digits or whole sheets, uploaded or photographed with
the camera — read by the active model.

Files are kept in the session (``UPLOAD_SOURCES``), so they survive a visit to another page. True labels come from
a single digit's file name, from a typed sequence per sheet, or from the table; with them the grid turns green/red
and the Evaluate views (confusion matrix, report, gallery) show the model on the user's own handwriting.
"""
import numpy as np
import streamlit as st

from lenet.evaluate import Evaluation
from lenet.preprocess import format_style
from ui.finetune import render_finetune
from ui.inputs import style_ui
from ui.state import LABELLED_UPLOADS, active_model, require_app
from ui.upload_files import file_ui, sources, uploader_ui
from ui.upload_views import (inspect_ui, keep_labelled, labels_table_ui, results_csv, sheet_ui, singles_ui)
from ui.views import evaluation_ui

require_app(__file__)


def files_ui(run, model, style: str, scale: float) -> list:
    """Each file in its bordered box, read with a progress bar the first time; returns the files read."""
    results = []
    srcs = list(sources())
    bar = st.progress(0.0, text="Reading the files…") if len(srcs) > 1 else None
    for k, src in enumerate(srcs):
        if bar is not None:
            bar.progress(k / len(srcs), text=f"Reading {src['name']} ({k + 1}/{len(srcs)})…")
        with st.container(border=True):
            with st.spinner(f"Reading {src['name']}…"):
                r = file_ui(src, run, model, style, scale)
        if r is not None:
            results.append(r)
    if bar is not None:
        bar.empty()
    return results


def pictures_ui(results: list, style: str, scale: float) -> None:
    """What the model read: each sheet's stages, boxes and grid; the single digits; one digit opened."""
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


def evaluated_ui(results: list, style: str, scale: float) -> None:
    """The Evaluate views on the labelled digits (dropped boxes and unknown labels left out), then fine-tuning."""
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


def main() -> None:
    st.title("Upload")
    st.caption("Your own handwriting, read by the active model: single digits or whole sheets, with every "
               "stage of the reading on view.")
    run, model = active_model()
    if model is None:
        return
    uploader_ui()
    if not sources():
        st.session_state[LABELLED_UPLOADS] = []  # removed files take their labelled digits with them (Lab, fine-tune)
        st.info("Upload photos or scans of digits, photograph a sheet, or press **Use the sample sheet** or "
                "**Use a real photo**. A sheet is split into its digits automatically (rows, then left to right).",
                icon=":material/upload_file:")
        return
    with st.columns([1, 1])[0]:
        style, scale = style_ui("upload")
    st.subheader("Files")
    results = files_ui(run, model, style, scale)
    if not results:
        st.session_state[LABELLED_UPLOADS] = []
        return
    pictures = st.container()
    st.subheader("True labels")
    st.caption("Correct any label in the **true label** column (empty means unknown), and tick **not a digit** "
               "for a false box. Labelled digits turn the grid green (right) or red (wrong) and feed the "
               "evaluation below; **?** marks a digit the model is unsure of.")
    labels_table_ui(results)
    st.download_button("Download all results (CSV)", results_csv(results, format_style(style, scale)),
                       file_name="lenet_upload_results.csv", mime="text/csv", key="upload_csv", on_click="ignore",
                       icon=":material/download:")
    st.session_state[LABELLED_UPLOADS] = keep_labelled(results)
    with pictures:
        pictures_ui(results, style, scale)
    evaluated_ui(results, style, scale)


main()
