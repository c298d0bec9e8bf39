"""Jobs as the app shows them: submitting one from a session, the one live view of a job (training and fine-tuning
alike), this session's and the server's recent jobs, and time estimates made only from measured speeds.

The work itself runs in worker processes fed by the queue in ``lenet.jobs``; this module only reads the small
files a job folder holds. The live view is an ``@st.fragment(run_every=1.0)`` that exists only while its page is
open and a job is queued or running, so watching costs the training nothing.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import streamlit as st

from lenet import jobs as q
from lenet.config import TrainConfig
from ui import run_views, state

RECENT = 8  # jobs of the whole server listed on the Train page
MAX_POINTS = 300  # live-chart points drawn at most (a long job reports twice a second)
TITLES = {"queued": "Waiting in the queue", "starting": "Starting", "running": "Training",
          "evaluating": "Saved · measuring", "done": "Finished", "stopped": "Stopped early — saved",
          "failed": "Failed", "cancelled": "Cancelled"}
ICONS = {"queued": "⏳", "starting": "▶", "running": "▶", "evaluating": "▶", "done": "✓", "stopped": "■",
         "failed": "✗", "cancelled": "–"}
ARCH_LABELS = {"lenet": "LeNet (PyImageSearch)", "lenet1": "LeNet-1 (1989)", "lenet5": "LeNet-5 (1998)",
               "mlp": "MLP 256-128-64", "cnn": "CNN 32/64 (Keras)"}


# ---------------------------------------------------------------- session side
def submit(config: TrainConfig, name: str | None, **kwargs) -> q.Job:
    """Queue a job for this session (it starts now if a worker slot is free) and remember it."""
    job = q.submit(config, name=name or None, owner="app", **kwargs)
    state.add_session_job(job.path)
    st.session_state[state.SCROLL_TO_JOB] = True  # the next run brings its progress into view
    return job


def session_jobs() -> list[q.Job]:
    """This session's jobs, newest first (those whose folder is gone are skipped)."""
    found = (q.read_job(p) for p in reversed(st.session_state.get(state.JOB_IDS, [])))
    return [j for j in found if j is not None]


def recent_jobs() -> list[q.Job]:
    """The server's newest jobs; reading them also serves the queue (a worker that died is noticed here)."""
    q.pump()
    return q.list_jobs(limit=RECENT)


def speed_for(config: TrainConfig) -> dict | None:
    return q.measured_speed(config, q.list_jobs(limit=50))


# ---------------------------------------------------------------- texts
def duration_text(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


def epochs_text(x: float) -> str:
    """Epochs done, as people write them: "2", "2.5", "100" (never "1e+02")."""
    return f"{round(x, 1):g}"


def job_label(job: q.Job, mine: bool) -> str:
    """One line for lists: state, progress, what, name, when, whose."""
    cfg = job.spec["config"]
    what = "fine-tune" if job.kind == "finetune" else cfg["arch"]
    name = job.spec.get("name") or job.id
    pct = f" {job.fraction:.0%}" if job.state in ("running", "evaluating") else ""
    whose = "yours" if mine else (job.spec.get("owner") or "someone")
    when = time.strftime("%H:%M", time.localtime(job.spec.get("submitted_at", 0)))
    return f"{ICONS.get(job.state, '?')} {TITLES.get(job.state, job.state)}{pct} · {what} · {name} · {when} · {whose}"


def progress_text(job: q.Job) -> str:
    """One line for the progress bar: epoch, batch, speed and time left, as measured so far."""
    p = job.progress
    if not p:
        return f"{job.status.get('phase', 'Starting…')} ({time.time() - job.status.get('started_at', time.time()):.0f} s)"
    done = p["epoch"] + p["batch"] / max(1, p["batches"])
    if job.state != "running":
        return f"{epochs_text(done)} of {epochs_text(p['epochs'])} epochs in {job.status.get('train_seconds', 0):.1f} s"
    early = p["epoch"] == 0 and p["batch"] < min(5, p["batches"])  # tracing: the first batches' speed says little
    eta = "estimating…" if early else duration_text(p.get("eta_s"))
    return (f"Epoch {p['epoch'] + 1}/{p['epochs']} · batch {p['batch']}/{p['batches']} · "
            f"{p['images_per_s']:,.0f} images/s · time left {eta}")


def wait_text(job: q.Job, all_jobs: list[q.Job]) -> str:
    """Where a queued job stands: its position and, when the speeds are measured, when it should start."""
    running, ahead = q.queue_ahead(job, all_jobs)
    left = [q.remaining_seconds(j, speed_for(j.config)) for j in running + ahead]
    start = ("in about " + duration_text(sum(left))) if left and None not in left else \
        "when the jobs ahead finish (their speed on this machine is not measured yet)"
    if not left:
        return "Next to start (a worker is being freed)."
    return (f"Position {len(ahead) + 1} in the queue: {len(running)} running, {len(ahead)} waiting ahead "
            f"(at most {q.max_running()} run at once). Starts {start}.")


def estimate_text(config: TrainConfig) -> str:
    """Before Train is clicked: how long it should take, from speeds measured on this machine, and the queue."""
    speed = speed_for(config)
    n = q.train_images(config)
    if speed is None:
        text = (f"{n:,} images × {config.epochs} epochs. No {config.arch} training has been measured on this "
                f"server yet: this run measures it (images/s and time left show once it starts).")
    else:
        est = q.estimate_seconds(config, speed)
        basis = "at this batch size" if speed["same_batch"] else "at another batch size"
        text = (f"{n:,} images × {config.epochs} epochs: about **{duration_text(est)}** on this server "
                f"({speed['images_per_s']:,.0f} images/s measured for {config.arch} {basis} over the last "
                f"{speed['n']} run{'s' * (speed['n'] != 1)}, plus {speed['startup_s']:.0f} s to start and "
                f"{speed['eval_s']:.0f} s to measure it).")
    busy = [j for j in q.list_jobs(limit=50) if j.active or j.state == "queued"]
    if busy:
        text += f" {len(busy)} job{'s' * (len(busy) != 1)} ahead in the queue."
    return text


# ---------------------------------------------------------------- the live view
def _points(job: q.Job) -> list[dict]:
    step = max(1, len(job.points) // MAX_POINTS)
    return job.points[::step] + ([job.points[-1]] if len(job.points) % step != 1 and step > 1 else [])


def job_view(job: q.Job, key: str, all_jobs: list[q.Job] | None = None) -> None:
    """A job, whatever its state: progress, Stop or Cancel, the saved run, and its curves."""
    cfg = job.config
    subset = f" on {cfg.train_subset:,} images" if cfg.train_subset and job.kind == "train" else ""
    what = "Fine-tuning a copy" if job.kind == "finetune" else ARCH_LABELS.get(cfg.arch, cfg.arch)
    st.markdown(f"**{ICONS.get(job.state)} {TITLES.get(job.state, job.state)}** — {what}, "
                f"{cfg.epochs} epoch{'s' * (cfg.epochs != 1)}{subset}"
                + (f" · *{job.spec['name']}*" if job.spec.get("name") else ""))
    if job.state == "queued":
        st.caption(wait_text(job, all_jobs if all_jobs is not None else q.list_jobs()))
    elif job.state in ("starting", "running"):
        st.progress(min(1.0, max(0.0, job.fraction)), text=progress_text(job))
    elif job.state == "evaluating":
        ev = job.evaluation
        frac = ev["done"] / ev["total"] if ev.get("total") else 0.0
        st.progress(frac, text=f"Saved as **{Path(job.run_path).name}**. Measuring "
                               f"{ev.get('what', 'it')}: {ev.get('done', 0):,} of {ev.get('total', 0):,}")
    if job.state in ("queued", "starting", "running"):
        label = "Cancel" if job.state == "queued" else "Stop"
        st.button(label, key=f"{key}_stop", icon=":material/stop:", on_click=q.request_stop, args=(job.path,),
                  disabled=job.stop_requested, help="Ends after the current batch; the model as it stands is "
                  "saved within seconds, then measured." if label == "Stop" else "Takes it out of the queue.")
        if job.stop_requested and job.state != "queued":
            st.caption("Stopping after the current batch…")
    if job.state == "failed":
        st.error(job.status.get("error", "The job failed."), icon=":material/error:")
    elif job.finished and job.run_path:
        acc = job.status.get("test_accuracy")
        acc_text = f"MNIST test accuracy **{acc * 100:.2f} %**" if acc is not None else "not measured"
        note = " It stopped early, is marked stopped and is usable." if job.state == "stopped" else ""
        st.success(f"Saved as **{Path(job.run_path).name}** — {acc_text}, after "
                   f"{job.status.get('train_seconds', 0):.1f} s of training.{note}")
        if job.run_path != state.active_run_path():
            if st.button("Use it as the active model", key=f"{key}_use", icon=":material/check:"):
                state.set_active(job.run_path)
                st.rerun()  # the whole app: the sidebar picker shows it
        elif job.kind == "train":
            st.page_link("pages/evaluate.py", label="Evaluate it: confusion matrix and mistakes",
                         icon=":material/grid_on:")
    if job.points or job.history:
        st.plotly_chart(run_views.training_figure(_points(job), job.history, epochs=cfg.epochs, height=300),
                        key=f"{key}_live_chart", config={"displayModeBar": False, "staticPlot": job.active})
        if job.kind == "finetune":
            st.caption("Validation = your held-out digits (never trained on). Training = the mix of your other "
                       "digits and MNIST.")


def live_ui(path: str, key: str, after=None) -> None:
    """A job redrawn every second while it is queued or running (a fragment: the rest of the page stays put).

    Args:
        path: the job's folder.
        key: widget-key prefix (``train``, ``ft``).
        after: optional ``f(job)`` drawn under the job (e.g. fine-tuning's before/after).
    """
    first = q.read_job(path)
    if first is None:
        st.caption("This job's folder is gone (cleaned up); its run, if any, is in the store.")
        return
    live = not first.finished
    if not live:
        state.collect_jobs()  # also done before every page; cheap, and keeps this view right on its own

    @st.fragment(run_every=1.0 if live else None)
    def view():
        job = q.read_job(path)
        if job is None:
            return
        if live and job.finished:  # once: the sidebar picker and the page show the new run
            state.collect_jobs()
            st.rerun()
        if job.active or job.state == "queued":
            q.pump()  # starts it if its turn came and no worker did (e.g. the one before it crashed)
        with st.container(border=True, key=f"{key}_job_box"):
            job_view(job, key)
        if after is not None:
            after(job)

    view()
    state.mark_seen(path)
    if st.session_state.pop(state.SCROLL_TO_JOB, False):
        scroll_into_view(f"{key}_job_box")


def scroll_into_view(container_key: str) -> None:
    """Bring a keyed container into view (after Train is clicked its progress would sit below the fold)."""
    st.html(f"<script>setTimeout(() => parent.document.querySelector('.st-key-{container_key}')"
            f"?.scrollIntoView({{behavior: 'smooth', block: 'center'}}), 300)</script>",
            unsafe_allow_javascript=True)


def jobs_ui(key: str = "train") -> None:
    """The job in focus, live, and a picker over this session's jobs and the server's recent ones.

    After a reload the session has forgotten its jobs; the server's list still has them, and the newest one still
    running (or finished in the last hour) is shown.
    """
    mine = session_jobs()
    recent = recent_jobs()
    mine_ids = {j.id for j in mine}
    others = [j for j in recent if j.id not in mine_ids]
    jobs = mine + others
    if not jobs:
        return
    labels = {str(j.path): job_label(j, j.id in mine_ids) for j in jobs}
    focus = st.session_state.get(state.FOCUS_JOB)
    if focus not in labels:
        live = [j for j in jobs if not j.finished]
        fresh = [j for j in jobs if time.time() - j.status.get("finished_at", 0) < 3600]
        focus = str((live or fresh or jobs)[0].path)
    st.session_state[state.FOCUS_JOB] = focus
    st.session_state[f"{key}_job_pick"] = focus
    st.subheader("Jobs")
    st.selectbox("Job shown", list(labels), format_func=labels.get, key=f"{key}_job_pick",
                 help="Yours first, then the server's recent jobs (all sessions and the command line share one "
                      "queue).", on_change=lambda: st.session_state.update(
                          {state.FOCUS_JOB: st.session_state[f"{key}_job_pick"]}))
    if not mine and others:
        st.caption("Recent jobs on this server — a reload forgets which were yours, the server does not.")
    live_ui(focus, key)
