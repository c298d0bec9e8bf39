"""Reusable views: training curves, run comparison, confusion heatmap, report table, digit grids, gallery.

Views take plain data — an ``lenet.evaluate.Evaluation`` plus the images it was computed on, a history list —
never MNIST specifically, so the Upload page can show a user's labelled digits with the same code. Figures are
built by pure ``*_figure`` functions (testable without Streamlit); ``*_ui`` functions draw and return choices.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

TRAIN_COLOUR, VAL_COLOUR = "#1f77b4", "#ff7f0e"
RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf")
GALLERY_PAGE = 24  # images per gallery page
GALLERY_COLS = 8
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


def digit_grid_ui(images, captions: list[str], cols: int = 12, scale: int = 3) -> None:
    """Digits in rows of ``cols``, each with a markdown caption under it."""
    images = list(images)
    for start in range(0, len(images), cols):
        row = st.columns(cols)
        for col, img, cap in zip(row, images[start:start + cols], captions[start:start + cols]):
            with col:
                st.image(digit_pixels(img, scale), output_format="PNG")
                st.caption(cap)


def prediction_strip_ui(images, y_true, probs, cols: int = 12) -> None:
    """Digits with the model's prediction under each: green when right, red when wrong."""
    probs = np.asarray(probs)
    preds = probs.argmax(axis=1)
    caps = [label_markdown(None if y_true is None else int(t), int(p), float(pr[p]))
            for t, p, pr in zip(y_true if y_true is not None else [None] * len(preds), preds, probs)]
    digit_grid_ui(images, caps, cols=cols)


# ---------------------------------------------------------------- training curves
def _layout(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=70, b=10), hovermode="x unified",
                      legend=dict(orientation="h", yanchor="bottom", y=1.12, xanchor="left", x=0))
    fig.update_xaxes(title_text="epoch", dtick=1)
    return fig


def _epoch_x(row: dict, points: list[dict]) -> float:
    """Where an epoch's row sits on the x axis: its end, or — for an epoch cut short by Stop — where it stopped."""
    if row.get("partial") and points:
        return max(p["x"] for p in points)
    return row["epoch"]


def training_figure(points: list[dict], history: list[dict], epochs: int | None = None,
                    height: int = 340) -> go.Figure:
    """Loss and accuracy, train vs validation.

    Args:
        points: within-epoch training points ``{"x": epochs done (float), "loss", "accuracy"}``.
        history: per-epoch rows (``epoch``, ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``).
        epochs: planned epochs, to fix the x range while training (None: fit the data).
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"), horizontal_spacing=0.08)
    for col, metric in ((1, "loss"), (2, "accuracy")):
        first = col == 1
        if points:
            # The running mean restarts each epoch: break the line there instead of drawing a jump.
            xs, ys = [], []
            for i, p in enumerate(points):
                if i and math.floor(p["x"] - 1e-9) != math.floor(points[i - 1]["x"] - 1e-9):
                    xs.append(None)
                    ys.append(None)
                xs.append(p["x"])
                ys.append(p[metric])
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="lines", name="train (running mean in the epoch)",
                line=dict(color=TRAIN_COLOUR, width=1.5), opacity=0.55, legendgroup="run", showlegend=first,
                hovertemplate=f"train {metric} %{{y:.4f}}<extra></extra>"), row=1, col=col)
        rows = [h for h in history if metric in h]
        if rows:
            fig.add_trace(go.Scatter(
                x=[_epoch_x(h, points) for h in rows], y=[h[metric] for h in rows], mode="lines+markers",
                name="train (epoch)",
                line=dict(color=TRAIN_COLOUR, width=2.5), marker=dict(size=8), legendgroup="train",
                showlegend=first, hovertemplate=f"train {metric} %{{y:.4f}}<extra></extra>"), row=1, col=col)
        val = [h for h in history if f"val_{metric}" in h]
        if val:
            fig.add_trace(go.Scatter(
                x=[_epoch_x(h, points) for h in val], y=[h[f"val_{metric}"] for h in val], mode="lines+markers",
                name="validation", line=dict(color=VAL_COLOUR, width=2.5), marker=dict(size=8, symbol="diamond"),
                legendgroup="val", showlegend=first,
                hovertemplate=f"validation {metric} %{{y:.4f}}<extra></extra>"), row=1, col=col)
    if epochs:
        fig.update_xaxes(range=[0, epochs + 0.05])
    return _layout(fig, height)


def compare_figure(runs, height: int = 360) -> go.Figure:
    """Validation (solid) and training (dotted) curves of several runs, one colour per run."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Validation accuracy", "Loss (validation solid, train dotted)"),
                        horizontal_spacing=0.08)
    for i, run in enumerate(runs):
        colour = RUN_COLOURS[i % len(RUN_COLOURS)]
        hist = run.meta.get("history") or []
        x = [h.get("epoch") for h in hist]
        group = dict(legendgroup=run.id, name=run.name)
        fig.add_trace(go.Scatter(x=x, y=[h.get("val_accuracy") for h in hist], mode="lines+markers",
                                 line=dict(color=colour), showlegend=True, **group), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=[h.get("val_loss") for h in hist], mode="lines+markers",
                                 line=dict(color=colour), showlegend=False, **group), row=1, col=2)
        fig.add_trace(go.Scatter(x=x, y=[h.get("loss") for h in hist], mode="lines",
                                 line=dict(color=colour, dash="dot"), showlegend=False, **group), row=1, col=2)
    return _layout(fig, height)


def compare_table(runs) -> pd.DataFrame:
    """One row per run, like the seeds' comparison: accuracy, macro precision/recall/F1, loss, epochs, time, size."""
    rows = []
    for run in runs:
        meta = run.meta
        macro = (meta.get("report") or {}).get("macro avg", {})
        hist = meta.get("history") or []
        epochs = len(hist) - (1 if hist and hist[-1].get("partial") else 0)
        rows.append({
            "model": run.name, "architecture": meta.get("arch", "?"),
            "accuracy (%)": None if meta.get("test_accuracy") is None else meta["test_accuracy"] * 100,
            "precision": macro.get("precision"),
            "recall": macro.get("recall"), "F1": macro.get("f1-score"),
            "final train loss": hist[-1].get("loss") if hist else None,
            "epochs": f"{epochs}" + (" + part" if hist and hist[-1].get("partial") else ""),
            "training time (s)": meta.get("train_seconds"), "parameters": meta.get("params"),
            "status": meta.get("status", "?"),
        })
    return pd.DataFrame(rows)


def compare_table_ui(runs) -> None:
    fmt = st.column_config.NumberColumn
    st.dataframe(compare_table(runs), hide_index=True, column_config={
        "accuracy (%)": fmt(format="%.2f"), "precision": fmt(format="%.4f"), "recall": fmt(format="%.4f"),
        "F1": fmt(format="%.4f"), "final train loss": fmt(format="%.4f"), "training time (s)": fmt(format="%.1f"),
        "parameters": fmt(format="localized")})


def layer_table_ui(rows: list[dict]) -> None:
    """The architecture as the seed's Table 1: layer, type, output shape, parameters."""
    df = pd.DataFrame(rows)
    st.dataframe(df, hide_index=True, height=35 * (len(df) + 1) + 3, column_config={
        "layer": "Layer", "type": "Type", "output": "Output shape",
        "params": st.column_config.NumberColumn("Parameters", format="localized")})


# ---------------------------------------------------------------- evaluation
def report_table_ui(evaluation) -> None:
    """scikit-learn's classification report as a table: per class, then macro and weighted averages."""
    fmt = st.column_config.NumberColumn
    rows = evaluation.report_rows()
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


def cell_items(evaluation, true: int | None, pred: int | None, sort: str = "confidence_desc") -> list[dict]:
    """The items of a confusion filter: misclassified ones, or — for a diagonal cell — the correct ones.

    Returns:
        Dicts with index, true, pred, confidence, second, second_prob (as ``Evaluation.misclassified``).
    """
    if true is None or pred is None or true != pred:
        return evaluation.misclassified(true=true, pred=pred, sort=sort)
    probs = evaluation.probs
    idx = np.flatnonzero((evaluation.y_true == true) & (evaluation.y_pred == true))
    order2 = np.argsort(-probs[idx], axis=1)[:, :2] if len(idx) else np.zeros((0, 2), int)
    items = [{"index": int(i), "true": int(true), "pred": int(true), "confidence": float(probs[i, true]),
              "second": int(o[1]), "second_prob": float(probs[i, o[1]])} for i, o in zip(idx, order2)]
    if sort != "index":
        items.sort(key=lambda r: r["confidence"], reverse=sort == "confidence_desc")
    return items


def items_csv(items: list[dict], names: list[str] | None = None) -> str:
    """The gallery's list as CSV (index, [name,] true, pred, confidence, second, second_prob)."""
    df = pd.DataFrame(items, columns=["index", "true", "pred", "confidence", "second", "second_prob"])
    if names is not None:
        df.insert(1, "name", [names[i] for i in df["index"]])
    return df.to_csv(index=False, float_format="%.6f")


def _class_label(c):
    return "any" if c is None else str(c)


def _apply_cell_selection(prefix: str) -> None:
    """on_select callback: a clicked/selected confusion cell becomes the gallery's true/pred filter."""
    state = st.session_state.get(f"{prefix}_confusion")
    points = (state or {}).get("selection", {}).get("points", []) if state else []
    if not points:
        return
    pt = points[0]
    st.session_state[f"{prefix}_true"] = int(round(pt["y"]))
    st.session_state[f"{prefix}_pred"] = int(round(pt["x"]))
    _reset_page(prefix)


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
    items = cell_items(evaluation, true, pred, sort)
    diagonal = true is not None and true == pred
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
    digit_grid_ui([images[it["index"]] for it in shown], caps, cols=GALLERY_COLS)
    suffix = "_".join(s for s in (f"true{true}" if true is not None else "",
                                 f"pred{pred}" if pred is not None else "") if s) or "all"
    st.download_button("Download this list (CSV)", items_csv(items, names), file_name=f"{kind}_{suffix}.csv",
                       mime="text/csv", key=f"{prefix}_csv", on_click="ignore", icon=":material/download:")


def evaluation_ui(evaluation, images, prefix: str = "eval", names: list[str] | None = None,
                  what: str = "test images") -> None:
    """Accuracy, report table, confusion heatmap and the gallery that follows the chosen cell."""
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
    st.subheader("Gallery")
    gallery_ui(evaluation, images, prefix, names=names, what=what)
