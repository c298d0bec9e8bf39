"""UI side of the Inside page: caches per model (training-set embedding, robustness curves, layer table), the
digit being explained, and plotly figures for feature maps, filters, saliency, probabilities and curves.

Figures are built by pure ``*_figure`` functions from plain arrays; TensorFlow and OpenCV are imported lazily
(inside functions) so that importing this module from a page stays cheap.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from lenet.store import model_mtime
from ui import state
from ui.lru import ByteLRU

NN_POOLS = (10_000, 60_000)  # training digits searched for neighbours; 60k is the whole set
CURVE_NS = (1000, 10_000)  # MNIST test images per curve point; 1,000: sampling noise ≤ ±1.3 points, 10× faster
MAP_COLS = 10  # feature maps per row in a layer's grid
RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")

# ---------------------------------------------------------------- the digit
def digit_from_current(current: dict) -> np.ndarray | None:
    """The (28, 28) float32 model input of ``CURRENT_DIGIT``: its ``x`` if given, a 28×28 float image as is,
    otherwise the image through the default preprocessing (the path every page uses)."""
    if not current:
        return None
    if current.get("x") is not None:
        return np.asarray(current["x"], np.float32).reshape(28, 28)
    img = current.get("image")
    if img is None:
        return None
    img = np.asarray(img)
    if img.shape == (28, 28) and img.dtype.kind == "f" and 0 <= img.min() and img.max() <= 1:
        return img.astype(np.float32)
    from lenet.preprocess import preprocess

    pre = preprocess(img, current.get("style") or "mnist")
    return None if pre.empty else pre.x

# ---------------------------------------------------------------- caches per model
@st.cache_data(show_spinner=False, max_entries=32)
def _layer_table(path: str, mtime: float) -> list[dict]:
    from lenet.models import layer_table

    return layer_table(state.keras_model(path))

def layer_table(path: str) -> list[dict]:
    """The active model's layer table (type, output shape, parameters), cached per run."""
    return _layer_table(path, model_mtime(path))

# Server-wide and read-only, like st.cache_resource, but filled here so the first computation can report progress
# (a cached function must not draw on the page). 60,000 float16 features of FC500 are 60 MB: three such fit.
_EMBEDDINGS = ByteLRU(200 * 2 ** 20)
_CURVES = ByteLRU(4 * 2 ** 20)


def train_embedding(path: str, n: int = 60_000, progress=None) -> np.ndarray:
    """Unit-norm penultimate features of the first ``n`` MNIST training digits, (n, D) float16 (half the memory;
    cosine distances stay within 1e-3). Computed once per (run, n) and shared read-only by every session.

    Args:
        progress: optional ``f(done, total)`` while it is computed (not called when cached).
    """
    key = (path, model_mtime(path), int(n))
    emb = _EMBEDDINGS.get(key)
    if emb is None:
        from lenet.explain import embed

        emb = embed(state.keras_model(path), state.get_mnist(progress=False).x_train[:n],
                    progress=progress).astype(np.float16)
        _EMBEDDINGS.put(key, emb)
    return emb


def curves(path: str, n: int = 1000, progress=None) -> dict:
    """Accuracy under rotation, shift and scale on the first ``n`` MNIST test images, cached per (run, n).

    Args:
        progress: optional ``f(done, total, kind)`` after each curve while it is computed.
    """
    key = (path, model_mtime(path), int(n))
    found = _CURVES.get(key)
    if found is None:
        from lenet.infer import make_classifier
        from lenet.robust import robustness_curves

        data = state.get_mnist(progress=False)
        found = robustness_curves(make_classifier(state.load_model(path)), data.x_test[:n], data.y_test[:n],
                                  progress=progress)
        _CURVES.put(key, found)
    return found


def n_settings() -> int:
    """How many distorted copies of the test set one model's curves take."""
    from lenet.robust import SWEEPS

    return sum(len(values) for _, values in SWEEPS.values())

def is_augmented(run) -> bool:
    """Whether a run was trained with augmentation (its config's ``augment`` has a non-zero setting)."""
    aug = (run.meta.get("config") or {}).get("augment") or {}
    return any(float(v or 0) for v in aug.values())


def counterparts(runs, active_path: str) -> list[str]:
    """The best plain and the best augmented complete run other than the active one (by MNIST test accuracy),
    so both kinds can be overlaid on the robustness curves."""
    out = []
    for want in (False, True):
        cands = [r for r in runs if str(r.path) != active_path and is_augmented(r) == want and not r.stopped
                 and r.accuracy is not None]
        if cands:
            out.append(str(max(cands, key=lambda r: r.accuracy).path))
    return out

# ---------------------------------------------------------------- figures
def _square_axes(fig: go.Figure, n: int = 1) -> None:
    """Image-like axes for the first ``n`` subplots: no ticks, square pixels, row 0 at the top."""
    for k in range(1, n + 1):
        sx = "" if k == 1 else str(k)
        fig.layout[f"xaxis{sx}"].update(showticklabels=False, ticks="", showgrid=False, zeroline=False)
        fig.layout[f"yaxis{sx}"].update(showticklabels=False, ticks="", showgrid=False, zeroline=False,
                                        autorange="reversed",
                                        scaleanchor=f"x{sx}")

def mosaic(maps: np.ndarray, cols: int = MAP_COLS, gap: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(C, H, W) -> one (rows·(H+gap)−gap, cols·(W+gap)−gap) array with NaN gaps (transparent in plotly), and the
    same-shaped map index (−1 in the gaps) for hover text."""
    c, h, w = maps.shape
    cols = max(1, min(cols, c))
    rows = math.ceil(c / cols)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan, np.float32)
    idx = np.full(out.shape, -1, np.int32)
    for k in range(c):
        r, q = divmod(k, cols)
        out[r * (h + gap): r * (h + gap) + h, q * (w + gap): q * (w + gap) + w] = maps[k]
        idx[r * (h + gap): r * (h + gap) + h, q * (w + gap): q * (w + gap) + w] = k
    return out, idx

def feature_map_figure(fmap: np.ndarray, title: str, cols: int = MAP_COLS) -> go.Figure:
    """A layer's (H, W, C) output as a grid of C maps sharing one colour scale (so strong maps look strong)."""
    maps = np.transpose(np.asarray(fmap, np.float32), (2, 0, 1))
    grid, idx = mosaic(maps, cols)
    lo, hi = float(np.nanmin(grid)), float(np.nanmax(grid))
    diverging = lo < -1e-6  # tanh maps (and linear convs) have a sign worth showing
    zmax = max(abs(lo), abs(hi)) or 1.0
    fig = go.Figure(go.Heatmap(
        z=np.where(np.isnan(grid), None, grid).tolist(), customdata=idx.tolist(),
        colorscale="RdBu_r" if diverging else "Viridis", zmid=0 if diverging else None,
        zmin=-zmax if diverging else 0, zmax=zmax, showscale=True, colorbar=dict(thickness=10),
        hovertemplate="map %{customdata}<br>value %{z:.3f}<extra></extra>"))
    rows = grid.shape[0]
    width_px = grid.shape[1]
    cell = max(4, min(12, 700 // max(width_px, 1)))
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=min(900, 60 + rows * cell),
                      margin=dict(l=5, r=5, t=35, b=5), plot_bgcolor="rgba(0,0,0,0)")
    _square_axes(fig)
    fig.update_xaxes(constrain="domain")
    fig.update_yaxes(constrain="domain")
    return fig

def filters_figure(kernels: np.ndarray, title: str = "conv1 filters") -> go.Figure:
    """(F, k, k) kernels as a grid, zero white, positive red, negative blue (one scale for all)."""
    grid, idx = mosaic(np.asarray(kernels, np.float32), cols=MAP_COLS)
    zmax = float(np.nanmax(np.abs(grid))) or 1.0
    fig = go.Figure(go.Heatmap(
        z=np.where(np.isnan(grid), None, grid).tolist(), customdata=idx.tolist(), colorscale="RdBu_r", zmid=0,
        zmin=-zmax, zmax=zmax, colorbar=dict(thickness=10),
        hovertemplate="filter %{customdata}<br>weight %{z:.3f}<extra></extra>"))
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=60 + grid.shape[0] * 14,
                      margin=dict(l=5, r=5, t=35, b=5), plot_bgcolor="rgba(0,0,0,0)")
    _square_axes(fig)
    fig.update_xaxes(constrain="domain")
    fig.update_yaxes(constrain="domain")
    return fig

def saliency_figure(x: np.ndarray, panels: list[tuple[str, np.ndarray]], height: int = 300) -> go.Figure:
    """The input digit, then one signed saliency map per panel (red = evidence for, blue = against), the digit's
    outline drawn over each so the maps can be read against the strokes."""
    fig = make_subplots(rows=1, cols=1 + len(panels), subplot_titles=["input"] + [t for t, _ in panels],
                        horizontal_spacing=0.03)
    fig.add_trace(go.Heatmap(z=np.asarray(x).tolist(), colorscale="gray", showscale=False,
                             hovertemplate="(%{y}, %{x}) ink %{z:.2f}<extra></extra>"), row=1, col=1)
    for i, (title, s) in enumerate(panels, start=2):
        zmax = float(np.abs(s).max()) or 1.0
        fig.add_trace(go.Heatmap(z=np.asarray(s).tolist(), colorscale="RdBu_r", zmid=0, zmin=-zmax, zmax=zmax,
                                 showscale=False, hovertemplate="(%{y}, %{x}) %{z:.3g}<extra></extra>"),
                      row=1, col=i)
        fig.add_trace(go.Contour(z=np.asarray(x).tolist(), contours=dict(start=0.5, end=0.5, coloring="none"),
                                 line=dict(color="rgba(0,0,0,0.45)", width=1), showscale=False, hoverinfo="skip"),
                      row=1, col=i)
    fig.update_layout(height=height, margin=dict(l=5, r=5, t=30, b=5), showlegend=False)
    _square_axes(fig, 1 + len(panels))
    return fig

CURVE_PANELS = (("rotation", "Rotation (degrees)"), ("shift", "Shift (pixels)"), ("scale", "Scale (× size)"))

def curves_figure(series: list[tuple[str, dict]], height: int = 340) -> go.Figure:
    """Accuracy vs rotation, shift (x solid, y dotted) and scale, one colour per model.

    Args:
        series: ``(legend label, curves)`` pairs, curves as from ``lenet.robust.robustness_curves``.
    """
    fig = make_subplots(rows=1, cols=3, subplot_titles=[t for _, t in CURVE_PANELS], horizontal_spacing=0.06,
                        shared_yaxes=True)
    for i, (label, c) in enumerate(series):
        colour = RUN_COLOURS[i % len(RUN_COLOURS)]
        parts = (("rotation", 1, "solid", ""), ("shift_x", 2, "solid", " · x"), ("shift_y", 2, "dot", " · y"),
                 ("scale", 3, "solid", ""))
        for kind, col, dash, suffix in parts:
            if kind not in c:
                continue
            fig.add_trace(go.Scatter(
                x=c[kind]["values"], y=c[kind]["accuracy"], mode="lines+markers", name=label, legendgroup=label,
                showlegend=kind == "rotation", line=dict(color=colour, dash=dash), marker=dict(size=5),
                hovertemplate=f"{label}{suffix}<br>%{{x}}: %{{y:.1%}}<extra></extra>"), row=1, col=col)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=1, title_text="MNIST test accuracy")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0))
    return fig
