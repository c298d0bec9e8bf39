"""Inside page, the views: the digit's prediction, feature maps and filters, saliency, nearest training digits,
the robustness explorer (live sliders) and accuracy curves. Long first computations show a progress bar."""
from __future__ import annotations

import numpy as np
import streamlit as st

from ui import inside, state, views

SLIDERS = {  # key: (label, min, max, step, default)
    "inside_rot": ("Rotation (°)", -45.0, 45.0, 1.0, 0.0),
    "inside_dx": ("Shift x (px)", -8.0, 8.0, 0.5, 0.0),
    "inside_dy": ("Shift y (px)", -8.0, 8.0, 0.5, 0.0),
    "inside_scale": ("Scale (×)", 0.5, 1.5, 0.05, 1.0),
    "inside_thick": ("Stroke thickness (steps: − erode, + dilate)", -3, 3, 1, 0),
    "inside_blur": ("Blur (σ, px)", 0.0, 3.0, 0.1, 0.0),
    "inside_noise": ("Noise (σ)", 0.0, 0.6, 0.02, 0.0),
}


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
    bar = st.empty()

    def report(done, total):
        bar.progress(done / total, text=f"Embedding {n:,} training digits with this model (once per model): "
                                        f"{done:,} of {total:,}…")

    emb = inside.train_embedding(path, n, progress=report)
    bar.empty()
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
    # The user's own runs and the shipped model; other people's runs only when the sidebar lists them too.
    runs = state.picker_runs(state.all_runs()[0], st.session_state.get(state.SHOW_OTHERS, False))
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
    todo = [path] + list(extra)
    bar = st.empty()
    for i, p in enumerate(todo):
        who = by_path[p].name if p in by_path else run.name

        def report(done, total, kind, i=i, who=who):
            bar.progress((i + done / total) / len(todo), text=f"Model {i + 1} of {len(todo)} ({who}): {kind} "
                         f"done, {done} of {total} curves on {n:,} test digits…")

        try:
            c = inside.curves(p, n, progress=report)
        except Exception as exc:  # a damaged run among the overlays must not break the page
            st.warning(f"Skipped {p}: {exc}")
            continue
        name = label(p) if p in by_path else run.name
        series.append((f"★ {name}" if i == 0 else name, c))
    bar.empty()
    st.plotly_chart(inside.curves_figure(series), key="inside_curves_chart", config={"displayModeBar": False})
    note = f" on the first {n:,} test images (sampling noise up to ±1.3 points)" if n < 10_000 else ""
    st.caption(f"Accuracy{note}. Shift: x solid, y dotted. ★ = the active model. Pooling gives LeNet some "
               "invariance to small shifts and distortions (LeCun et al. 1998); these curves show where it ends. "
               "Models trained with augmentation keep their accuracy further out.")
