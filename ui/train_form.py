"""The Train page's controls: presets and settings (returning a ``TrainConfig``) and the chosen architecture's
layer table."""
from __future__ import annotations

import streamlit as st

from lenet.config import ARCHITECTURES, OPTIMIZERS, PRESETS, SCHEDULES, Augment, TrainConfig
from ui import run_views, state
from ui.jobs import ARCH_LABELS

DEFAULT_PRESET = "fast"
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
    epochs = c2.number_input("Epochs", min_value=1, max_value=100, step=1, format="%d", key="train_epochs", **keep)
    subset = c3.number_input("Train on a subset (images; 0 = all 60,000)", min_value=0, max_value=60_000,
                             step=500, key="train_subset", help="Fewer images train faster (the estimate under the "
                             "Train button is measured on this server). Validation then uses a quarter as many "
                             "images.", **keep)

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
