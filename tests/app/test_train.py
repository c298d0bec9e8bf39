"""Train page: settings and presets, queued training in a worker with Stop, a reload that finds the job,
trains-or-loads, compare runs."""
from pathlib import Path

from lenet.store import list_runs, read_run
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP, TIMEOUT
from tests.app.test_model_fallback import _whole_app


def _open_train(app):
    app.run()
    app.switch_page("pages/train.py").run()
    assert not app.exception
    return app


def _tiny_settings(app, subset=256, epochs=1):
    app.selectbox(key="train_preset").set_value("lenet1").run()
    app.number_input(key="train_subset").set_value(subset)
    app.number_input(key="train_epochs").set_value(epochs).run()


def test_train_renders(app):
    """Train renders without exception, with the layer table of the default preset's LeNet"""
    _open_train(app)
    table = app.dataframe[0].value
    assert table["params"].sum() == 1_256_080
    assert app.selectbox(key="train_arch").value == "lenet"


def test_preset_fills_settings(app):
    """A user picks the LeNet-5 preset and every setting (and the layer table) follows it"""
    _open_train(app)
    app.selectbox(key="train_preset").set_value("lenet5").run()
    assert app.selectbox(key="train_arch").value == "lenet5"
    assert app.selectbox(key="train_optimizer").value == "sgd"
    assert app.number_input(key="train_batch").value == 100
    assert app.selectbox(key="train_pooling").value == "avg"
    assert app.dataframe[0].value["params"].sum() == 61_706
    app.number_input(key="train_epochs").set_value(3).run()
    app.switch_page("pages/home.py").run()
    app.switch_page("pages/train.py").run()  # settings survive a visit to another page
    assert app.selectbox(key="train_arch").value == "lenet5" and app.number_input(key="train_epochs").value == 3


def test_train_tiny_subset_then_reload_then_load_instead(app, private_store, wait_for_job):
    """A user trains LeNet-1 on 256 images: it lands in the store as the active model, a reloaded page still shows
    the job with its curves, and retraining the same settings offers a load"""
    _open_train(app)
    _tiny_settings(app)
    assert "No lenet1 training has been measured" in app.caption[-1].value or any(
        "No lenet1 training has been measured" in c.value for c in app.caption)
    app.button(key="train_start").click().run()
    assert not app.exception
    job = wait_for_job(app)
    assert job.state == "done", job.status
    new = read_run(job.run_path)
    assert job.run_path in [str(r.path) for r in list_runs(private_store)[0]]  # next to the fixture's run
    assert new.meta["config"]["train_subset"] == 256 and new.meta["status"] == "complete"
    assert new.accuracy == job.status["test_accuracy"] and new.meta["confusion"]
    assert app.session_state["active_model"] == job.run_path
    assert job.run_path in app.session_state["session_runs"]
    assert job.points and len(job.history) == 1 and "val_accuracy" in job.history[0]
    assert any("Saved as" in s.value for s in app.success)
    assert job.run_path in app.multiselect(key="compare_runs").value  # Compare tab lists it
    _whole_app(app)  # AppTest reruns the page alone; the sidebar is drawn by app.py
    assert app.sidebar.selectbox(key="sidebar_model").options[0].startswith(new.name)  # own runs first
    _open_train(app)

    reloaded = AppTest.from_file(APP, default_timeout=TIMEOUT)  # a new browser session: nothing remembered
    _open_train(reloaded)
    pick = reloaded.selectbox(key="train_job_pick")
    assert pick.value == str(job.path) and "Finished" in pick.options[0] and "app" in pick.options[0]
    assert any("Recent jobs on this server" in c.value for c in reloaded.caption)
    assert any("Saved as" in s.value for s in reloaded.success)
    _tiny_settings(reloaded)  # the same settings now have an estimate measured by that job
    assert any("about" in c.value and "images/s measured for lenet1" in c.value for c in reloaded.caption)

    app.button(key="train_start").click().run()  # same settings again: offered the stored run
    assert any("already stored" in i.value for i in app.info)
    app.session_state["active_model"] = str(Path(job.run_path).parent / "elsewhere")  # pretend another was active
    app.button(key="train_load").click().run()
    assert not app.exception
    assert app.session_state["active_model"] == job.run_path
    assert any("Loaded" in s.value for s in app.success)
    assert len(list_runs(private_store)[0]) == 2  # nothing was trained again


def test_stop_keeps_partial_model(app, private_store, wait_for_job):
    """A user starts a long training, presses Stop, and gets a saved run marked stopped that is usable"""
    _open_train(app)
    _tiny_settings(app, subset=4096, epochs=40)
    app.button(key="train_start").click().run()
    app.button(key="train_stop").click().run()
    job = wait_for_job(app)
    assert job.state == "stopped", job.status
    run = read_run(job.run_path)
    assert run.stopped and run.meta["history"][-1].get("partial")
    assert len(run.meta["history"]) < 40
    assert app.session_state["active_model"] == job.run_path
    assert not app.exception and not app.error


def test_queued_job_shows_its_place_and_can_be_cancelled(app, private_store, monkeypatch):
    """While another user's job holds the only worker, a user's job waits with its queue position; Cancel ends it"""
    import fcntl

    from lenet import jobs
    from lenet.config import TrainConfig

    monkeypatch.setenv(jobs.MAX_RUNNING_ENV, "1")
    other = jobs.submit(TrainConfig(arch="lenet5", epochs=2), owner="cli:alice", start=False)
    jobs.update_status(other.path, state=jobs.RUNNING, started_at=0)
    with open(other.path / jobs.LOCK, "a") as lock:  # stands in for that job's live worker process
        fcntl.flock(lock, fcntl.LOCK_EX)
        _open_train(app)
        _tiny_settings(app)
        assert any("1 job ahead in the queue" in c.value for c in app.caption)
        app.button(key="train_start").click().run()
        assert not app.exception
        mine = jobs.read_job(app.session_state["focus_job"])
        assert mine.state == "queued"
        assert any("Position 1 in the queue: 1 running, 0 waiting ahead" in c.value for c in app.caption)
        _whole_app(app)  # AppTest reruns the page alone; the sidebar is drawn by app.py
        assert any("waiting in the queue" in c.value for c in app.sidebar.caption)
        _open_train(app)
        labels = app.selectbox(key="train_job_pick").options
        assert "yours" in labels[0] and "cli:alice" in labels[1]
        assert app.button(key="train_stop").label == "Cancel"
        app.button(key="train_stop").click().run()
        assert jobs.read_job(mine.path).state == "cancelled"
        assert not app.exception and not app.error
