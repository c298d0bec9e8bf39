"""The one place for Streamlit caches and session-state keys: pages import from here.

``st.cache_resource`` objects are shared by every user: they are read-only (MNIST arrays). Loaded models are too,
and live in ``lenet.infer``'s one bounded cache (per run folder and model file time): the serving model for
predictions (``load_model``), the Keras model only where gradients or layers are needed (``keras_model``).
Whatever a user trains belongs to their session and to the on-disk store, never to a global cache.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from lenet import config
from lenet.store import DEFAULT_REF, Run, StoreError, list_runs, model_mtime, read_run

# Session-state keys (one list, so pages never invent clashing names).
ACTIVE_MODEL = "active_model"  # run folder path (str) of the model every page uses
SESSION_RUNS = "session_runs"  # run folder paths trained in this browser session, newest last
MODEL_WARNING = "model_warning"  # message shown once when the chosen model could not be loaded
CURRENT_DIGIT = "current_digit"  # {"source": str, "image": ndarray} — the last drawing / crop, for Inside
LABELLED_UPLOADS = "labelled_uploads"  # list of {"x": (28,28) float32, "label": int, "name": str, "crop": ndarray}
UPLOAD_SOURCES = "upload_sources"  # the Upload page's files: [{"name": str, "data": bytes, "cid": str, "seq": str}]
UPLOAD_FIXES = "upload_fixes"  # per-digit true labels typed in the Upload table: {"<cid>:<index>": label or -1}
UPLOAD_DROPS = "upload_drops"  # boxes the user marked "not a digit": {"<cid>": {(x, y, w, h), ...}}
UPLOAD_CACHE = "upload_cache"  # this session's decoded files and page readings (ui.reading, bounded by bytes)
UPLOADER_N = "upload_uploader_n"  # bumped after each upload: a fresh, empty file uploader (files live in UPLOAD_SOURCES)
JOB_IDS = "job_ids"  # folders of the jobs (lenet.jobs) this session submitted, oldest first
COLLECTED_JOBS = "collected_jobs"  # job folders whose saved run has joined SESSION_RUNS (once each)
SEEN_JOBS = "seen_jobs"  # finished job folders the user has seen on their page (the sidebar stops pointing there)
FOCUS_JOB = "focus_job"  # the job folder the Train page shows
FINETUNE_JOB = "finetune_job"  # the folder of this session's latest fine-tuning job (Upload page)
SCROLL_TO_JOB = "scroll_to_job"  # set on submit: the next run scrolls the job's progress into view
SHOW_OTHERS = "sidebar_show_others"  # the picker also lists runs trained in other sessions
PICKER = "sidebar_model"  # the sidebar's active-model selectbox
ROUTED = "routed_by_app"  # set by app.py on each run: the page is running inside the app's navigation
WANTED_PAGE = "wanted_page"  # a deep link to remember while it is sent through app.py


def require_app(page_file: str) -> None:
    """Send a page that Streamlit ran on its own back through ``app.py``, keeping the page the user asked for.

    Streamlit still auto-discovers the ``pages/`` folder: a deep link such as ``/evaluate`` opened before any
    session has run ``app.py`` runs that page alone — no sidebar, no model picker. Every page calls this first.
    """
    if not st.session_state.get(ROUTED):
        st.session_state[WANTED_PAGE] = Path(page_file).resolve().relative_to(config.PROJECT_ROOT).as_posix()
        st.switch_page("app.py")


def follow_deep_link() -> None:
    """Called by app.py after ``st.navigation``: mark the run as routed and go where a deep link wanted to."""
    st.session_state[ROUTED] = True
    if wanted := st.session_state.pop(WANTED_PAGE, None):
        st.switch_page(wanted)


def default_path() -> str:
    return str(config.DEFAULT_MODEL_DIR)


def _load_model(path: str, kind: str):
    """A run's model from ``lenet.infer``'s one bounded cache, with a spinner when loading is slow: the Keras
    fallback (no LiteRT here) or a first conversion of a run saved before serving files existed."""
    from lenet import infer
    from lenet.store import serving_current

    load = infer.load_serving if kind == "serving" else infer.load_keras
    if infer.is_cached(path, kind):
        return load(path)
    if kind == "serving" and infer.runtime_available():
        if serving_current(path):
            return load(path)
        with st.spinner("Converting this run for fast predictions (once; loads TensorFlow)…"):
            return load(path)
    with st.spinner("Loading TensorFlow and the model…"):
        return load(path)


def load_model(path: str):
    """The (shared, read-only) serving model of a run folder: predictions through ``lenet.infer.predict_probs``
    without TensorFlow. Raises StoreError if it is unusable."""
    return _load_model(str(path), "serving")


def keras_model(path: str):
    """The (shared, read-only) Keras model of a run folder, for gradients, feature maps and embeddings (Inside,
    fine-tuning). Imports TensorFlow. Raises StoreError if it is unusable."""
    return _load_model(str(path), "keras")


@st.cache_resource(show_spinner=False)
def _mnist():
    from lenet.data import load_mnist

    return load_mnist()


def get_mnist(progress: bool = True):
    """MNIST arrays (cached for every session). Fetches with a progress bar the first time.

    Returns:
        ``lenet.data.Mnist``, or None after showing an error if MNIST cannot be had.
    """
    from lenet.data import MnistUnavailable, mnist_status

    if mnist_status()["cached"] or not progress:
        try:
            return _mnist()
        except MnistUnavailable as exc:
            st.error(f"MNIST is not available: {exc}")
            return None
    with st.status("Fetching MNIST (first time only)…", expanded=True) as status:
        bar = st.progress(0.0, text="starting")

        def report(done, total, message):
            bar.progress(min(1.0, done / total) if total else 0.0, text=message)

        from lenet.data import load_mnist

        try:
            load_mnist(progress=report)
        except MnistUnavailable as exc:
            status.update(label="MNIST could not be fetched", state="error")
            st.error(str(exc))
            return None
        status.update(label="MNIST ready", state="complete", expanded=False)
    return _mnist()


def all_runs() -> tuple[list[Run], list[str]]:
    """The shipped model, then runs trained in this session, then the rest of the store; and problems found."""
    runs, problems = list_runs()
    try:
        shipped = [read_run(config.DEFAULT_MODEL_DIR)]
    except StoreError as exc:
        shipped, problems = [], problems + [f"shipped model: {exc}"]
    mine = st.session_state.get(SESSION_RUNS, [])
    runs.sort(key=lambda r: str(r.path) not in mine)  # stable: this session's first, newest first within
    return shipped + runs, problems


def active_run_path() -> str:
    return st.session_state.get(ACTIVE_MODEL) or default_path()


def set_active(path: str | Path) -> None:
    st.session_state[ACTIVE_MODEL] = str(path)


def add_session_run(path: str | Path) -> None:
    st.session_state.setdefault(SESSION_RUNS, []).append(str(path))


def active_model():
    """The active run and its serving model, falling back to the shipped model if the chosen one is unusable.

    Returns:
        ``(Run, model)`` (a model for ``lenet.infer.predict_probs``; ``keras_model(path)`` for Keras), or ``(None, None)`` after showing an error if even the shipped model fails.
    """
    run, model, problem = _usable_active()
    if problem is not None:
        st.error(f"The shipped model cannot be loaded: {problem}. Reinstall it from the repository "
                 f"(`git checkout assets/models`) or train one on the Train page.")
    return run, model


def _usable_active():
    """``(run, model, None)`` for the active run, switching to the shipped model (with a ``MODEL_WARNING`` for the
    sidebar) when the chosen one is unusable; ``(None, None, problem)`` when even the shipped model fails."""
    path = active_run_path()
    try:
        return read_run(path), load_model(path), None
    except (StoreError, OSError) as exc:
        if path == default_path():
            return None, None, str(exc)
        st.session_state[MODEL_WARNING] = f"Could not load the chosen model ({exc}); using the shipped model."
        set_active(default_path())
        return _usable_active()


def model_label(run: Run) -> str:
    """A run as pickers list it: name · architecture · MNIST test accuracy (the shipped one says so)."""
    tag = "shipped · " if run.path.resolve() == config.DEFAULT_MODEL_DIR.resolve() else ""
    acc = f"{run.accuracy * 100:.2f} %" if run.accuracy is not None else "not measured"
    return f"{tag}{run.name} · {run.meta.get('arch', '?')} · {acc}"


# ---------------------------------------------------------------- this session's jobs (lenet.jobs folders)
def add_session_job(path: str | Path) -> None:
    st.session_state.setdefault(JOB_IDS, []).append(str(path))
    st.session_state[FOCUS_JOB] = str(path)


def collect_jobs() -> list[str]:
    """This session's jobs that have saved a run since the last call: each run joins the session's runs and the
    newest becomes the active model (once per job). Returns their run paths."""
    from lenet.jobs import read_job

    done = st.session_state.setdefault(COLLECTED_JOBS, [])
    new = []
    for path in st.session_state.get(JOB_IDS, []):
        if path in done:
            continue
        job = read_job(path)
        if job is None or job.finished:
            done.append(path)
            if job is not None and job.run_path:
                add_session_run(job.run_path)
                new.append(job.run_path)
    if new:
        set_active(new[-1])
    return new


def mark_seen(path: str | Path) -> None:
    seen = st.session_state.setdefault(SEEN_JOBS, [])
    if str(path) not in seen:
        seen.append(str(path))


def before_page() -> None:
    """Run before every page: a job that ended while the user was elsewhere makes its run the active model."""
    collect_jobs()


def _jobs_sidebar() -> None:
    """This session's jobs in the sidebar: live progress while they run (read from their small progress files
    every 2 s), then "done — open Train" until the user has seen them."""
    from lenet.jobs import read_job

    paths = st.session_state.get(JOB_IDS, [])
    if not paths:
        return
    running = any((j := read_job(p)) is not None and not j.finished for p in paths)

    @st.fragment(run_every=2.0 if running else None)
    def jobs_box():
        seen = st.session_state.get(SEEN_JOBS, [])
        for path in paths[-3:]:
            job = read_job(path)
            if job is None:
                continue
            what = job.spec["config"]["arch"] if job.kind == "train" else "fine-tuning"
            if job.state == "queued":
                st.caption(f":material/hourglass_empty: {what}: waiting in the queue")
            elif not job.finished:
                frac = job.fraction if job.state != "evaluating" else 1.0
                phase = "measuring the saved model" if job.state == "evaluating" else f"{frac:.0%}"
                st.progress(min(1.0, frac), text=f"Training {what}: {phase}" if job.kind == "train" else f"{what}: {phase}")
            elif path not in seen:
                page = "pages/upload.py" if job.kind == "finetune" else "pages/train.py"
                label = {"done": "done", "stopped": "stopped, saved", "failed": "failed",
                         "cancelled": "cancelled"}[job.state]
                st.page_link(page, label=f"{what} {label} — open {'Upload' if job.kind == 'finetune' else 'Train'}",
                             icon=":material/check_circle:" if job.run_path else ":material/error:")
        if running and not any((j := read_job(p)) is not None and not j.finished for p in paths):
            st.rerun()  # a job just ended: the whole app, so the picker shows its run

    jobs_box()


def picker_runs(runs: list[Run], show_others: bool) -> list[Run]:
    """The runs the sidebar picker lists: this session's (newest first), the shipped model, the active run, and
    other sessions' runs only when asked for."""
    mine = st.session_state.get(SESSION_RUNS, [])
    current = active_run_path()
    shipped = config.DEFAULT_MODEL_DIR.resolve()
    rank = lambda r: (0 if str(r.path) in mine else 1 if r.path.resolve() == shipped else  # noqa: E731
                      2 if str(r.path) == current else 3)
    keep = [r for r in runs if show_others or rank(r) < 3]
    return sorted(keep, key=rank)  # stable: newest first within each group


def sidebar() -> None:
    """The shared sidebar: this session's jobs, the active model picker with its card, and MNIST status."""
    from lenet.data import mnist_status

    with st.sidebar:
        # Wide enough to read "name · architecture · accuracy" in the picker.
        st.html('<style>[data-testid="stSidebar"][data-collapsed="false"]{min-width: 26rem}</style>')
        _jobs_sidebar()
        # Load the chosen model before drawing the picker: when it is unusable, the fallback and its warning show
        # in this very run (a page finding out later would leave the picker naming the broken run). Cached, so the
        # page's own active_model() costs nothing more.
        _usable_active()
        runs, problems = all_runs()
        listed = picker_runs(runs, st.session_state.get(SHOW_OTHERS, False))
        paths = [str(r.path) for r in listed]
        current = active_run_path()
        if current not in paths and listed:
            current = paths[0]
        if listed:
            by_path = {str(r.path): r for r in listed}
            # ACTIVE_MODEL is the truth; pages may change it (e.g. after training), so the widget follows it.
            st.session_state[PICKER] = current
            choice = st.selectbox("Active model", paths, format_func=lambda p: model_label(by_path[p]),
                                  key=PICKER, on_change=lambda: set_active(st.session_state[PICKER]),
                                  help="Your runs first (trained in this browser session), then the shipped model.")
            set_active(choice)
            st.caption(by_path[choice].card().split(" · ", 1)[1])
        else:
            st.warning("No model yet: train one on the Train page.")
        n_others = len(runs) - len(picker_runs(runs, False))
        if n_others or st.session_state.get(SHOW_OTHERS):
            st.checkbox("Also list other sessions' runs", key=SHOW_OTHERS,
                        help=f"{n_others} runs trained by other people on this server (or by you before a reload).")
        if msg := st.session_state.pop(MODEL_WARNING, None):
            st.warning(msg)
        for p in problems:
            st.caption(f"⚠ skipped a damaged run: {p}")
        status = mnist_status()
        if status["cached"]:
            st.caption(f"MNIST: present ({status['path']})")
        else:
            st.caption("MNIST: not fetched yet")
            if st.button("Fetch MNIST", key="sidebar_fetch_mnist"):
                get_mnist()


@st.cache_data(show_spinner=False, max_entries=64)
def layer_table(arch: str, activation: str, pooling: str) -> tuple[list[dict], int, str]:
    """A freshly built architecture's layer table (type, output shape, params), parameter count and source."""
    from lenet.models import REGISTRY, build_model
    from lenet.models import layer_table as table

    model = build_model(arch, activation, pooling)
    return table(model), int(model.count_params()), REGISTRY[arch].source


@st.cache_data(show_spinner="Evaluating the model on the MNIST test images…", max_entries=16)
def _evaluation(path: str, mtime: float, n: int):
    from lenet.evaluate import evaluate_model

    data = _mnist()
    return evaluate_model(load_model(path), data.x_test[:n], data.y_test[:n])


def evaluation(path: str, n: int = 10_000):
    """The ``Evaluation`` of a run on the first ``n`` MNIST test images (through the serving model), cached per run
    path, model file time and n.

    Raises:
        StoreError: the run's model cannot be loaded.
    """
    return _evaluation(str(path), model_mtime(path), int(n))
