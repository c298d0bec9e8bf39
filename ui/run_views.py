"""Views of training runs: live loss/accuracy curves, several runs overlaid, the comparison table, layer tables.

Figures are pure ``*_figure`` functions of history lists (testable without Streamlit); ``*_ui`` functions draw.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from lenet.store import serving_bytes
from ui import state

TRAIN_COLOUR, VAL_COLOUR = "#1f77b4", "#ff7f0e"
RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf")

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


# ---------------------------------------------------------------- comparing stored runs
def compare_ui() -> None:
    """Pick stored runs, overlay their curves, compare them in a table, download a model file."""
    runs, _problems = state.all_runs()  # the sidebar already reports damaged runs
    if not runs:
        st.info("No runs stored yet: train one in the other tab.")
        return
    by_path = {str(r.path): r for r in runs}
    mine = [p for p in st.session_state.get(state.SESSION_RUNS, []) if p in by_path]
    ss = st.session_state
    if "compare_runs" not in ss:
        default = list(dict.fromkeys(mine[-4:] + [state.active_run_path()]))
        ss["compare_runs"] = [p for p in default if p in by_path][:5] or list(by_path)[:1]
    else:  # runs trained since the last visit join the comparison; deleted ones leave it
        new = [p for p in mine if p not in ss.get("compare_seen", []) and p not in ss["compare_runs"]]
        ss["compare_runs"] = [p for p in ss["compare_runs"] + new if p in by_path]
    ss["compare_seen"] = mine
    labels = {p: state.model_label(r) for p, r in by_path.items()}  # computed now: format_func must be pure
    chosen = st.multiselect("Runs to compare", list(by_path), key="compare_runs", format_func=labels.get)
    if not chosen:
        st.caption("Pick one or more runs.")
        return
    picked = [by_path[p] for p in chosen]
    st.plotly_chart(compare_figure(picked), key="compare_chart", config={"displayModeBar": False})
    compare_table_ui(picked)
    st.caption("Accuracy on the 10,000 MNIST test images; precision, recall and F1 are macro averages.")
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    # The run being looked at: the active model when it is compared, else the newest of this session's.
    active = state.active_run_path()
    look = active if active in chosen else next((p for p in reversed(mine) if p in chosen), chosen[0])
    if st.session_state.get("compare_download_run") not in chosen or ss.get("compare_download_look") != look:
        ss["compare_download_run"] = look  # follows the run looked at until the user picks another
    ss["compare_download_look"] = look
    target = c1.selectbox("Model file to download", chosen, key="compare_download_run", format_func=labels.get)
    model_file = by_path[target].model_file
    c2.download_button("Download model.keras", data=lambda: Path(model_file).read_bytes(),
                       file_name=f"{by_path[target].id}.keras", mime="application/octet-stream",
                       key="compare_download", on_click="ignore", icon=":material/download:")
    c3.download_button("Download model.tflite", data=lambda: serving_bytes(Path(model_file).parent),
                       file_name=f"{by_path[target].id}.tflite", mime="application/octet-stream",
                       key="compare_download_tflite", on_click="ignore", icon=":material/download:",
                       help="The serving format (LiteRT / TensorFlow Lite), for phones and the web.")
