"""A damaged model never breaks the app: a corrupt model file falls back to the shipped model with a clear message,
a run with an unreadable meta.json is skipped with a caption."""
import pytest

from lenet import config

DRAW = "pages/draw.py"

pytestmark = pytest.mark.skipif(not (config.DEFAULT_MODEL_DIR / "model.keras").exists(),
                                reason="shipped model missing")


def _messages(at) -> list[str]:
    """Every warning, error and caption on the page and in the sidebar."""
    return [m.value for m in [*at.warning, *at.error, *at.caption, *at.sidebar.warning, *at.sidebar.caption]]


def _picker(at):
    return at.sidebar.selectbox(key="sidebar_model")


def _whole_app(at):
    """Rerun through app.py (router + sidebar), landing on Home.

    AppTest (1.67) reruns the page it last finished on by itself — no sidebar — because this project has a pages/
    folder; a real server always runs app.py (tests/e2e checks the sidebar survives reruns). An empty page hash
    is what AppTest sends on its first run: the main script.
    """
    at._page_hash = at._finished_page_script_hash = ""
    return at.run()


def test_corrupt_model_file_falls_back_to_shipped(app, store_run):
    """A user's chosen run has a garbage model.keras: they are told so and every page uses the shipped model"""
    (store_run.path / "model.keras").write_bytes(b"PK\x03\x04 this is not a Keras archive" * 50)
    app.run()
    assert not app.exception
    shipped = str(config.DEFAULT_MODEL_DIR)
    assert app.session_state["active_model"] == shipped
    warned = [m for m in _messages(app) if "Could not load the chosen model" in m]
    assert warned, f"no fallback message in {_messages(app)}"
    assert "damaged" in warned[0] and "shipped model" in warned[0]
    assert _picker(app).value == shipped  # the picker shows what is really in use
    assert not app.error
    # The pages go on working with the shipped model; the message is not repeated on every rerun.
    app.switch_page(DRAW).run()
    assert not app.exception and not app.error
    assert app.session_state["active_model"] == shipped
    assert any("Draw a digit" in i.value for i in app.info)
    assert not [m for m in _messages(app) if "Could not load the chosen model" in m]


def test_choosing_a_corrupt_run_in_the_picker(app, store_run):
    """A user picks a run whose model file was damaged after it was listed: a message, then the shipped model"""
    shipped = str(config.DEFAULT_MODEL_DIR)
    app.session_state["active_model"] = shipped
    app.session_state["session_runs"] = [str(store_run.path)]  # trained in this session: listed without opting in
    app.run()
    assert not app.exception and app.session_state["active_model"] == shipped
    (store_run.path / "model.keras").write_bytes(b"\x00garbage" * 100)
    picker = _picker(app)
    picker.select_index([o.split(" · ")[0] for o in picker.options].index(store_run.name))  # labels shown
    _whole_app(app)
    assert not app.exception and not app.error
    assert app.session_state["active_model"] == shipped
    assert any("Could not load the chosen model" in m for m in _messages(app))
    assert _picker(app).value == shipped


def test_corrupt_meta_json_is_skipped_with_a_caption(app, store_run, private_store):
    """A run folder with an unreadable meta.json is listed as skipped, not a crash, and cannot be chosen"""
    bad = private_store / "broken-run"
    bad.mkdir()
    (bad / "meta.json").write_text('{"format": 1, "name": "half a fi')
    (bad / "model.keras").write_bytes((store_run.path / "model.keras").read_bytes())
    app.run()
    assert not app.exception and not app.error
    skipped = [c.value for c in app.sidebar.caption if "skipped a damaged run" in c.value]
    assert len(skipped) == 1 and "broken-run" in skipped[0] and "meta.json" in skipped[0]
    assert [o.split(" · ")[:2] for o in _picker(app).options] == [
        ["shipped", "LeNet (shipped, handwriting-augmented)"], [store_run.name, "lenet1"]]
    assert app.session_state["active_model"] == str(store_run.path)  # the good run stays in use


def test_active_run_whose_meta_json_breaks(app, private_store, store_run):
    """The active run's meta.json is damaged between two reruns: a message, the shipped model, no exception"""
    app.run()
    assert app.session_state["active_model"] == str(store_run.path)
    (store_run.path / "meta.json").write_text("not json at all")
    _whole_app(app)
    assert not app.exception and not app.error
    shipped = str(config.DEFAULT_MODEL_DIR)
    assert app.session_state["active_model"] == shipped and _picker(app).value == shipped
    assert any("Could not load the chosen model" in m and "meta.json" in m for m in _messages(app))
    assert any("skipped a damaged run" in c.value for c in app.sidebar.caption)
    app.switch_page(DRAW).run()
    assert not app.exception and not app.error


def test_shipped_model_damaged_too(app, store_run, tmp_path, monkeypatch):
    """Even the shipped model is unusable: a clear error that says how to recover, no exception"""
    import shutil

    broken = tmp_path / "lenet-default"
    shutil.copytree(config.DEFAULT_MODEL_DIR, broken)
    (broken / "model.keras").write_bytes(b"garbage")
    monkeypatch.setattr(config, "DEFAULT_MODEL_DIR", broken)
    (store_run.path / "model.keras").write_bytes(b"garbage")
    app.run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert any("shipped model cannot be loaded" in e and "Train page" in e for e in errors), errors
    app.switch_page(DRAW).run()
    assert not app.exception
