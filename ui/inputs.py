"""UI helpers of the input pages (Draw, Upload, Preprocessing Lab): cached image work, the style picker,
stage strips, probability bars and sheets with their boxes drawn on.

Computation stays in ``lenet`` (``segment``, ``preprocess``, ``study``); this module only caches it per
(model file, data hash, style) and draws it. Models are passed in by the pages (``ui.state.active_model``) and never
hashed: the cache keys carry the run path and its file time instead.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image, ImageDraw, ImageFont

from lenet import config
from lenet.preprocess import DEFAULT_PAD_SCALE, DEFAULT_STYLE, PAD_RANGE, STYLES, format_style

STYLE_HELP = {
    "none": "the plain image, greyed and resized to 28×28",
    "thresh": "smoothing + Otsu threshold, then resized",
    "crop_tight": "cropped to the ink and stretched to 28×28 (aspect lost)",
    "crop_sq": "cropped to the ink, padded to a square, resized",
    "pad": "the square with a margin around it (pad scale)",
    "mnist": "what MNIST did: fitted in 20×20 keeping aspect, centre of mass centred (default)",
}
GOOD, BAD, UNKNOWN = (22, 163, 74), (220, 38, 38), (37, 99, 235)  # box colours: right, wrong, no true label
DOUBT = (217, 119, 6)  # no true label and read with low confidence
STAGE_SIDE = 112  # px: each stage is shown fitted in a square this big


# ---------------------------------------------------------------------------------------------------- widgets
def style_ui(prefix: str, default: str = DEFAULT_STYLE) -> tuple[str, float]:
    """A style picker (all styles, with a pad-scale slider for "pad"); returns (style, pad_scale)."""
    c1, c2 = st.columns([3, 2])
    style = c1.selectbox("Preprocessing style", STYLES, index=STYLES.index(default), key=f"{prefix}_style",
                         persist_state="session", help="\n".join(f"- **{s}**: {h}" for s, h in STYLE_HELP.items()))
    scale = c2.slider("Pad scale", PAD_RANGE[0], PAD_RANGE[1], DEFAULT_PAD_SCALE, step=0.1, key=f"{prefix}_pad",
                      disabled=style != "pad", persist_state="session",
                      help="The square around the digit is enlarged by this factor (style pad only).")
    st.caption(f"**{style}**: {STYLE_HELP[style]}")
    return style, float(scale)


# ---------------------------------------------------------------------------------------------------- pictures
def display_image(a: np.ndarray, side: int = STAGE_SIDE) -> np.ndarray:
    """Any stage (grey uint8, float in [0, 1], RGBA canvas) -> uint8 picture fitted in side x side.

    Small images are enlarged by whole pixels (crisp, so the 28x28 input shows its real pixels); large ones shrunk.
    """
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[2] == 4:  # the canvas: transparent where nothing was drawn -> black
        a = (a[:, :, :3].astype(np.float32) * (a[:, :, 3:4] / 255.0)).astype(np.uint8)
    if a.dtype != np.uint8:
        a = (np.clip(a.astype(np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)
    h, w = a.shape[:2]
    if max(h, w) * 2 <= side:
        # Up to 28 px (the fitted 20x20 digit, the model input) one scale for all, so their sizes compare.
        k = side // max(h, w, config.IMAGE_SIZE)
        return np.repeat(np.repeat(a, k, axis=0), k, axis=1)
    f = side / max(h, w)
    im = Image.fromarray(a).resize((max(1, round(w * f)), max(1, round(h * f))),
                                   Image.LANCZOS if f < 1 else Image.NEAREST)
    return np.asarray(im)


def stages_ui(stages: dict[str, np.ndarray], side: int = STAGE_SIDE) -> None:
    """Every stage of a preprocessing side by side, in order, ending with the 28x28 the model saw."""
    cols = st.columns(len(stages))
    for col, (name, img) in zip(cols, stages.items()):
        a = np.asarray(img)
        with col:
            st.image(display_image(a, side), output_format="PNG")
            st.caption(f"**{name}**  \n{a.shape[1]}×{a.shape[0]}")


def big_digit(d: int | str, colour: str = "inherit") -> None:
    st.markdown(f"<div class='big-digit' style='font-size:7rem;font-weight:700;line-height:1;color:{colour}'>{d}</div>",
                unsafe_allow_html=True)


def draw_boxes(grey: np.ndarray, boxes: list, preds: list[int], truths: list[int | None] | None = None,
               max_side: int = 1400, doubtful: list[bool] | None = None) -> Image.Image:
    """The page with each digit's box and predicted digit drawn on it: green right, red wrong, blue unlabelled;
    a doubtful digit (low confidence) has a "?" after it and an amber box when its truth is unknown.

    Args:
        grey: (H, W) uint8 page.
        boxes: (x, y, w, h) per digit, in the page's pixels.
        preds: predicted digit per box.
        truths: true digit per box (None or -1: unknown).
        max_side: the picture is shrunk to this longer side first, so text and lines keep a readable size.
        doubtful: per box, read with low confidence.
    """
    h, w = grey.shape[:2]
    f = min(1.0, max_side / max(h, w))
    im = Image.fromarray(grey).convert("RGB")
    if f < 1:
        im = im.resize((max(1, round(w * f)), max(1, round(h * f))), Image.LANCZOS)
    draw = ImageDraw.Draw(im)
    sizes = [b[3] * f for b in boxes] or [20]
    font = ImageFont.load_default(size=max(12, int(np.median(sizes) * 0.45)))
    line = max(2, int(round(max(im.size) / 500)))
    truths = truths if truths is not None else [None] * len(boxes)
    doubtful = doubtful if doubtful is not None else [False] * len(boxes)
    for (x, y, bw, bh), p, t, doubt in zip(boxes, preds, truths, doubtful):
        known = t is not None and t >= 0
        colour = (DOUBT if doubt else UNKNOWN) if not known else GOOD if p == t else BAD
        x0, y0, x1, y1 = x * f, y * f, (x + bw) * f, (y + bh) * f
        draw.rectangle([x0, y0, x1, y1], outline=colour, width=line)
        label = (str(p) if not known or p == t else f"{p}≠{t}") + ("?" if doubt else "")
        tb = draw.textbbox((0, 0), label, font=font)
        ty = y0 - (tb[3] - tb[1]) - 2 * line if y0 > (tb[3] - tb[1]) + 3 * line else y1 + line
        draw.rectangle([x0, ty, x0 + tb[2] - tb[0] + 2 * line, ty + tb[3] - tb[1] + 2 * line], fill=colour)
        draw.text((x0 + line - tb[0], ty + line - tb[1]), label, fill=(255, 255, 255), font=font)
    return im


# ---------------------------------------------------------------------------------------------------- cached work
def content_id(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()[:16]


def model_key(run) -> tuple[str, float]:
    """(run path, model file time): a cache key that changes when the run's model file is replaced."""
    from lenet.store import model_mtime

    return str(run.path), model_mtime(run.path)


@dataclass
class Segmented:
    """The digits of one image: boxes in reading order and the crops, flat in the same order."""

    rows: list[list[tuple[int, int, int, int]]]
    crops: list[np.ndarray]
    polarity: str

    @property
    def boxes(self) -> list[tuple[int, int, int, int]]:
        return [b for row in self.rows for b in row]

    @property
    def places(self) -> list[tuple[int, int]]:
        """(row, column) of each digit, 0-based."""
        return [(r, c) for r, row in enumerate(self.rows) for c in range(len(row))]


@st.cache_data(show_spinner=False, max_entries=8)
def segment(cid: str, _grey: np.ndarray) -> Segmented:
    """A sheet -> every digit, cut as ``lenet.segment.read_sheet`` reads them (segmented once; styles only
    re-preprocess the crops)."""
    from lenet.preprocess import detect_polarity
    from lenet.segment import crop_digits, find_digits

    pol = detect_polarity(_grey)
    rows = find_digits(_grey, polarity=pol)
    crops = [c for row in crop_digits(_grey, rows) for c in row] if rows else []
    return Segmented(rows=rows, crops=crops, polarity=pol)


@st.cache_data(show_spinner=False, max_entries=32)
def _squares(dkey: str, _crops, _pols):
    from lenet.study import squares_of

    return squares_of(_crops, _pols)


@st.cache_data(show_spinner=False, max_entries=160)  # 10 full studies of 16 styles
def _predict(path: str, mtime: float, dkey: str, style: str, _model, _crops, _pols, _squares=None):
    """(x, probs) of crops preprocessed with one style label, by one model; cached per model file, data, style."""
    from lenet.infer import predict_probs
    from lenet.study import preprocess_crops

    x = preprocess_crops(_crops, style, _pols, _squares)
    probs = predict_probs(_model, x) if len(x) else np.zeros((0, 10), np.float32)
    return x, np.asarray(probs, np.float32)


def predict_crops(run, model, crops, polarities, style: str, pad_scale: float = DEFAULT_PAD_SCALE):
    """Preprocess every crop with the style and classify them in one model call (cached).

    Returns:
        (x, probs): (N, 28, 28) float32 and (N, 10) float32.
    """
    from lenet.study import data_key

    label = format_style(style, pad_scale)
    return _predict(*model_key(run), data_key(crops, [], polarities), label, model, crops, polarities)


def study_ui(run, model, crops, labels, polarities, styles, pad_scales):
    """The preprocessing study with a progress bar, each step cached per (model file, data, style).

    Returns:
        ``lenet.study.Study``.
    """
    from lenet.study import Study, StyleScore, data_key, study_steps

    path, mtime = model_key(run)
    dkey = data_key(crops, labels, polarities)
    steps = study_steps(styles, pad_scales)
    bar = st.progress(0.0, text="Preparing the crops…")
    squares = _squares(dkey, crops, polarities)
    scores = {}
    for i, step in enumerate(steps):
        bar.progress(i / len(steps), text=f"Style {step} ({i + 1}/{len(steps)}) on {len(crops)} digits…")
        x, probs = _predict(path, mtime, dkey, step, model, crops, polarities, squares)
        scores[step] = StyleScore(style=step, x=x, probs=probs, labels=np.asarray(labels, int))
    bar.empty()
    return Study(scores=scores, styles=tuple(styles), pad_scales=tuple(float(s) for s in pad_scales))


@dataclass
class LabelledSet:
    """Crops with true labels, ready for the study."""

    crops: list[np.ndarray]
    labels: list[int]
    polarities: list[str | None]
    names: list[str]


@st.cache_data(show_spinner="Reading the sample sheet…")
def sample_set() -> tuple[np.ndarray, Segmented, list[int]]:
    """The bundled sample sheet: the page, its digits and their true labels (from its labels file).

    Raises:
        ValueError: the labels file does not match the digits found.
    """
    from lenet.io import decode_image
    from lenet.sheet import load_labels
    from lenet.study import labels_for_rows

    data = config.SAMPLE_SHEET.read_bytes()
    grey = decode_image(data)
    seg = segment(content_id(data), grey)
    labels = labels_for_rows(load_labels(config.SAMPLE_SHEET_LABELS), [len(r) for r in seg.rows])
    return grey, seg, labels


def sample_labelled() -> LabelledSet:
    _, seg, labels = sample_set()
    names = [f"sample r{r + 1}c{c + 1}" for r, c in seg.places]
    return LabelledSet(list(seg.crops), list(labels), [seg.polarity] * len(seg.crops), names)


# ---------------------------------------------------------------------------------------------------- upload sources
def new_source(name: str, data: bytes, seq: str = "") -> dict:
    """An uploaded file as the Upload page keeps it in ``UPLOAD_SOURCES`` (bytes kept: survives page switches)."""
    return {"name": str(name), "data": bytes(data), "cid": content_id(str(name).encode() + b"\0" + data), "seq": seq}


def sample_source() -> dict:
    """The bundled sample sheet as an upload, its true labels typed in (one row's pattern when all rows agree)."""
    from lenet.sheet import load_labels

    grid = load_labels(config.SAMPLE_SHEET_LABELS)
    rows = {"".join(map(str, r)) for r in grid}
    seq = rows.pop() if len(rows) == 1 else "\n".join("".join(map(str, r)) for r in grid)
    return new_source(config.SAMPLE_SHEET.name, config.SAMPLE_SHEET.read_bytes(), seq=seq)


# ---------------------------------------------------------------------------------------------------- study charts
def style_figure(accuracy: dict[str, float], seed: dict[str, float] | None = None, height: int = 360) -> go.Figure:
    """Accuracy per style as bars (the best in green), with the seed study's figures as markers when given."""
    styles = list(accuracy)
    acc = [accuracy[s] for s in styles]
    top = max((a for a in acc if not np.isnan(a)), default=np.nan)
    colours = ["#16a34a" if a == top else "#2563eb" for a in acc]  # every style that ties for best
    fig = go.Figure(go.Bar(x=styles, y=acc, marker_color=colours, name="this model, these digits",
                           text=[f"{a * 100:.0f}%" for a in acc], textposition="outside",
                           hovertemplate="%{x}: %{y:.1%}<extra></extra>"))
    if seed:
        xs = [s for s in styles if s in seed]
        fig.add_trace(go.Scatter(x=xs, y=[seed[s] for s in xs], mode="markers", name="seed study (scanned sheet)",
                                 marker=dict(symbol="diamond", size=12, color="#f59e0b",
                                             line=dict(width=1, color="#78350f")),
                                 hovertemplate="seed study, %{x}: %{y:.0%}<extra></extra>"))
    fig.update_yaxes(range=[0, 1.1], tickformat=".0%", title_text="accuracy")
    fig.update_xaxes(title_text="preprocessing style")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
    return fig


def pad_figure(by_pad: dict[float, float], height: int = 360) -> go.Figure:
    """Accuracy against pad scale, the best scale marked."""
    xs, ys = list(by_pad), list(by_pad.values())
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="lines+markers", name="accuracy", line=dict(color="#2563eb"),
                               hovertemplate="pad %{x:.1f}: %{y:.1%}<extra></extra>"))
    if ys and not np.all(np.isnan(ys)):
        top = np.nanmax(ys)
        best = [i for i, y in enumerate(ys) if y == top]  # ties all marked; the label names the range
        contiguous = best[-1] - best[0] == len(best) - 1
        label = ("best " + (f"{xs[best[0]]:.1f}" if len(best) == 1 else
                            f"{xs[best[0]]:.1f}–{xs[best[-1]]:.1f}" if contiguous else
                            ", ".join(f"{xs[i]:.1f}" for i in best)))
        fig.add_trace(go.Scatter(x=[xs[i] for i in best], y=[top] * len(best), mode="markers",
                                 marker=dict(size=13, color="#16a34a"), showlegend=False, hoverinfo="skip"))
        fig.add_annotation(x=xs[best[len(best) // 2]], y=top, text=label, showarrow=False, yshift=16)
    fig.update_xaxes(title_text="pad scale (square enlarged by)", dtick=0.1)
    fig.update_yaxes(range=[0, 1.1], tickformat=".0%", title_text="accuracy")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), showlegend=False)
    return fig
