"""Inside page: for one digit — the last drawing, an upload, or an MNIST test image — the active model's layers,
feature maps, filters, saliency and nearest training digits; and a robustness explorer with live sliders and
accuracy curves under rotation, shift and scale."""
from __future__ import annotations

import numpy as np
import streamlit as st

from ui import inside, run_views, state, views

state.require_app(__file__)

SOURCES = {"current": "Your last drawing / upload", "upload": "A labelled upload", "mnist": "An MNIST test digit"}
SLIDERS = {  # key: (label, min, max, step, default)
    "inside_rot": ("Rotation (°)", -45.0, 45.0, 1.0, 0.0),
    "inside_dx": ("Shift x (px)", -8.0, 8.0, 0.5, 0.0),
    "inside_dy": ("Shift y (px)", -8.0, 8.0, 0.5, 0.0),
    "inside_scale": ("Scale (×)", 0.5, 1.5, 0.05, 1.0),
    "inside_thick": ("Stroke thickness (steps: − erode, + dilate)", -3, 3, 1, 0),
    "inside_blur": ("Blur (σ, px)", 0.0, 3.0, 0.1, 0.0),
    "inside_noise": ("Noise (σ)", 0.0, 0.6, 0.02, 0.0),
}


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


def prediction_ui(model, x: np.ndarray, true: int | None) -> np.ndarray:
    """The digit as the model sees it, and its probabilities. Returns the probabilities."""
    from lenet.infer import predict_probs

    probs = predict_probs(model, x)
    pred = int(probs.argmax())
    c1, c2 = st.columns([1, 3], vertical_alignment="center")
    with c1:
        st.image(views.digit_pixels(x, 5), caption="model input (28×28)", output_format="PNG")
    with c2:
        st.markdown(f"Predicted {views.label_markdown(true, pred, float(probs[pred]))}")
        st.plotly_chart(views.probs_figure(probs), key="inside_probs", config={"displayModeBar": False})
    return probs


def maps_ui(model, x: np.ndarray) -> None:
    """Each conv/pool layer's feature maps for this digit, and conv1's filters."""
    from lenet.explain import conv_filters, feature_maps, map_layers

    layers = map_layers(model)
    if not layers:
        st.info("This model is a multilayer perceptron: it has no convolution or pooling layers, so there are "
                "no feature maps to show. Its first layer sees the 784 pixels as one flat vector. The saliency "
                "and neighbours below still apply.", icon=":material/info:")
        return
    maps = feature_maps(model, x)
    kernels = conv_filters(model, "conv1")
    k = kernels.shape[-1]
    st.plotly_chart(inside.filters_figure(kernels, f"conv1 filters ({len(kernels)} × {k}×{k})"),
                    key="inside_filters", config={"displayModeBar": False})
    for ml in layers:
        m = maps[ml.name]
        title = f"{ml.title} · {m.shape[2]} maps of {m.shape[0]}×{m.shape[1]}"
        st.plotly_chart(inside.feature_map_figure(m, title), key=f"inside_maps_{ml.name}",
                        config={"displayModeBar": False})


def saliency_ui(model, x: np.ndarray, probs: np.ndarray) -> None:
    """Saliency for the predicted class and for a class the user picks ("why not a 9?")."""
    from lenet.explain import SALIENCY_METHODS, saliency

    pred = int(probs.argmax())
    runner_up = int(np.argsort(-probs)[1])
    c1, c2 = st.columns(2)
    method = c1.selectbox("Method", SALIENCY_METHODS, key="inside_sal_method",
                          help="gradient × input: each ink pixel's signed contribution (zero off the ink). "
                               "gradient: where adding ink would raise (red) or lower (blue) the score — it also "
                               "speaks about the background. occlusion: how much the score drops when a 4×4 "
                               "square is blacked out.")
    digit_id = hash(x.tobytes())
    if st.session_state.get("inside_why_not") is None or st.session_state.get("inside_why_not_digit") != digit_id:
        st.session_state["inside_why_not"] = runner_up  # a new digit: start from its runner-up class
        st.session_state["inside_why_not_digit"] = digit_id
    other = c2.selectbox("Why not a…", range(10), key="inside_why_not",
                         help="Explains the score of this class against the predicted one.")
    panels = [(f"evidence for {pred} (predicted)", saliency(model, x, pred, method))]
    if other != pred:
        panels.append((f"{other} rather than {pred}", saliency(model, x, other, method, versus=pred)))
    else:
        st.caption("Pick a class other than the predicted one to see what speaks against it.")
    st.plotly_chart(inside.saliency_figure(x, panels), key="inside_saliency", config={"displayModeBar": False})
    st.caption(f"Red: pushes the score up; blue: pushes it down. Scores are pre-softmax logits; "
               f"P({other}) = {probs[other]:.2%}.")


def neighbours_ui(path: str, model, x: np.ndarray) -> None:
    """The 8 training digits closest to this one in the penultimate layer."""
    from lenet.explain import embed, nearest

    data = state.get_mnist()
    if data is None:
        return  # get_mnist has said why
    c1, _ = st.columns([1, 2])
    st.session_state.setdefault("inside_nn_pool", inside.NN_POOLS[-1])
    n = c1.selectbox("Search among", inside.NN_POOLS, key="inside_nn_pool",
                     format_func=lambda n: f"the first {n:,} training digits" if n < 60_000 else
                     "all 60,000 training digits")
    with st.spinner(f"Embedding {n:,} training digits with this model (once per model)…"):
        emb = inside.train_embedding(path, n)
    idx, dist = nearest(emb, embed(model, x[None])[0], k=8)
    labels = data.y_train[idx]
    caps = [f"label **{int(lab)}** · #{int(i)}  \ncosine dist {d:.3f}" for i, lab, d in zip(idx, labels, dist)]
    views.digit_grid_ui([data.x_train[i] for i in idx], caps, cols=8)
    st.caption(f"Features: the {emb.shape[1]} values of the layer before the output. "
               f"{int((labels == np.bincount(labels).argmax()).sum())} of 8 neighbours are "
               f"{int(np.bincount(labels).argmax())}s.")


def _reset_sliders() -> None:
    for key, (*_, default) in SLIDERS.items():
        st.session_state[key] = default


@st.fragment
def explorer_ui(model, x: np.ndarray) -> None:
    """Sliders that distort the digit; the distorted digit and its prediction update without rerunning the page."""
    from lenet.infer import predict_probs
    from lenet.robust import Distortion, distort

    ss = st.session_state
    for key, (*_, default) in SLIDERS.items():
        ss.setdefault(key, default)
    left, right = st.columns([3, 2], gap="large")
    with left:
        c1, c2 = st.columns(2)
        vals = {}
        for i, (key, (label, lo, hi, step, _)) in enumerate(SLIDERS.items()):
            vals[key] = (c1 if i % 2 == 0 else c2).slider(label, lo, hi, step=step, key=key)
        st.button("Reset", key="inside_reset", on_click=_reset_sliders, icon=":material/restart_alt:")
    d = Distortion(rotation=vals["inside_rot"], dx=vals["inside_dx"], dy=vals["inside_dy"],
                   scale=vals["inside_scale"], thickness=int(vals["inside_thick"]), blur=vals["inside_blur"],
                   noise=vals["inside_noise"])
    xd = distort(x, d)
    probs = predict_probs(model, xd)
    pred = int(probs.argmax())
    with right:
        a, b = st.columns(2)
        a.image(views.digit_pixels(x, 4), caption="original", output_format="PNG")
        b.image(views.digit_pixels(xd, 4), caption="distorted", output_format="PNG")
        st.markdown(f"Prediction: **{pred}** · {probs[pred]:.1%}")
        st.plotly_chart(views.probs_figure(probs, height=200), key="inside_explorer_probs",
                        config={"displayModeBar": False})


def curves_ui(run, path: str) -> None:
    """MNIST test accuracy vs rotation, shift and scale for the active model and chosen others."""
    if state.get_mnist() is None:
        return
    c1, c2 = st.columns([1, 2])
    n = c1.selectbox("Test images per point", inside.CURVE_NS, key="inside_curves_n",
                     format_func=lambda n: f"{n:,}" + (" (faster)" if n < 10_000 else " (all)"))
    runs, _ = state.all_runs()
    by_path = {str(r.path): r for r in runs}
    others = [p for p in by_path if p != path]
    if "inside_curves_runs" not in st.session_state:
        st.session_state["inside_curves_runs"] = inside.counterparts(runs, path)
    st.session_state["inside_curves_runs"] = [p for p in st.session_state["inside_curves_runs"] if p in others]

    def label(p):
        r = by_path[p]
        return f"{state.model_label(r)} ({'augmented' if inside.is_augmented(r) else 'plain'})"

    extra = c2.multiselect("Overlay other models", others, key="inside_curves_runs", format_func=label,
                           help="By default the best plain and the best augmented model in the store.")
    go = st.toggle("Compute the curves", key="inside_curves",
                   help=f"{inside.n_settings()} distorted copies of the test images per model: the first time "
                        "takes a few seconds per model at 1,000 images, then it is cached.")
    if not go:
        st.caption("Turn on to measure how accuracy falls as the test digits are rotated, shifted and scaled.")
        return
    series = []
    for i, p in enumerate([path] + list(extra)):
        who = by_path[p].name if p in by_path else run.name
        with st.spinner(f"Distorting {n:,} test digits {inside.n_settings()} ways for {who}…"):
            try:
                c = inside.curves(p, n)
            except Exception as exc:  # a damaged run among the overlays must not break the page
                st.warning(f"Skipped {p}: {exc}")
                continue
        name = label(p) if p in by_path else run.name
        series.append((f"★ {name}" if i == 0 else name, c))
    st.plotly_chart(inside.curves_figure(series), key="inside_curves_chart", config={"displayModeBar": False})
    note = f" on the first {n:,} test images (sampling noise up to ±1.3 points)" if n < 10_000 else ""
    st.caption(f"Accuracy{note}. Shift: x solid, y dotted. ★ = the active model. Pooling gives LeNet some "
               "invariance to small shifts and distortions (LeCun et al. 1998); these curves show where it ends. "
               "Models trained with augmentation keep their accuracy further out.")


def main() -> None:
    st.title("Inside the network")
    run, model = state.active_model()
    if model is None:
        return
    path = state.active_run_path()
    x, what, true = digit_source_ui()
    if x is None:
        st.info("Draw a digit on the Draw page, upload one, or pick an MNIST test digit above.")
        return
    top_left, top_right = st.columns([3, 2], gap="large")
    with top_left:
        st.subheader(f"What {run.name} makes of {what}")
        probs = prediction_ui(model, x, true)
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
            explorer_ui(model, x)
            st.subheader("Accuracy under distortion")
            curves_ui(run, path)


main()
