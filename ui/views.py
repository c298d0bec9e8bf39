"""Reusable views: digit grids, confusion heatmap, report table, gallery (training views: ui/run_views.py).

Views take plain data — an ``lenet.evaluate.Evaluation`` plus the images it was computed on, a history list —
never MNIST specifically, so the Upload page can show a user's labelled digits with the same code. Figures are
built by pure ``*_figure`` functions (testable without Streamlit); ``*_ui`` functions draw and return choices.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
import streamlit as st

# pandas and plotly are imported where used: Home (the first page a user sees) draws digits only, and the two
# cost ~0.5-1 s of its cold start on 2 cores.

GALLERY_PAGE = 24  # images per gallery page
GALLERY_COLS = 8
GALLERY_CELL = 128  # px: the two-line captions need more room than the 84 px digit
SORTS = {"confidence_desc": "Most confident first", "confidence_asc": "Least confident first", "index": "Image index"}


# ---------------------------------------------------------------- digits
def digit_pixels(image: np.ndarray, scale: int = 3) -> np.ndarray:
    """(28, 28) uint8 or float in [0, 1] -> (28·scale, 28·scale) uint8, nearest-neighbour (crisp, not blurred)."""
    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = (np.clip(img.astype("float32"), 0.0, 1.0) * 255).round().astype(np.uint8)
    img = img.reshape(img.shape[0], img.shape[1])
    return np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)


def label_markdown(true: int | None, pred: int, confidence: float | None = None) -> str:
    """The prediction in green when right, red when wrong (plain when the truth is unknown)."""
    conf = f" · {confidence * 100:.0f} %" if confidence is not None else ""
    if true is None:
        return f"**{pred}**{conf}"
    colour = "green" if pred == true else "red"
    return f":{colour}[**{pred}**]{conf}" + ("" if pred == true else f" (true {true})")


def digit_grid_ui(images, captions: list[str], cols: int = 12, scale: int = 3, width: int | None = None) -> None:
    """Digits with a markdown caption under each, wrapping into as many columns as the screen has room for.

    ``st.columns`` stack to one column on a phone (a 150-digit sheet became 22,000 px tall); a horizontal flex
    container wraps instead. Each run of ``cols`` digits is one such container, so on a wide screen the grid keeps
    rows of ``cols`` (a sheet's rows stay rows) and on a narrow one each run wraps onto a few lines.

    Args:
        images: (28, 28) uint8 or float in [0, 1] each.
        captions: markdown, one per image.
        cols: digits per row on a wide screen.
        scale: pixels per input pixel.
        width: px of each cell (image and caption); the image's width when None.
    """
    images = list(images)
    cell = width or 28 * scale
    for start in range(0, len(images), cols):
        with st.container(horizontal=True, gap="xxsmall"):
            for img, cap in zip(images[start:start + cols], captions[start:start + cols]):
                with st.container(width=cell, gap=None):
                    st.image(digit_pixels(img, scale), output_format="PNG")
                    st.caption(cap)


def prediction_strip_ui(images, y_true, probs, cols: int = 12) -> None:
    """Digits with the model's prediction under each: green when right, red when wrong."""
    probs = np.asarray(probs)
    preds = probs.argmax(axis=1)
    caps = [label_markdown(None if y_true is None else int(t), int(p), float(pr[p]))
            for t, p, pr in zip(y_true if y_true is not None else [None] * len(preds), preds, probs)]
    digit_grid_ui(images, caps, cols=cols)


def probs_figure(probs: np.ndarray, true: int | None = None, height: int = 260) -> go.Figure:
    """The ten class probabilities as bars, the predicted digit green (red when a known true label differs)."""
    import plotly.graph_objects as go

    probs = np.asarray(probs, float).ravel()
    pred = int(probs.argmax())
    colours = ["#9ca3af"] * len(probs)
    colours[pred] = "#16a34a" if true is None or true == pred else "#dc2626"
    fig = go.Figure(go.Bar(x=list(range(len(probs))), y=probs.tolist(), marker_color=colours,
                           text=[f"{p * 100:.0f}%" if p >= 0.01 else "" for p in probs], textposition="outside",
                           hovertemplate="digit %{x}: %{y:.2%}<extra></extra>"))
    fig.update_xaxes(tickmode="array", tickvals=list(range(len(probs))), title_text="digit")
    fig.update_yaxes(range=[0, 1.12], tickformat=".0%", title_text="probability")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), showlegend=False)
    return fig


# ---------------------------------------------------------------- evaluation
def report_table_ui(evaluation) -> None:
    """scikit-learn's classification report as a table: per class, then macro and weighted averages."""
    fmt = st.column_config.NumberColumn
    rows = evaluation.report_rows()
    import pandas as pd

    st.dataframe(pd.DataFrame(rows), hide_index=True, height=35 * (len(rows) + 1) + 3, column_config={
        "class": st.column_config.TextColumn("Class", width=105), "precision": fmt("Precision", format="%.4f"),
        "recall": fmt("Recall", format="%.4f"),
        "f1": fmt("F1", format="%.4f"), "support": fmt("Support", format="localized")})


def confusion_figure(conf: np.ndarray, normalise: bool = False, highlight: tuple | None = None,
                     height: int = 520) -> go.Figure:
    """A 10×10 heatmap, rows = true class (top to bottom), columns = predicted class.

    Colour is logarithmic so a handful of confusions stands out next to a diagonal of a thousand. Plotly cannot
    select heatmap cells, so an invisible square marker sits on each cell: clicking a cell selects that point,
    with ``x`` = predicted and ``y`` = true.

    Args:
        conf: (10, 10) counts.
        normalise: show each row's shares instead of counts.
        highlight: ``(true, pred)`` of the current filter (either may be None) to outline the cell, row or column.
    """
    import plotly.graph_objects as go

    conf = np.asarray(conf)
    n = conf.shape[0]
    rows = conf.sum(axis=1, keepdims=True)
    share = np.divide(conf, rows, out=np.zeros(conf.shape, float), where=rows > 0)
    shown = share if normalise else conf
    colour = np.log1p(share * 1000) if normalise else np.log1p(conf)
    text = [[("" if v == 0 and r != c else (f"{v * 100:.1f}%" if normalise else f"{int(v)}"))
             for c, v in enumerate(row)] for r, row in enumerate(shown)]
    custom = np.dstack([conf, share])
    fig = go.Figure(go.Heatmap(
        # Plain lists, not arrays: plotly would base64-pack arrays, and tests read the spec back.
        z=colour.tolist(), x=list(range(n)), y=list(range(n)), text=text, texttemplate="%{text}",
        customdata=custom.tolist(), colorscale="Blues", showscale=False, xgap=1, ygap=1, hoverinfo="skip"))
    ys, xs = np.divmod(np.arange(n * n), n)
    fig.add_trace(go.Scatter(
        x=xs.tolist(), y=ys.tolist(), mode="markers", customdata=custom.reshape(-1, 2).tolist(), showlegend=False,
        marker=dict(symbol="square", size=28, color="rgba(0,0,0,0)"),
        selected=dict(marker=dict(color="rgba(0,0,0,0)")), unselected=dict(marker=dict(opacity=0)),
        hovertemplate="true %{y}<br>predicted %{x}<br>count %{customdata[0]}<br>"
                      "share of true %{y}: %{customdata[1]:.2%}<extra></extra>"))
    if highlight is not None and any(v is not None for v in highlight):
        t, p = highlight
        y0, y1 = (t - 0.5, t + 0.5) if t is not None else (-0.5, n - 0.5)
        x0, x1 = (p - 0.5, p + 0.5) if p is not None else (-0.5, n - 0.5)
        fig.add_shape(type="rect", x0=x0, x1=x1, y0=y0, y1=y1, line=dict(color="#ff7f0e", width=3))
    fig.update_xaxes(title_text="predicted", tickmode="array", tickvals=list(range(n)), side="top",
                     constrain="domain", range=[-0.5, n - 0.5], showgrid=False, zeroline=False)
    fig.update_yaxes(title_text="true", tickmode="array", tickvals=list(range(n)), range=[n - 0.5, -0.5],
                     scaleanchor="x", constrain="domain", showgrid=False, zeroline=False)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), clickmode="event+select",
                      dragmode=False, hovermode="closest", hoverdistance=-1)
    return fig


def items_csv(items: list[dict], names: list[str] | None = None) -> str:
    """The gallery's list as CSV (index, [name,] true, pred, confidence, second, second_prob)."""
    import pandas as pd

    df = pd.DataFrame(items, columns=["index", "true", "pred", "confidence", "second", "second_prob"])
    if names is not None:
        df.insert(1, "name", [names[i] for i in df["index"]])
    return df.to_csv(index=False, float_format="%.6f")


def _class_label(c):
    return "any" if c is None else str(c)


def _apply_cell_selection(prefix: str) -> None:
    """on_select callback: a clicked confusion cell becomes the gallery's true/pred filter; clicking the chosen cell
    again (plotly then deselects it) clears the filter."""
    state = st.session_state.get(f"{prefix}_confusion")
    points = (state or {}).get("selection", {}).get("points", []) if state else []
    chosen = (st.session_state.get(f"{prefix}_true"), st.session_state.get(f"{prefix}_pred"))
    cell = (int(round(points[0]["y"])), int(round(points[0]["x"]))) if points else (None, None)
    if cell == chosen:
        cell = (None, None)
    st.session_state[f"{prefix}_true"], st.session_state[f"{prefix}_pred"] = cell
    st.session_state[f"{prefix}_scroll"] = cell != (None, None)  # bring the gallery into view on the next run
    _reset_page(prefix)


def _forget_filter_if_new(evaluation, prefix: str) -> None:
    """A filter chosen for one model means nothing for another: clear it when the evaluated set or model changes.

    The fingerprint is the first rows' probabilities: another model changes them, a larger N of the same model
    does not.
    """
    mark = hashlib.sha1(np.ascontiguousarray(evaluation.probs[:64]).tobytes()).hexdigest()
    key = f"{prefix}_source"
    if st.session_state.get(key) not in (None, mark):
        for k in (f"{prefix}_true", f"{prefix}_pred"):
            if k in st.session_state:
                st.session_state[k] = None
        _reset_page(prefix)
    st.session_state[key] = mark


def _scroll_into_view(key: str) -> None:
    """Scroll the page to the element with this key (the gallery after a cell click)."""
    st.html(f"<script>window.parent.document.querySelector('.st-key-{key}')"
            "?.scrollIntoView({behavior: 'smooth', block: 'start'});</script>", unsafe_allow_javascript=True)


def _reset_page(prefix: str) -> None:
    # Only a pager that exists is reset: seeding a widget's state before it is first drawn makes Streamlit warn.
    if f"{prefix}_page" in st.session_state:
        st.session_state[f"{prefix}_page"] = 1


def confusion_ui(evaluation, prefix: str) -> None:
    """The confusion heatmap (counts or row-normalised); choosing a cell sets the gallery filter."""
    normalise = st.toggle("Row-normalised (share of each true class)", key=f"{prefix}_norm")
    chosen = (st.session_state.get(f"{prefix}_true"), st.session_state.get(f"{prefix}_pred"))
    st.plotly_chart(confusion_figure(evaluation.confusion, normalise, highlight=chosen), key=f"{prefix}_confusion",
                    on_select=lambda: _apply_cell_selection(prefix), selection_mode="points",
                    config={"displayModeBar": False})
    st.caption("Click a cell to list its images below. Colour is logarithmic, so rare confusions stand out.")


def gallery_ui(evaluation, images, prefix: str, names: list[str] | None = None, what: str = "test images") -> None:
    """Misclassified images filtered by true/predicted class (or a confusion cell), sorted, paged, downloadable.

    Args:
        evaluation: results on a labelled set.
        images: the images of that set, row i = item i: (N, 28, 28) uint8 or float in [0, 1].
        prefix: widget-key prefix (``{prefix}_true``, ``{prefix}_pred``, ``{prefix}_sort``, ``{prefix}_page``…).
        names: optional per-image names (uploads), shown and written to the CSV.
        what: how to call the images in captions.
    """
    options = [None] + list(range(10))
    c1, c2, c3 = st.columns([1, 1, 2])
    true = c1.selectbox("True class", options, format_func=_class_label, key=f"{prefix}_true",
                        on_change=_reset_page, args=(prefix,))
    pred = c2.selectbox("Predicted class", options, format_func=_class_label, key=f"{prefix}_pred",
                        on_change=_reset_page, args=(prefix,))
    sort = c3.selectbox("Sort", list(SORTS), format_func=SORTS.get, key=f"{prefix}_sort",
                        on_change=_reset_page, args=(prefix,))
    diagonal = true is not None and true == pred
    items = evaluation.items(true, pred, sort, correct=diagonal)
    kind = "correctly classified" if diagonal else "misclassified"
    filt = " · ".join(s for s in (f"true {true}" if true is not None else "",
                                 f"predicted {pred}" if pred is not None else "") if s) or "all classes"
    st.markdown(f"**{len(items):,} {kind} {what}** ({filt})")
    if not items:
        st.info("Nothing here: no image falls in this cell." if true is not None or pred is not None
                else "No mistakes at all on this set.")
        return
    pages = max(1, math.ceil(len(items) / GALLERY_PAGE))
    page_key = f"{prefix}_page"
    if st.session_state.get(page_key, 1) > pages:
        st.session_state[page_key] = 1
    shown = items
    if pages > 1:
        page = st.pagination(pages, key=page_key)
        shown = items[(page - 1) * GALLERY_PAGE: page * GALLERY_PAGE]
    caps = []
    for it in shown:
        name = f" · {names[it['index']]}" if names is not None else f" · #{it['index']}"
        colour = "green" if it["pred"] == it["true"] else "red"
        caps.append(f"true **{it['true']}** → :{colour}[**{it['pred']}**] · {it['confidence'] * 100:.0f} %  \n"
                    f"2nd: {it['second']} ({it['second_prob'] * 100:.0f} %){name}")
    digit_grid_ui([images[it["index"]] for it in shown], caps, cols=GALLERY_COLS, width=GALLERY_CELL)
    suffix = "_".join(s for s in (f"true{true}" if true is not None else "",
                                 f"pred{pred}" if pred is not None else "") if s) or "all"
    st.download_button("Download this list (CSV)", items_csv(items, names), file_name=f"{kind}_{suffix}.csv",
                       mime="text/csv", key=f"{prefix}_csv", on_click="ignore", icon=":material/download:")


def evaluation_ui(evaluation, images, prefix: str = "eval", names: list[str] | None = None,
                  what: str = "test images") -> None:
    """Accuracy, report table, confusion heatmap and the gallery that follows the chosen cell."""
    _forget_filter_if_new(evaluation, prefix)
    n = len(evaluation.y_true)
    errors = int((evaluation.y_pred != evaluation.y_true).sum())
    m1, m2, m3 = st.columns(3)
    m1.metric("Accuracy", f"{evaluation.accuracy * 100:.2f} %" if n else "—")
    m2.metric("Mistakes", f"{errors:,}")
    m3.metric("Images", f"{n:,}")
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.subheader("Confusion matrix")
        confusion_ui(evaluation, prefix)
    with right:
        st.subheader("Classification report")
        report_table_ui(evaluation)
    with st.container(key=f"{prefix}_gallery"):
        st.subheader("Gallery")
        gallery_ui(evaluation, images, prefix, names=names, what=what)
    if st.session_state.pop(f"{prefix}_scroll", False):
        _scroll_into_view(f"{prefix}_gallery")
