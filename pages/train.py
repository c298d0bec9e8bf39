"""Train page: settings and presets, the architecture's layer table, an estimate, Train (a job in the server-wide
queue, trained by a worker process) with live curves and Stop, "trains or loads" for settings already in the
store, and a comparison of stored runs."""
from __future__ import annotations

import streamlit as st

from lenet.config import TrainConfig
from lenet.store import StoreError, find_by_config, read_run
from ui import jobs, run_views, state, train_form

state.require_app(__file__)

OFFER = "train_offer"  # {"config": dict, "name": str, "runs": [path]} when these settings are already in the store
VIEW = "train_view"  # the path of a run loaded instead of trained (None: show the jobs)


def start_training(config: TrainConfig, name: str) -> None:
    """Queue this session's job; it starts at once when a worker slot is free."""
    jobs.submit(config, name)
    st.session_state[VIEW] = None
    st.session_state.pop(OFFER, None)


def _load_offered(path: str) -> None:
    state.set_active(path)
    st.session_state[VIEW] = path
    st.session_state.pop(OFFER, None)


def start_ui(config: TrainConfig, name: str) -> None:
    """The estimate and the Train button; if these exact settings already have a complete run, offer to load it."""
    st.caption(jobs.estimate_text(config))
    clicked = st.button("Train", key="train_start", type="primary", icon=":material/play_arrow:",
                        help="Joins the server's training queue and runs in a separate process: switch pages, "
                             "reload or come back later, the job and its curves stay.")
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


def main() -> None:
    st.title("Train")
    train_tab, compare_tab = st.tabs(["Train a model", "Compare runs"])
    with train_tab:
        left, right = st.columns([4, 3], gap="large")
        with left:
            st.subheader("Settings")
            config, name = train_form.settings_ui()
        with right:
            st.subheader("Architecture")
            train_form.architecture_ui(config)
        start_ui(config, name)
        if view := st.session_state.get(VIEW):
            loaded_view(view)
        jobs.jobs_ui("train")
    with compare_tab:
        run_views.compare_ui()


main()
