"""Train page: settings and presets, the architecture's layer table, training in the background with live curves
and Stop, "trains or loads" for settings already in the store, and a comparison of stored runs."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from lenet.config import ARCHITECTURES, OPTIMIZERS, PRESETS, SCHEDULES, Augment, TrainConfig
from lenet.store import StoreError, find_by_config, read_run
from ui import run_views, state
from ui.jobs import TrainJob, collect_finished, current_job, progress_text

state.require_app(__file__)

DEFAULT_PRESET = "fast"
OFFER = "train_offer"  # {"config": dict, "name": str, "runs": [path]} when these settings are already in the store
VIEW = "train_view"  # "job" (this session's training) or the path of a run loaded instead of trained
ARCH_LABELS = {
    "lenet": "LeNet (PyImageSearch)",
    "lenet1": "LeNet-1 (1989)",
    "lenet5": "LeNet-5 (1998)",
    "mlp": "MLP 256-128-64",
    "cnn": "CNN 32/64 (Keras)",
}
SCHEDULE_LABELS = {"constant": "constant", "cosine": "cosine decay", "onecycle": "one-cycle"}
VALIDATION_LABELS = {"test": "MNIST test set (as the seeds did)", "split": "hold out part of the training set"}


def form_values(cfg: TrainConfig) -> dict:
    """The settings widgets' values (by key) that show ``cfg``."""
    return {
        "train_arch": cfg.arch, "train_activation": cfg.activation, "train_pooling": cfg.pooling,
        "train_optimizer": cfg.optimizer, "train_lr": float(cfg.lr), "train_momentum": float(cfg.momentum),
        "train_nesterov": bool(cfg.nesterov), "train_weight_decay": float(cfg.weight_decay),
        "train_schedule": cfg.schedule, "train_batch": int(cfg.batch_size), "train_epochs": int(cfg.epochs),
        "train_rotation": float(cfg.augment.rotation), "train_shift": float(cfg.augment.shift),
        "train_zoom": float(cfg.augment.zoom), "train_thickness": float(cfg.augment.thickness),
        "train_smoothing": float(cfg.label_smoothing), "train_validation": cfg.validation,
        "train_val_split": float(cfg.val_split), "train_subset": int(cfg.train_subset), "train_seed": int(cfg.seed),
    }


def _apply_preset() -> None:
    """Selecting a preset fills every settings widget (the subset and seed stay as the user set them)."""
    cfg = PRESETS[st.session_state["train_preset"]][1]
    keep = {k: st.session_state[k] for k in ("train_subset", "train_seed") if k in st.session_state}
    st.session_state.update({**form_values(cfg), **keep})


def settings_ui() -> tuple[TrainConfig, str]:
    """The settings widgets; returns the TrainConfig they describe and an optional run name."""
    ss = st.session_state
    ss.setdefault("train_preset", DEFAULT_PRESET)
    for key, value in form_values(PRESETS[DEFAULT_PRESET][1]).items():
        ss.setdefault(key, value)
    keep = dict(persist_state="session")  # settings survive a visit to another page
    c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
    preset = c1.selectbox("Preset", list(PRESETS), key="train_preset", on_change=_apply_preset,
                          help="Fills every setting below.", **keep)
    c2.caption(PRESETS[preset][0])

    c1, c2, c3 = st.columns([2, 1, 1])
    arch = c1.selectbox("Architecture", ARCHITECTURES, format_func=ARCH_LABELS.get, key="train_arch", **keep)
    activation = c2.selectbox("Activation", ("relu", "tanh"), key="train_activation", **keep)
    pooling = c3.selectbox("Pooling", ("max", "avg"), key="train_pooling", disabled=arch == "mlp",
                           help="An MLP has no pooling.", **keep)

    c1, c2, c3 = st.columns(3)
    optimizer = c1.selectbox("Optimizer", OPTIMIZERS, key="train_optimizer", **keep)
    lr = c2.number_input("Learning rate", min_value=1e-5, max_value=1.0, step=1e-4, format="%.5f",
                         key="train_lr", **keep)
    schedule = c3.selectbox("Schedule", SCHEDULES, format_func=SCHEDULE_LABELS.get, key="train_schedule",
                            help="One-cycle warms up from lr/25 over a quarter of the steps, then cosine-anneals.",
                            **keep)

    c1, c2, c3 = st.columns(3)
    momentum = c1.slider("Momentum (SGD)", 0.0, 0.99, step=0.01, key="train_momentum", disabled=optimizer != "sgd",
                         **keep)
    nesterov = c2.checkbox("Nesterov (SGD)", key="train_nesterov", disabled=optimizer != "sgd", **keep)
    weight_decay = c3.number_input("Weight decay (AdamW)", min_value=0.0, max_value=0.1, step=1e-4, format="%.5f",
                                   key="train_weight_decay", disabled=optimizer != "adamw", **keep)

    c1, c2, c3 = st.columns(3)
    batch = c1.number_input("Batch size", min_value=1, max_value=4096, step=1, key="train_batch", **keep)
    epochs = c2.number_input("Epochs", min_value=1, max_value=100, step=1, key="train_epochs", **keep)
    subset = c3.number_input("Train on a subset (images; 0 = all 60,000)", min_value=0, max_value=60_000,
                             step=500, key="train_subset", help="A few thousand images train in seconds: handy "
                             "for a quick demo. Validation then uses a quarter as many images.", **keep)

    with st.expander("Augmentation, label smoothing, validation, seed"):
        c1, c2 = st.columns(2)
        rotation = c1.slider("Rotation (± degrees)", 0.0, 30.0, step=1.0, key="train_rotation", **keep)
        shift = c2.slider("Shift (± fraction of the side)", 0.0, 0.3, step=0.01, key="train_shift", **keep)
        zoom = c1.slider("Zoom (± relative)", 0.0, 0.3, step=0.01, key="train_zoom", **keep)
        thickness = c2.slider("Stroke thickness change (probability)", 0.0, 1.0, step=0.05, key="train_thickness",
                              **keep)
        smoothing = c1.slider("Label smoothing", 0.0, 0.3, step=0.01, key="train_smoothing", **keep)
        seed = c2.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="train_seed", **keep)
        validation = c1.radio("Validation", ("test", "split"), format_func=VALIDATION_LABELS.get,
                              key="train_validation", **keep)
        val_split = c2.slider("Held-out fraction", 0.05, 0.3, step=0.01, key="train_val_split",
                              disabled=validation != "split", **keep)
    name = st.text_input("Run name (optional)", key="train_name", placeholder="e.g. my first LeNet", **keep)

    config = TrainConfig(
        arch=arch, activation=activation, pooling=pooling, optimizer=optimizer, lr=float(lr),
        momentum=float(momentum), nesterov=bool(nesterov), weight_decay=float(weight_decay), schedule=schedule,
        batch_size=int(batch), epochs=int(epochs),
        augment=Augment(rotation=float(rotation), shift=float(shift), zoom=float(zoom), thickness=float(thickness)),
        label_smoothing=float(smoothing), validation=validation, val_split=float(val_split),
        train_subset=int(subset), seed=int(seed))
    preset_cfg = PRESETS[st.session_state["train_preset"]][1]
    if config == preset_cfg:
        st.caption(f"Settings match the preset **{st.session_state['train_preset']}**.")
    elif config.replace(train_subset=preset_cfg.train_subset, seed=preset_cfg.seed) == preset_cfg:
        st.caption(f"Preset **{st.session_state['train_preset']}** on a subset of {config.train_subset:,} images."
                   if config.train_subset else f"Preset **{st.session_state['train_preset']}** with seed {seed}.")
    else:
        st.caption(f"Changed from the preset **{st.session_state['train_preset']}**.")
    return config, name.strip()


def architecture_ui(config: TrainConfig) -> None:
    """The chosen architecture as the seed's Table 1, built fresh (and cached) for these settings."""
    try:
        with st.spinner("Building the architecture…"):
            rows, params, source = state.layer_table(config.arch, config.activation, config.pooling)
    except ValueError as exc:
        st.error(f"This architecture cannot be built with these settings: {exc}")
        return
    st.markdown(f"**{ARCH_LABELS[config.arch]}** · {params:,} parameters")
    st.caption(f"Source: {source}")
    run_views.layer_table_ui(rows)


def start_training(config: TrainConfig, name: str) -> None:
    """Start this session's background job (one at a time)."""
    data = state.get_mnist()
    if data is None:
        return  # get_mnist has shown why
    st.session_state[state.TRAIN_JOB] = TrainJob.start(config, data, name=name or None)
    st.session_state[VIEW] = "job"
    st.session_state.pop(OFFER, None)


def _load_offered(path: str) -> None:
    state.set_active(path)
    st.session_state[VIEW] = path
    st.session_state.pop(OFFER, None)


def start_ui(config: TrainConfig, name: str) -> None:
    """The Train button; if these exact settings already have a complete run, offer to load it instead."""
    job = current_job()
    busy = job is not None and job.running
    clicked = st.button("Train", key="train_start", type="primary", icon=":material/play_arrow:", disabled=busy,
                        help="Training runs in the background: you can switch pages and come back."
                        if not busy else "A training is already running in this session.")
    if clicked:
        try:
            matches = find_by_config(config)
        except (OSError, StoreError):
            matches = []  # an unreadable store cannot offer a run; training still works
        if matches:
            st.session_state[OFFER] = {"config": config.to_dict(), "name": name,
                                       "runs": [str(r.path) for r in matches]}
        else:
            start_training(config, name)
    offer = st.session_state.get(OFFER)
    if offer and offer["config"] == config.to_dict():
        try:
            run = read_run(offer["runs"][0])
        except StoreError:
            st.session_state.pop(OFFER, None)
            return
        acc = f"{run.accuracy * 100:.2f} %" if run.accuracy is not None else "not evaluated"
        st.info(f"A complete run with exactly these settings is already stored: **{run.name}** "
                f"(MNIST test {acc}, {run.meta.get('train_seconds', 0):.0f} s of training). Load it, or train again?",
                icon=":material/inventory_2:")
        c1, c2 = st.columns(2)
        c1.button(f"Load run {run.name} (curves shown immediately)", key="train_load", type="primary",
                  on_click=_load_offered, args=(str(run.path),))
        if c2.button("Train anyway", key="train_anyway"):
            start_training(TrainConfig.from_dict(offer["config"]), offer["name"])
            st.rerun()


def job_view(job: TrainJob) -> None:
    """Progress, Stop and the live curves of a job (running or finished)."""
    labels = {"starting": "Starting…", "training": "Training…", "saving": "Evaluating and saving…",
              "done": "Training finished", "stopped": "Training stopped early", "error": "Training failed"}
    status_state = "running" if job.running else ("error" if job.state == "error" else "complete")
    title = f"{labels[job.state]} — {views_name(job)}"
    with st.status(title, state=status_state, expanded=True):
        frac = job.progress.get("fraction", 0.0) if job.running else (1.0 if job.state == "done" else
                                                                         job.progress.get("fraction", 0.0))
        st.progress(min(1.0, max(0.0, frac)), text=progress_text(job))
        if job.state in ("starting", "training"):
            st.button("Stop", key="train_stop", icon=":material/stop:", on_click=job.stop,
                      disabled=job.stop_requested, help="Ends after the current batch; the model so far is saved.")
            if job.stop_requested:
                st.caption("Stopping after the current batch…")
        if job.error:
            st.error(job.error, icon=":material/error:")
        elif job.finished and job.run_path:
            acc = f"{job.test_accuracy * 100:.2f} %" if job.test_accuracy is not None else "?"
            note = " It stopped early, is marked stopped and is usable." if job.state == "stopped" else ""
            st.success(f"Saved as **{Path(job.run_path).name}** — MNIST test accuracy **{acc}** after "
                       f"{job.seconds:.1f} s of training. It is now the active model.{note}")
            st.page_link("pages/evaluate.py", label="Evaluate it: confusion matrix and mistakes",
                         icon=":material/grid_on:")
        points, history = list(job.points), list(job.history)
        if points or history:
            st.plotly_chart(run_views.training_figure(points, history, epochs=job.config.epochs), key="train_live_chart",
                            config={"displayModeBar": False})


def views_name(job: TrainJob) -> str:
    cfg = job.config
    subset = f" on {cfg.train_subset:,} images" if cfg.train_subset else ""
    return f"{ARCH_LABELS[cfg.arch]}, {cfg.epochs} epoch{'s' * (cfg.epochs != 1)}{subset}"


def job_ui() -> None:
    """This session's job, redrawn every second while it runs (a fragment: the rest of the page stays put)."""
    job = current_job()
    if job is None:
        return

    @st.fragment(run_every=1.0 if job.running else None)
    def live():
        current = current_job()
        if current is None:
            return
        if current.finished and not current.collected:
            collect_finished()
            st.rerun()  # whole app: the sidebar picker and this page show the new active model
        job_view(current)

    live()


def loaded_view(path: str) -> None:
    """A run loaded instead of trained: its card and curves, at once."""
    try:
        run = read_run(path)
    except StoreError as exc:
        st.error(f"That run can no longer be read: {exc}")
        return
    st.success(f"Loaded **{run.name}** — it is now the active model. Its training curves:",
               icon=":material/inventory_2:")
    st.caption(run.card())
    st.plotly_chart(run_views.training_figure([], run.meta.get("history") or []), key="train_loaded_chart",
                    config={"displayModeBar": False})


def compare_ui() -> None:
    """Pick stored runs, overlay their curves, compare them in a table, download a model file."""
    runs, _problems = state.all_runs()  # the sidebar already reports damaged runs
    if not runs:
        st.info("No runs stored yet: train one in the other tab.")
        return
    by_path = {str(r.path): r for r in runs}
    mine = [p for p in st.session_state.get(state.SESSION_RUNS, []) if p in by_path]
    ss = st.session_state
    if "compare_runs" not in ss:
        default = list(dict.fromkeys(mine[-4:] + [state.active_run_path()]))
        ss["compare_runs"] = [p for p in default if p in by_path][:5] or list(by_path)[:1]
    else:  # runs trained since the last visit join the comparison; deleted ones leave it
        new = [p for p in mine if p not in ss.get("compare_seen", []) and p not in ss["compare_runs"]]
        ss["compare_runs"] = [p for p in ss["compare_runs"] + new if p in by_path]
    ss["compare_seen"] = mine
    labels = {p: state.model_label(r) for p, r in by_path.items()}  # computed now: format_func must be pure
    chosen = st.multiselect("Runs to compare", list(by_path), key="compare_runs", format_func=labels.get)
    if not chosen:
        st.caption("Pick one or more runs.")
        return
    picked = [by_path[p] for p in chosen]
    st.plotly_chart(run_views.compare_figure(picked), key="compare_chart", config={"displayModeBar": False})
    run_views.compare_table_ui(picked)
    st.caption("Accuracy on the 10,000 MNIST test images; precision, recall and F1 are macro averages.")
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    target = c1.selectbox("Model file to download", chosen, key="compare_download_run", format_func=labels.get)
    model_file = by_path[target].model_file
    c2.download_button("Download model.keras", data=lambda: Path(model_file).read_bytes(),
                       file_name=f"{by_path[target].id}.keras", mime="application/octet-stream",
                       key="compare_download", on_click="ignore", icon=":material/download:")
    from lenet.store import serving_bytes

    c3.download_button("Download model.tflite", data=lambda: serving_bytes(Path(model_file).parent),
                       file_name=f"{by_path[target].id}.tflite", mime="application/octet-stream",
                       key="compare_download_tflite", on_click="ignore", icon=":material/download:",
                       help="The serving format (LiteRT / TensorFlow Lite), for phones and the web.")


def main() -> None:
    st.title("Train")
    collect_finished()
    train_tab, compare_tab = st.tabs(["Train a model", "Compare runs"])
    with train_tab:
        left, right = st.columns([4, 3], gap="large")
        with left:
            st.subheader("Settings")
            config, name = settings_ui()
        with right:
            st.subheader("Architecture")
            architecture_ui(config)
        start_ui(config, name)
        view = st.session_state.get(VIEW)
        if view == "job" or (view is None and current_job() is not None):
            job_ui()
        elif view:
            loaded_view(view)
    with compare_tab:
        compare_ui()


main()
