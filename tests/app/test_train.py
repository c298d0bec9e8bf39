"""Train page: settings and presets, background training with Stop, trains-or-loads, compare runs."""
from pathlib import Path

from lenet.store import list_runs, read_run


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
    """Train renders without exception, with the layer table of the default preset's small LeNet"""
    _open_train(app)
    table = app.dataframe[0].value
    assert table["params"].sum() == 80_202
    assert app.selectbox(key="train_arch").value == "small"


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


def test_train_tiny_subset_then_load_instead(app, private_store, wait_for_job):
    """A user trains LeNet-1 on 256 images, it lands in the store as the active model, and retraining offers a load"""
    _open_train(app)
    _tiny_settings(app)
    app.button(key="train_start").click().run()
    assert not app.exception
    job = wait_for_job(app)
    assert job.state == "done", job.error
    new = read_run(job.run_path)
    assert job.run_path in [str(r.path) for r in list_runs(private_store)[0]]  # next to the fixture's run
    assert new.meta["config"]["train_subset"] == 256 and new.meta["status"] == "complete"
    assert app.session_state["active_model"] == job.run_path
    assert job.run_path in app.session_state["session_runs"]
    assert job.points and len(job.history) == 1 and "val_accuracy" in job.history[0]
    assert any("Saved as" in s.value for s in app.success)
    assert job.run_path in app.multiselect(key="compare_runs").value  # Compare tab lists it

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
    assert job.state == "stopped", job.error
    run = read_run(job.run_path)
    assert run.stopped and run.meta["history"][-1].get("partial")
    assert len(run.meta["history"]) < 40
    assert app.session_state["active_model"] == job.run_path
    assert not app.exception and not app.error


def test_two_sessions_train_their_own_runs(tiny, tmp_path):
    """Two sessions training at once each get their own correct run"""
    from lenet.config import TrainConfig
    from ui.jobs import TrainJob

    a = TrainConfig(arch="lenet1", batch_size=32, epochs=1, seed=1, train_subset=256)
    b = a.replace(arch="lenet5", seed=2)
    jobs = [TrainJob.start(cfg, tiny, root=tmp_path, name=n) for cfg, n in ((a, "A"), (b, "B"))]
    for job in jobs:
        assert job.wait(120) and job.state == "done", job.error
    ra, rb = (read_run(j.run_path) for j in jobs)
    assert ra.path != rb.path
    assert (ra.name, ra.meta["arch"], ra.meta["params"]) == ("A", "lenet1", 3_246)
    assert (rb.name, rb.meta["arch"], rb.meta["params"]) == ("B", "lenet5", 61_706)


def test_training_error_is_a_message(tiny, tmp_path):
    """A training that fails shows a clear message, not a traceback"""
    from lenet.config import TrainConfig
    from ui.jobs import TrainJob

    job = TrainJob.start(TrainConfig(arch="lenet1", optimizer="nope", epochs=1, train_subset=64), tiny, root=tmp_path)
    assert job.wait(60) and job.state == "error"
    assert "cannot be trained" in job.error and "Traceback" not in job.error
