"""Draw page: draw a digit — or a whole number on a wide canvas — and watch the active model read it, stage by stage.

The canvas and everything that follows a stroke live in one ``@st.fragment``: a stroke reruns that panel only.
On a phone the columns stack, so the answer is also written right above the canvas (shown on narrow screens only).
"""
import time

import numpy as np
import streamlit as st

from lenet.preprocess import LIGHT_ON_DARK, format_style, preprocess
from ui.inputs import big_digit, stages_ui, style_ui
from ui.state import CURRENT_DIGIT, active_model, require_app
from ui.views import probs_figure

require_app(__file__)

CANVAS_SIDE = 280  # 10x MNIST: room to draw, and the same shape as a 28x28 image
NUMBER_HEIGHT = 160  # the number canvas: one line of digits
NUMBER_WIDTHS = (340, 560, 760)  # px; 340 fits a 390 px phone
CANVAS_N = "draw_canvas_n"  # bumped by Clear: a new key gives a fresh, empty canvas
MODES = {"digit": "One digit", "number": "A number"}
# The answer above the canvas is for narrow screens, where the columns stack and the big digit lands below.
NARROW_ONLY = ("<style>@media (min-width: 640px) {.st-key-draw_answer_top {display: none;}}</style>")


def controls_ui() -> tuple[str, int, int]:
    """Mode, stroke width, canvas width (number mode) and Clear; returns (mode, stroke width, canvas width)."""
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium"):
        mode = st.segmented_control("Draw", list(MODES), format_func=MODES.get, default="digit", required=True,
                                    key="draw_mode", persist_state="session")
        width = st.slider("Stroke width", 4, 40, 18, key="draw_stroke", persist_state="session", width=220,
                          help="MNIST strokes are about a tenth of the digit's height: 15–25 px suits this canvas.")
        wide = NUMBER_WIDTHS[1]
        if mode == "number":
            wide = st.select_slider("Canvas width", NUMBER_WIDTHS, value=NUMBER_WIDTHS[1], key="draw_number_width",
                                    width=220, format_func=lambda w: f"{w} px",
                                    help="340 px fits a phone; wider canvases hold more digits.")
        st.button("Clear", key="draw_clear", icon=":material/ink_eraser:",
                  on_click=lambda: st.session_state.update({CANVAS_N: st.session_state.get(CANVAS_N, 0) + 1}))
    return mode, width, wide


def canvas_ui(stroke: int, width: int = CANVAS_SIDE, height: int = CANVAS_SIDE):
    """The canvas: white ink on black, like MNIST. Returns its RGBA image, or None before the first stroke."""
    from streamlit_drawable_canvas import st_canvas  # a v2 component: importable only inside a running app

    result = st_canvas(stroke_width=stroke, stroke_color="#FFFFFF", background_color="#000000",
                       height=height, width=width, drawing_mode="freedraw", return_image_data=True,
                       key=f"draw_canvas_{st.session_state.get(CANVAS_N, 0)}")
    img = result.image_data
    return None if img is None else np.asarray(img)


def has_ink(img) -> bool:
    """Anything drawn: some pixel both opaque and bright (the background is black or transparent)."""
    if img is None:
        return False
    a = np.asarray(img)
    lum = a[..., :3].max(axis=-1) if a.ndim == 3 else a
    alpha = a[..., 3] if a.ndim == 3 and a.shape[2] == 4 else 255
    return bool(((lum > 40) & (np.asarray(alpha) > 40)).any())


def digit_ui(model, img, style: str, scale: float, top) -> dict | None:
    """One digit: the big answer, its probabilities; returns its preprocessing (for the stages) or None."""
    t0 = time.perf_counter()
    pre = preprocess(img, style, scale, canvas=True)  # white ink on a clean black canvas: the fast path
    t1 = time.perf_counter()
    from lenet.infer import predict_probs  # the light runtime: no TensorFlow

    probs = predict_probs(model, pre.x)
    t2 = time.perf_counter()
    if pre.empty:
        st.info("No ink found yet — draw a bolder digit.", icon=":material/draw:")
        return None
    st.session_state[CURRENT_DIGIT] = {"source": "drawing", "image": img, "x": pre.x,
                                       "style": format_style(pre.style, pre.pad_scale)}
    d = int(np.argmax(probs))
    top.markdown(f"Predicted **:green[{d}]** · {probs[d] * 100:.0f} % sure")
    c1, c2 = st.columns([1, 3])
    with c1:
        st.caption("Predicted digit")
        big_digit(d)
        st.caption(f"{probs[d] * 100:.1f} % sure")
    with c2:
        st.plotly_chart(probs_figure(probs), key="draw_probs", config={"displayModeBar": False})
    st.caption(f"preprocess {1000 * (t1 - t0):.1f} ms · model {1000 * (t2 - t1):.1f} ms · "
               f"style {pre.style}{f' ×{pre.pad_scale:g}' if pre.style == 'pad' else ''}")
    return pre


def number_ui(model, img, style: str, scale: float, top) -> None:
    """A number: every digit on the canvas, read left to right, each with what the model saw."""
    from ui.draw_number import read_number
    from ui.views import digit_grid_ui, label_markdown

    digits = read_number(model, img, style, scale)
    if not digits:
        st.info("No digits found yet — write bolder, with a little space between digits.", icon=":material/draw:")
        return
    number = "".join(str(d["digit"]) for d in digits)
    doubt = [i + 1 for i, d in enumerate(digits) if d["doubtful"]]
    top.markdown(f"Read **:green[{number}]**" + (f" · unsure of digit {', '.join(map(str, doubt))}" if doubt else ""))
    st.caption(f"Read left to right: {len(digits)} digits")
    big_digit(number)
    caps = [label_markdown(None, d["digit"], d["confidence"]) + (" :orange[**?**]" if d["doubtful"] else "")
            for d in digits]
    digit_grid_ui([d["x"] for d in digits], caps, cols=12, scale=2, width=72)
    last = digits[-1]
    st.session_state[CURRENT_DIGIT] = {"source": "drawing", "image": last["crop"], "x": last["x"],
                                       "style": format_style(style, scale), "polarity": LIGHT_ON_DARK}


@st.fragment
def prediction_panel(model, mode: str, stroke: int, wide: int) -> None:
    """Canvas, prediction, probabilities and stages; reruns alone after each stroke."""
    st.html(NARROW_ONLY)
    top = st.container(key="draw_answer_top")
    number = mode == "number"
    left, right = st.columns([3, 2] if number else [1, 2], gap="large")
    with left:
        img = canvas_ui(stroke, wide, NUMBER_HEIGHT) if number else canvas_ui(stroke)
        style, scale = style_ui("draw")
    with right:
        if not has_ink(img):
            st.info("Write a number — several digits side by side — on the black strip; it is read left to right."
                    if number else
                    "Draw a digit on the black square with your mouse or finger — the prediction appears as soon as "
                    "you lift the pen. Big and centred works best, but try small, off-centre or thin ones too and "
                    "watch what each preprocessing style does with them.", icon=":material/draw:")
            return
        if number:
            number_ui(model, img, style, scale, top)
            return
        pre = digit_ui(model, img, style, scale, top)
    if pre is None:
        return
    st.subheader("What the model saw")
    stages_ui(pre.stages)
    st.caption("Each stage is the very array passed to the next; the last one is the 28×28 input of the model. "
               "Open the Inside page to see what the network does with it.")


st.title("Draw")
st.caption("Draw a digit, or a whole number; the active model reads it after every stroke.")
run, model = active_model()
if model is not None:
    prediction_panel(model, *controls_ui())
