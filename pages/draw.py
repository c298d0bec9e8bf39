"""Draw page: draw a digit on a canvas and watch the active model read it, stage by stage.

The canvas and everything that follows a stroke live in one ``@st.fragment``: a stroke reruns that panel only.
"""
import time

import numpy as np
import streamlit as st

from lenet.preprocess import LIGHT_ON_DARK, format_style, preprocess
from ui.inputs import big_digit, stages_ui, style_ui
from ui.views import probs_figure
from ui.state import CURRENT_DIGIT, active_model, require_app

require_app(__file__)

CANVAS_SIDE = 280  # 10x MNIST: room to draw, and the same shape as a 28x28 image
CANVAS_N = "draw_canvas_n"  # bumped by Clear: a new key gives a fresh, empty canvas


def controls_ui() -> int:
    """Stroke width and Clear; returns the stroke width."""
    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    width = c1.slider("Stroke width", 4, 40, 18, key="draw_stroke", persist_state="session",
                      help="MNIST strokes are about a tenth of the digit's height: 15–25 px suits this canvas.")
    c2.button("Clear", key="draw_clear", icon=":material/ink_eraser:", use_container_width=True,
              on_click=lambda: st.session_state.update({CANVAS_N: st.session_state.get(CANVAS_N, 0) + 1}))
    return width


def canvas_ui(stroke: int):
    """The canvas: white ink on black, like MNIST. Returns its RGBA image, or None before the first stroke."""
    from streamlit_drawable_canvas import st_canvas  # a v2 component: importable only inside a running app

    result = st_canvas(stroke_width=stroke, stroke_color="#FFFFFF", background_color="#000000",
                       height=CANVAS_SIDE, width=CANVAS_SIDE, drawing_mode="freedraw", return_image_data=True,
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


@st.fragment
def prediction_panel(model, stroke: int) -> None:
    """Canvas, prediction, probabilities and stages; reruns alone after each stroke."""
    left, right = st.columns([1, 2], gap="large")
    with left:
        img = canvas_ui(stroke)
        style, scale = style_ui("draw")
    with right:
        if not has_ink(img):
            st.info("Draw a digit on the black square with your mouse or finger — the prediction appears as soon as "
                    "you lift the pen. Big and centred works best, but try small, off-centre or thin ones too and "
                    "watch what each preprocessing style does with them.", icon=":material/draw:")
            return
        t0 = time.perf_counter()
        pre = preprocess(img, style, scale, polarity=LIGHT_ON_DARK)  # known: white ink on black, no detection
        t1 = time.perf_counter()
        from lenet.infer import predict_probs  # TensorFlow is already loaded with the model

        probs = predict_probs(model, pre.x)
        t2 = time.perf_counter()
        if pre.empty:
            st.info("No ink found yet — draw a bolder digit.", icon=":material/draw:")
            return
        st.session_state[CURRENT_DIGIT] = {"source": "drawing", "image": img, "x": pre.x,
                                           "style": format_style(pre.style, pre.pad_scale)}
        d = int(np.argmax(probs))
        c1, c2 = st.columns([1, 3])
        with c1:
            st.caption("Predicted digit")
            big_digit(d)
            st.caption(f"{probs[d] * 100:.1f} % sure")
        with c2:
            st.plotly_chart(probs_figure(probs), key="draw_probs", config={"displayModeBar": False})
        st.caption(f"preprocess {1000 * (t1 - t0):.1f} ms · model {1000 * (t2 - t1):.1f} ms · "
                   f"style {pre.style}{f' ×{pre.pad_scale:g}' if pre.style == 'pad' else ''}")
    st.subheader("What the model saw")
    stages_ui(pre.stages)
    st.caption("Each stage is the very array passed to the next; the last one is the 28×28 input of the model. "
               "Open the Inside page to see what the network does with it.")


st.title("Draw")
st.caption("Draw a digit; the active model reads it after every stroke.")
run, model = active_model()
if model is not None:
    stroke = controls_ui()
    prediction_panel(model, stroke)
