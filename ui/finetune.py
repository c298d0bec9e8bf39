"""Fine-tune on my handwriting: the Upload page's section that teaches a copy of the active model the user's
labelled digits (``render_finetune()``), in the background with live curves, then shows before/after side by side.

The work runs in a ``FinetuneJob``: a ``ui.jobs.TrainJob`` whose worker calls ``lenet.finetune.finetune`` instead of
plain training, so progress, curves, Stop and error messages behave exactly as on the Train page.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st

from ui import run_views, state, views
from ui.jobs import TrainJob, friendly_error, progress_text

EPOCH_CHOICES = (2, 3, 4, 6, 8)
LR_CHOICES = (1e-4, 3e-4, 1e-3)
MNIST_MIX_CHOICES = (2000, 4000, 8000)


@dataclass
class FinetuneJob(TrainJob):
    """A fine-tuning run in a worker thread; adds the user's digits and the before/after results."""

    source: str = ""  # the source run's folder
    source_name: str = ""
    user_x: np.ndarray | None = field(default=None, repr=False)
    user_y: np.ndarray | None = field(default=None, repr=False)
    names: list = field(default_factory=list)
    settings: object = None  # lenet.finetune.FinetuneConfig
    base: object = None  # the source run's TrainConfig
    before: dict | None = None
    after: dict | None = None
    held_out: list = field(default_factory=list)  # indices into user_x
    probs_before: np.ndarray | None = field(default=None, repr=False)
    probs_after: np.ndarray | None = field(default=None, repr=False)

    def _on_phase(self, text: str) -> None:
        self.phase = text

    def _work(self, data) -> None:  # worker thread: no st.* here
        try:
            from lenet.finetune import finetune
            from lenet.store import load_model

            # A private copy from disk: the cached model is shared by every session and stays read-only.
            model = load_model(self.source)
            res = finetune(model, self.user_x, self.user_y, data, self.settings, base=self.base,
                           source=Path(self.source).name, root=self.root, name=self.name, on_batch=self._on_batch,
                           on_epoch=self._on_epoch, stop=self.stop_event, report_every=self._report_every(),
                           on_phase=self._on_phase)
            self.before, self.after = res.before, res.after
            self.held_out = [int(i) for i in res.split.test]
            self.probs_before, self.probs_after = res.user_probs_before, res.user_probs_after
            self.history = list(res.history)
            self.seconds = res.seconds
            self.test_accuracy = res.after["mnist"]
            self.run_path = str(res.run.path)
            self.state = "stopped" if res.stopped else "done"
            self.phase = "Stopped early: the model so far is saved" if res.stopped else "Done"
        except Exception as exc:  # shown as a message, never a traceback
            self.error = friendly_error(exc)
            self.state = "error"
            self.phase = "Failed"
        finally:
            self.finished_at = time.time()

    def _report_every(self) -> int:
        s = self.settings
        n = s.mnist_images / max(1e-6, 1 - s.user_share)
        return max(1, int(n // s.batch_size) // 40)

    @classmethod
    def start_finetune(cls, run, model, user_x, user_y, names, settings, data, *, name: str | None = None
                       ) -> "FinetuneJob":
        """Start fine-tuning a copy of ``run``'s model on the user's digits in a daemon thread."""
        import threading

        from lenet.config import TrainConfig, models_dir
        from lenet.finetune import finetune_config

        base = TrainConfig.from_dict(run.meta["config"]) if run.meta.get("config") else None
        job = cls(config=finetune_config(base, model, settings), root=str(models_dir()), name=name or None,
                  source=str(run.path), source_name=run.name, user_x=user_x, user_y=user_y, names=list(names),
                  settings=settings, base=base)
        job.phase = "Measuring the model before fine-tuning…"
        job.thread = threading.Thread(target=job._work, args=(data,), name="lenet-finetune", daemon=True)
        job.thread.start()
        return job


def _job() -> FinetuneJob | None:
    return st.session_state.get(state.FINETUNE_JOB)


def _collect(job: FinetuneJob) -> None:
    """Once: the fine-tuned run joins this session's runs and becomes the active model."""
    if job.collected or not job.finished:
        return
    job.collected = True
    if job.run_path:
        state.add_session_run(job.run_path)
        state.set_active(job.run_path)


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


def result_ui(job: FinetuneJob) -> None:
    """Before/after side by side, and the held-out digits with their new predictions."""
    if job.before is None or job.after is None:
        return
    b, a = job.before, job.after
    c1, c2 = st.columns(2)
    c1.metric(f"Your {len(job.held_out)} held-out digits", f"{a['user']:.1%}",
              f"{(a['user'] - b['user']) * 100:+.1f} points (was {b['user']:.1%})")
    c2.metric("MNIST test", f"{a['mnist']:.2%}", f"{(a['mnist'] - b['mnist']) * 100:+.2f} points "
              f"(was {b['mnist']:.2%})")
    st.plotly_chart(comparison_figure(b, a), key="ft_compare_chart", config={"displayModeBar": False})
    if job.held_out and job.probs_after is not None:
        st.caption("Held-out digits: the fine-tuned model's prediction (green right, red wrong); the old "
                   "model's under it.")
        idx = job.held_out
        y = job.user_y[idx]
        old = job.probs_before.argmax(1)
        caps = [f"{views.label_markdown(int(t), int(p.argmax()), float(p.max()))}  \nbefore: "
                f"{views.label_markdown(int(t), int(o))}" for t, p, o in zip(y, job.probs_after, old)]
        views.digit_grid_ui(job.user_x[idx], caps, cols=10)


def job_view(job: FinetuneJob) -> None:
    labels = {"starting": "Preparing…", "training": "Fine-tuning…", "saving": "Measuring and saving…",
              "done": "Fine-tuning finished", "stopped": "Fine-tuning stopped early", "error": "Fine-tuning failed"}
    status_state = "running" if job.running else ("error" if job.state == "error" else "complete")
    with st.status(f"{labels[job.state]} — a copy of {job.source_name}", state=status_state, expanded=True):
        frac = job.progress.get("fraction", 0.0) if job.running or job.state != "done" else 1.0
        st.progress(min(1.0, max(0.0, frac)), text=progress_text(job))
        if job.running:
            st.button("Stop", key="ft_stop", icon=":material/stop:", on_click=job.stop, disabled=job.stop_requested,
                      help="Ends after the current batch; the model so far is measured and saved.")
        if job.error:
            st.error(job.error, icon=":material/error:")
        elif job.finished and job.run_path:
            st.success(f"Saved as **{Path(job.run_path).name}** and made the active model "
                       f"({job.seconds:.0f} s of fine-tuning).")
        points, history = list(job.points), list(job.history)
        if points or history:
            st.plotly_chart(run_views.training_figure(points, history, epochs=job.config.epochs), key="ft_live_chart",
                            config={"displayModeBar": False})
            st.caption("Validation = your held-out digits (never trained on). Training = the mix of your other "
                       "digits and MNIST.")
    result_ui(job)


def live_ui() -> None:
    """The job, redrawn every second while it runs (a fragment: the rest of the page stays put)."""
    job = _job()
    if job is None:
        return

    @st.fragment(run_every=1.0 if job.running else None)
    def live():
        current = _job()
        if current is None:
            return
        if current.finished and not current.collected:
            _collect(current)
            st.rerun()  # the whole app: the sidebar picker shows the new active model
        job_view(current)

    live()


def render_finetune() -> None:
    """The "Fine-tune on my handwriting" section of the Upload page."""
    from lenet.finetune import MIN_USER_DIGITS

    st.subheader("Fine-tune on my handwriting")
    x, y, names = labelled_digits()
    job = _job()
    if job is not None and job.finished and not job.collected:
        _collect(job)
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
    busy = job is not None and job.running
    if st.button("Fine-tune a copy of the active model", key="ft_start", type="primary", icon=":material/school:",
                 disabled=busy or len(y) < MIN_USER_DIGITS,
                 help="Runs in the background; the new run is saved and made active when it ends."):
        data = state.get_mnist()
        if data is not None:
            try:
                from lenet.finetune import split_user

                split_user(y, settings.holdout, settings.seed)  # say what is wrong before starting a thread
            except ValueError as exc:
                st.error(str(exc))
            else:
                st.session_state[state.FINETUNE_JOB] = FinetuneJob.start_finetune(
                    run, model, x, y, names, settings, data, name=name.strip() or f"{run.name} + my handwriting")
                st.rerun()
    live_ui()
