"""Fine-tune on my handwriting: the Upload page's section that teaches a copy of the active model the user's
labelled digits (``render_finetune()``), then shows before/after side by side.

The work is a job like any training (``lenet.jobs``, kind "finetune": the source run and the user's digits saved in
the job folder), run by a worker process and drawn by the same live view as on the Train page (``ui.jobs``).
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from lenet import jobs as q
from ui import jobs, state, views

EPOCH_CHOICES = (2, 3, 4, 6, 8)
LR_CHOICES = (1e-4, 3e-4, 1e-3)
MNIST_MIX_CHOICES = (2000, 4000, 8000)


def labelled_digits() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The Upload page's labelled digits as arrays: x (N, 28, 28) float32, y (N,) int, names."""
    items = [u for u in st.session_state.get(state.LABELLED_UPLOADS) or [] if u.get("label") is not None
             and 0 <= int(u["label"]) <= 9]
    if not items:
        return np.zeros((0, 28, 28), np.float32), np.zeros(0, int), []
    x = np.stack([np.asarray(u["x"], np.float32).reshape(28, 28) for u in items])
    y = np.array([int(u["label"]) for u in items])
    return x, y, [str(u.get("name", i)) for i, u in enumerate(items)]


def settings_ui():
    """The fine-tuning settings. Returns a ``FinetuneConfig`` and the run name."""
    from lenet.finetune import FinetuneConfig

    d = FinetuneConfig()
    ss = st.session_state
    for key, value in (("ft_epochs", d.epochs), ("ft_lr", d.lr), ("ft_holdout", d.holdout),
                       ("ft_mnist", d.mnist_images)):
        ss.setdefault(key, value)
    c1, c2, c3, c4 = st.columns(4)
    epochs = c1.select_slider("Epochs", EPOCH_CHOICES, key="ft_epochs")
    lr = c2.select_slider("Learning rate", LR_CHOICES, key="ft_lr", format_func=lambda v: f"{v:g}",
                          help="Small: adjust the weights rather than relearn them.")
    holdout = c3.slider("Held out to measure", 0.2, 0.5, step=0.05, key="ft_holdout",
                        help="This share of each digit class is never trained on: the before/after numbers are "
                             "measured on it.")
    mnist_n = c4.select_slider("MNIST digits mixed in", MNIST_MIX_CHOICES, key="ft_mnist",
                               format_func=lambda v: f"{v:,}", help="A reminder of MNIST so the model does not forget "
                               "it while it learns your handwriting.")
    name = st.text_input("Name of the new run", key="ft_name", placeholder="e.g. my handwriting")
    return FinetuneConfig(epochs=int(epochs), lr=float(lr), holdout=float(holdout), mnist_images=int(mnist_n)), name


def comparison_figure(before: dict, after: dict):
    """Grouped bars: held-out user digits and MNIST test, before vs after."""
    import plotly.graph_objects as go

    groups = ["your held-out digits", "MNIST test (10,000)"]
    fig = go.Figure()
    for label, vals, colour in (("before", before, "#aec7e8"), ("after", after, "#1f77b4")):
        ys = [vals["user"], vals["mnist"]]
        fig.add_trace(go.Bar(x=groups, y=ys, name=label, marker_color=colour, text=[f"{v:.1%}" for v in ys],
                             textposition="outside", hovertemplate=f"{label}: %{{y:.2%}}<extra></extra>"))
    fig.update_layout(barmode="group", height=280, margin=dict(l=10, r=10, t=10, b=10),
                      yaxis=dict(range=[0, 1.1], tickformat=".0%"), legend=dict(orientation="h", y=1.12))
    return fig


def result_ui(job: q.Job) -> None:
    """Before/after side by side, and the held-out digits with their new predictions (once the job measured them)."""
    b, a = job.status.get("before"), job.status.get("after")
    if b is None or a is None or not (job.path / "result.npz").exists():
        return
    with np.load(job.path / "result.npz") as r, np.load(job.path / q.USER) as u:
        idx, probs_before, probs_after = r["held_out"], r["probs_before"], r["probs_after"]
        x, y = u["x"][idx], u["y"][idx]
    c1, c2 = st.columns(2)
    c1.metric(f"Your {len(idx)} held-out digits", f"{a['user']:.1%}",
              f"{(a['user'] - b['user']) * 100:+.1f} points (was {b['user']:.1%})")
    n = job.spec.get("eval_n", 10_000)
    c2.metric("MNIST test", f"{a['mnist']:.2%}", f"{(a['mnist'] - b['mnist']) * 100:+.2f} points "
              f"(was {b['mnist']:.2%})", help=f"Measured on the first {n:,} MNIST test images.")
    st.plotly_chart(comparison_figure(b, a), key="ft_compare_chart", config={"displayModeBar": False})
    if len(idx):
        st.caption("Held-out digits: the fine-tuned model's prediction (green right, red wrong); the old "
                   "model's under it.")
        old = probs_before.argmax(1)
        caps = [f"{views.label_markdown(int(t), int(p.argmax()), float(p.max()))}  \nbefore: "
                f"{views.label_markdown(int(t), int(o))}" for t, p, o in zip(y, probs_after, old)]
        views.digit_grid_ui(x, caps, cols=10)


def start(run, model, x, y, names, settings, name: str) -> None:
    """Queue a fine-tuning job of ``run`` on the user's digits (checked first: errors show here, not later)."""
    from lenet.config import TrainConfig
    from lenet.finetune import finetune_config, split_user

    try:
        split_user(y, settings.holdout, settings.seed)
    except ValueError as exc:
        st.error(str(exc))
        return
    base = TrainConfig.from_dict(run.meta["config"]) if run.meta.get("config") else None
    job = jobs.submit(finetune_config(base, model, settings), name,
                      finetune={"source": str(run.path), "settings": settings.to_dict(),
                                "base": base.to_dict() if base else None},
                      user_digits=(x, y, names))
    st.session_state[state.FINETUNE_JOB] = str(job.path)
    st.rerun()


def render_finetune() -> None:
    """The "Fine-tune on my handwriting" section of the Upload page."""
    from lenet.finetune import MIN_USER_DIGITS

    st.subheader("Fine-tune on my handwriting")
    x, y, names = labelled_digits()
    path = st.session_state.get(state.FINETUNE_JOB)
    job = q.read_job(path) if path else None
    if len(y) < MIN_USER_DIGITS and job is None:
        st.info(f"Label at least {MIN_USER_DIGITS} of your digits above (ideally a few of each, e.g. a sheet of "
                f"0-9 written several times; you have {len(y)}). A copy of the active model is then trained a "
                "little on them, mixed with MNIST so it does not forget, and measured on the ones it never saw.",
                icon=":material/school:")
        return
    run, model = state.active_model()
    if model is None:
        return
    counts = np.bincount(y, minlength=10) if len(y) else np.zeros(10, int)
    st.caption(f"{len(y)} labelled digits · per class: " + " ".join(f"{d}×{c}" for d, c in enumerate(counts)) +
               f" · source model: **{run.name}**")
    if len(y) >= MIN_USER_DIGITS and (counts >= 2).sum() < 2:
        st.warning("Most digits have a single example: label at least two of several digits so that some can be "
                   "held out to measure the gain.")
    settings, name = settings_ui()
    busy = job is not None and not job.finished
    if st.button("Fine-tune a copy of the active model", key="ft_start", type="primary", icon=":material/school:",
                 disabled=busy or len(y) < MIN_USER_DIGITS,
                 help="Joins the server's training queue; the new run is saved and made active when it ends."):
        start(run, model, x, y, names, settings, name.strip() or f"{run.name} + my handwriting")
    if path:
        jobs.live_ui(path, "ft", after=result_ui)
