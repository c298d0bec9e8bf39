"""Evaluate page: the active model on the MNIST test images — accuracy, classification report, confusion matrix,
and a gallery of mistakes that follows the chosen confusion cell."""
from __future__ import annotations

import streamlit as st

from lenet.store import StoreError
from ui import state, views

state.require_app(__file__)

SIZES = (500, 1000, 2000, 5000, 10_000)  # how many test images (the first N): small ones answer fast


def data_ui() -> int:
    """How many MNIST test images to evaluate on."""
    return st.columns([1, 2])[0].select_slider("MNIST test images (the first N)", SIZES, value=10_000, key="eval_n",
                            format_func=lambda n: f"{n:,}", help="All 10,000 is the standard test set; fewer "
                            "answer faster.")


def main() -> None:
    st.title("Evaluate")
    run, _model = state.active_model()
    if run is None:
        st.info("Train a model on the Train page (or choose one in the sidebar), then come back here.")
        st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
        return
    st.caption(f"Active model: {run.card()}")
    n = data_ui()
    data = state.get_mnist()
    if data is None:
        return
    try:
        evaluation = state.evaluation(str(run.path), n)
    except (StoreError, OSError) as exc:
        st.error(f"The active model could not be evaluated: {exc}. Choose another model in the sidebar.")
        return
    views.evaluation_ui(evaluation, data.x_test[:n], prefix="eval", what="test images")


main()
