"""Inside page: for one digit — the last drawing, an upload, or an MNIST test image — the active model's layers,
feature maps, filters, saliency and nearest training digits; and a robustness explorer with live sliders and
accuracy curves under rotation, shift and scale."""
from __future__ import annotations

import numpy as np
import streamlit as st

from ui import inside, run_views, state
from ui.inside_views import curves_ui, explorer_ui, maps_ui, neighbours_ui, prediction_ui, saliency_ui

state.require_app(__file__)

SOURCES = {"current": "Your last drawing / upload", "upload": "A labelled upload", "mnist": "An MNIST test digit"}


def digit_source_ui() -> tuple[np.ndarray | None, str, int | None]:
    """The digit to explain, chosen by the user.

    Returns:
        ``(x (28, 28) float32 or None, a description, its true label or None)``.
    """
    ss = st.session_state
    current = ss.get(state.CURRENT_DIGIT)
    uploads = ss.get(state.LABELLED_UPLOADS) or []
    options = [k for k in SOURCES if (k != "current" or current) and (k != "upload" or uploads)]
    if ss.get("inside_source") not in options:
        ss["inside_source"] = options[0]
    source = st.segmented_control("Digit", options, format_func=SOURCES.get, key="inside_source", required=True)
    if source == "current":
        x = inside.digit_from_current(current)
        what = f"your {current.get('source') or 'digit'}"
        if x is None:
            st.warning("Your last digit has no ink the model could see; pick another digit.")
        return x, what, None
    if source == "upload":
        i = st.selectbox("Upload", range(len(uploads)), key="inside_upload_idx",
                         format_func=lambda i: f"{uploads[i].get('name', i)} (labelled {uploads[i]['label']})")
        u = uploads[min(i, len(uploads) - 1)]
        return np.asarray(u["x"], np.float32), f"upload {u.get('name', i)}", int(u["label"])
    data = state.get_mnist()
    if data is None:
        return None, "", None
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    if c2.button("Random", key="inside_random", icon=":material/casino:"):
        ss["inside_mnist_idx"] = int(np.random.default_rng().integers(len(data.x_test)))
    ss.setdefault("inside_mnist_idx", 0)
    i = c1.number_input("MNIST test image #", 0, len(data.x_test) - 1, key="inside_mnist_idx")
    return data.x_test[int(i)].astype(np.float32) / 255, f"MNIST test #{int(i)}", int(data.y_test[int(i)])


def main() -> None:
    st.title("Inside the network")
    run, serving = state.active_model()
    if serving is None:
        return
    path = state.active_run_path()
    x, what, true = digit_source_ui()
    if x is None:
        st.info("Draw a digit on the Draw page, upload one, or pick an MNIST test digit above.")
        return
    model = state.keras_model(path)  # feature maps, gradients and embeddings need Keras; predictions do not
    top_left, top_right = st.columns([3, 2], gap="large")
    with top_left:
        st.subheader(f"What {run.name} makes of {what}")
        probs = prediction_ui(serving, x, true)
    with top_right:
        st.subheader("Layers")
        run_views.layer_table_ui(inside.layer_table(path))
    tab_in, tab_rob = st.tabs(["Inside the network", "Robustness explorer"], key="inside_tab", on_change="rerun")
    if tab_in.open:
        with tab_in:
            st.subheader("Feature maps")
            maps_ui(model, x)
            st.subheader("Saliency")
            saliency_ui(model, x, probs)
            st.subheader("Nearest training digits")
            neighbours_ui(path, model, x)
    if tab_rob.open:
        with tab_rob:
            st.subheader("Distort this digit")
            explorer_ui(serving, x)
            st.subheader("Accuracy under distortion")
            curves_ui(run, path)


main()
