"""Home page: what LeNet Lab does, the active model, a strip of test digits it reads, and the way to each page."""
from __future__ import annotations

import numpy as np
import streamlit as st

from lenet.data import mnist_status
from ui import state, views

state.require_app(__file__)

STRIP = 12  # digits in the sample strip
SEED = "home_seed"  # which random test digits the strip shows; "shuffle" draws new ones
LINKS = (
    ("pages/train.py", "Train", ":material/model_training:",
     "Train one of five seed networks with live curves, or load a stored run; compare runs."),
    ("pages/draw.py", "Draw", ":material/draw:", "Draw a digit and watch the active model read it."),
    ("pages/upload.py", "Upload", ":material/upload_file:", "Read photos and scans of handwritten digits or sheets."),
    ("pages/lab.py", "Preprocessing Lab", ":material/science:",
     "See how each preprocessing style changes what the model sees."),
    ("pages/evaluate.py", "Evaluate", ":material/grid_on:",
     "Accuracy, classification report, confusion matrix and a gallery of mistakes."),
    ("pages/inside.py", "Inside", ":material/visibility:", "Feature maps, saliency and nearest neighbours."),
)


def model_card_ui(run) -> None:
    """The active model in one bordered card."""
    meta = run.meta
    with st.container(border=True):
        st.markdown(f"**Active model:** {run.name}" + (" · *stopped early*" if run.stopped else ""))
        c1, c2, c3, c4 = st.columns(4)
        c1.metric("Architecture", meta.get("arch", "?"))
        c2.metric("Parameters", f"{meta.get('params', 0):,}")
        c3.metric("MNIST test accuracy", f"{run.accuracy * 100:.2f} %" if run.accuracy is not None else "—")
        when = meta.get("created_at", "")
        c4.metric("Trained", when[:10] or "—", help=when.replace("T", " at ") or None)


def sample_strip_ui(model) -> None:
    """Random MNIST test digits with the active model's predictions (green right, red wrong)."""
    head, button = st.columns([5, 1], vertical_alignment="bottom")
    head.subheader("What it reads")
    if button.button("Shuffle", key="home_shuffle", icon=":material/shuffle:"):
        st.session_state[SEED] = int(np.random.default_rng().integers(2**31))
    if not mnist_status()["cached"]:
        st.caption("MNIST is not fetched yet: use *Fetch MNIST* in the sidebar to see sample digits here.")
        return
    data = state.get_mnist(progress=False)
    if data is None:
        return
    seed = st.session_state.setdefault(SEED, 0)
    idx = np.random.default_rng(seed).choice(len(data.x_test), STRIP, replace=False)
    from lenet.infer import predict_probs  # TensorFlow-backed, imported only when there is a model to run

    probs = predict_probs(model, data.x_test[idx])
    views.prediction_strip_ui(data.x_test[idx], data.y_test[idx], probs, cols=STRIP)
    right = int((probs.argmax(axis=1) == data.y_test[idx]).sum())
    st.caption(f"{right} of {STRIP} random MNIST test digits read correctly: green right, red wrong (with the "
               f"true digit).")


def links_ui() -> None:
    st.subheader("Explore")
    cols = st.columns(3)
    for i, (page, title, icon, text) in enumerate(LINKS):
        with cols[i % 3].container(border=True):
            st.page_link(page, label=title, icon=icon)
            st.caption(text)


def main() -> None:
    st.title("LeNet Lab")
    st.markdown(
        "LeNet Lab trains and explores LeNet-style convolutional networks on MNIST handwritten digits, "
        "from LeCun's LeNet-1 to the networks of today's tutorials. "
        "Train a model and watch its curves live, then judge it with a confusion matrix and a gallery of its "
        "mistakes. Draw or upload your own digits to see how preprocessing and the network read real handwriting.")
    run, model = state.active_model()
    if run is None:
        st.info("No usable model yet: train one on the Train page.")
    else:
        model_card_ui(run)
        sample_strip_ui(model)
    links_ui()


main()
