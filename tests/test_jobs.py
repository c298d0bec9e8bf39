"""The job queue: order, the bound on running jobs, cancel, dead workers; and a real worker that is stopped."""
import json
import os
import time
from pathlib import Path

import pytest

from lenet import jobs
from lenet.config import TrainConfig
from lenet.store import read_run

CFG = TrainConfig(arch="lenet1", batch_size=32, epochs=1, seed=1, train_subset=512)


@pytest.fixture
def one_at_a_time(monkeypatch):
    monkeypatch.setenv(jobs.MAX_RUNNING_ENV, "1")


def _recorder(started):
    def launch(path):
        started.append(path.name)  # no process: the job stays "starting" as if its worker were loading
    return launch


def test_queue_starts_jobs_in_submission_order_one_at_a_time(private_store, one_at_a_time):
    """Three jobs queue; only the oldest starts; when it finishes the next one does, never two at once"""
    a, b, c = (jobs.submit(CFG.replace(seed=s), name=n, start=False) for s, n in ((1, "a"), (2, "b"), (3, "c")))
    assert a.id < b.id < c.id and [j.state for j in (a, b, c)] == ["queued"] * 3
    started = []
    assert jobs.pump(launcher=_recorder(started)) == [a.id]
    assert jobs.pump(launcher=_recorder(started)) == []  # a is starting: the one slot is taken
    running, ahead = jobs.queue_ahead(jobs.read_job(c.path), jobs.list_jobs())
    assert [j.id for j in running] == [a.id] and [j.id for j in ahead] == [b.id]
    jobs.update_status(a.path, state=jobs.DONE)
    assert jobs.pump(launcher=_recorder(started)) == [b.id]
    assert started == [a.id, b.id]
    assert [j.id for j in jobs.list_jobs()] == [c.id, b.id, a.id]  # newest first


def test_max_running_setting(monkeypatch, private_store):
    """$LENET_MAX_JOBS lets two jobs run at once"""
    monkeypatch.setenv(jobs.MAX_RUNNING_ENV, "2")
    ids = [jobs.submit(CFG.replace(seed=s), start=False).id for s in range(3)]
    assert jobs.pump(launcher=_recorder([])) == ids[:2]
    monkeypatch.delenv(jobs.MAX_RUNNING_ENV)
    assert jobs.max_running() == (1 if os.cpu_count() <= jobs.SMALL_MACHINE_CORES else 2)


def test_cancel_a_queued_job_and_the_next_one_moves_up(private_store, one_at_a_time):
    """Stopping a queued job cancels it at once; it is never started"""
    a, b, c = (jobs.submit(CFG.replace(seed=s), start=False) for s in range(3))
    started = []
    jobs.pump(launcher=_recorder(started))
    jobs.request_stop(b.path)
    assert jobs.read_job(b.path).state == "cancelled" and jobs.read_job(b.path).finished
    jobs.update_status(a.path, state=jobs.STOPPED)
    jobs.pump(launcher=_recorder(started))
    assert started == [a.id, c.id]


def test_a_job_whose_worker_died_is_marked_failed(private_store, one_at_a_time):
    """A running job with no live worker (its lock is free) is failed and its slot freed for the next"""
    a, b = (jobs.submit(CFG.replace(seed=s), start=False) for s in range(2))
    jobs.update_status(a.path, state=jobs.RUNNING, started_at=time.time() - 1000)
    started = []
    assert jobs.pump(launcher=_recorder(started)) == [b.id]
    dead = jobs.read_job(a.path)
    assert dead.state == "failed" and "ended unexpectedly" in dead.status["error"]


def test_estimates_come_from_measured_jobs(private_store):
    """No measurement, no estimate; a finished job's measured speed gives one for the same architecture"""
    assert jobs.estimate_seconds(CFG, jobs.measured_speed(CFG, jobs.list_jobs())) is None
    a = jobs.submit(CFG, start=False)
    jobs.update_status(a.path, state=jobs.DONE, images_per_s=1000.0, startup_s=10.0, eval_s=3.0)
    speed = jobs.measured_speed(CFG.replace(epochs=3), jobs.list_jobs())
    assert speed["images_per_s"] == 1000.0 and speed["same_batch"]
    assert jobs.estimate_seconds(CFG.replace(epochs=3), speed) == pytest.approx(10 + 512 * 3 / 1000 + 3)
    assert jobs.measured_speed(CFG.replace(arch="lenet5"), jobs.list_jobs()) is None


@pytest.mark.slow
def test_real_job_stops_within_two_seconds_and_is_saved(private_store, one_at_a_time, mnist):
    """A real worker trains LeNet-1; Stop ends it and the model as it stands is saved within 2 s, then measured"""
    job = jobs.submit(CFG.replace(epochs=40, train_subset=4096), name="stop me")
    deadline = time.monotonic() + 180
    while (job := jobs.read_job(job.path)).progress.get("x", 0) < 0.3:
        assert time.monotonic() < deadline and not job.finished, (job.status, (job.path / "worker.log").read_text())
        time.sleep(0.2)
    assert job.state == "running" and not jobs.pump()  # its worker is alive and holds the only slot
    jobs.request_stop(job.path)
    while not (job := jobs.read_job(job.path)).finished:
        assert time.monotonic() < deadline, job.status
        time.sleep(0.2)
    assert job.state == "stopped", job.status
    stop_to_saved = job.status["saved_at"] - (job.path / jobs.STOP).stat().st_mtime
    print(f"stop-to-saved {stop_to_saved:.2f} s")
    assert stop_to_saved <= 2.0
    run = read_run(job.run_path)
    assert run.stopped and run.meta["history"][-1]["partial"] and run.name == "stop me"
    assert 0.1 < run.accuracy == job.status["test_accuracy"] and job.evaluation["done"] == 10_000
    assert len(job.points) >= 1 and job.progress["epoch"] == 0
    assert json.loads((job.path / jobs.SPEC).read_text())["config"]["epochs"] == 40


def test_settings_that_cannot_train_end_as_a_message(private_store, one_at_a_time, monkeypatch):
    """A job whose settings fail ends "failed" with a message for users, not a traceback"""
    from lenet import job_worker

    monkeypatch.setattr(job_worker, "_bound_tensorflow", lambda: None)  # in this process: keep its priority
    job = jobs.submit(TrainConfig(arch="lenet1", optimizer="nope", epochs=1, train_subset=64), start=False)
    assert job_worker.run_job(job.path) == 1
    job = jobs.read_job(job.path)
    assert job.state == "failed" and "cannot be trained" in job.status["error"]
    assert "Traceback" not in job.status["error"] and not job.run_path


@pytest.mark.slow
def test_cli_train_queue_registers_in_the_same_folder(private_store, one_at_a_time, mnist, capsys):
    """`python -m lenet train --queue` runs as a job of the shared queue (the app lists it) and saves its run"""
    from lenet.cli import main

    code = main(["train", "--queue", "--arch", "lenet1", "--subset", "256", "--epochs", "1", "--batch-size", "32",
                 "--name", "from the command line"])
    assert code == 0
    out = capsys.readouterr().out
    [job] = jobs.list_jobs()
    assert job.state == "done" and job.spec["owner"].startswith("cli:")
    assert f"saved run {Path(job.run_path).name}" in out and "test accuracy: " in out
    assert read_run(job.run_path).name == "from the command line"
