"""Inside page: feature maps, saliency and neighbours for the current digit; the robustness explorer and curves."""
import json

import numpy as np
import pytest

NN_POOL = 10_000  # the test searches the first 10,000 training digits (the app default is all 60,000)


def _chart_keys(at):
    return [c.proto.id for c in at.get("plotly_chart")]


def _has_chart(at, key):
    return any(key in i for i in _chart_keys(at))


def _open_inside(app, **state):
    app.session_state["inside_nn_pool"] = NN_POOL
    for k, v in state.items():
        app.session_state[k] = v
    app.run()
    app.switch_page("pages/inside.py").run()
    assert not app.exception, app.exception
    return app


@pytest.fixture
def seven(mnist):
    """A drawing-like image of MNIST test digit 0 (a 7): a big dark-on-light RGB picture, as a canvas or a photo."""
    import cv2

    big = cv2.resize(np.asarray(mnist.x_test[0]), (200, 200), interpolation=cv2.INTER_CUBIC)
    return np.dstack([255 - big] * 3).astype(np.uint8)


def test_inside_renders(app):
    """Inside renders without exception (an MNIST test digit, with nothing drawn yet)"""
    _open_inside(app)
    assert not app.error
    assert app.session_state["inside_source"] == "mnist"
    assert any("Predicted" in m.value for m in app.markdown)


def test_current_digit_shows_maps_saliency_and_neighbours(app, seven, mnist):
    """With a digit in CURRENT_DIGIT, the user sees its maps, saliency and 8 nearest training digits"""
    _open_inside(app, current_digit={"source": "drawing", "image": seven})
    assert app.session_state["inside_source"] == "current"
    assert not app.error
    # the layer table of the active model (LeNet-1)
    table = app.dataframe[0].value
    assert list(table["layer"])[:3] == ["input", "conv1", "act1"]
    # conv1 filters and one grid per conv/pool layer of LeNet-1
    for key in ("inside_filters", "inside_maps_act1", "inside_maps_pool1", "inside_maps_act2", "inside_maps_pool2",
                "inside_saliency", "inside_probs"):
        assert _has_chart(app, key), key
    maps = [c for c in app.get("plotly_chart") if "inside_maps_act1" in c.proto.id][0]
    z = np.array(json.loads(maps.proto.spec)["data"][0]["z"], dtype=float)
    assert z.shape == (24, 24 * 4 + 3)  # 4 maps of 24×24 in a row, 1-px gaps
    # saliency: the input, the predicted class and the "why not" class
    sal = json.loads([c for c in app.get("plotly_chart") if "inside_saliency" in c.proto.id][0].proto.spec)
    heat = [t for t in sal["data"] if t["type"] == "heatmap"]
    assert len(heat) == 3 and np.array(heat[1]["z"]).shape == (28, 28)
    # 8 neighbours with labels and distances
    caps = [c.value for c in app.caption if c.value.startswith("label **")]
    assert len(caps) == 8
    dists = [float(c.split("cosine dist ")[1]) for c in caps]
    assert dists == sorted(dists)
    # "why not a 9?" explains 9 against the predicted class
    app.selectbox(key="inside_why_not").set_value(9).run()
    sal = json.loads([c for c in app.get("plotly_chart") if "inside_saliency" in c.proto.id][0].proto.spec)
    titles = [a["text"] for a in sal["layout"]["annotations"]]
    assert any(t.startswith("9 rather than") for t in titles) or "evidence for 9" in titles[1]


def test_mnist_digit_and_methods(app):
    """A user picks MNIST test digit 1 (a 2) and switches the saliency method to occlusion"""
    _open_inside(app, inside_mnist_idx=1)
    assert any("MNIST test #1" in s.value for s in app.subheader)
    app.selectbox(key="inside_sal_method").set_value("occlusion").run()
    assert not app.exception and _has_chart(app, "inside_saliency")


def test_robustness_sliders_change_the_digit_and_curves_appear(app):
    """A user rotates an MNIST 7 by 45° and sees the distorted digit and new probabilities; curves are drawn"""
    _open_inside(app, inside_tab="Robustness explorer", inside_curves_n=1000, inside_curves_runs=[])
    assert not app.exception
    before = json.loads([c for c in app.get("plotly_chart") if "inside_explorer_probs" in c.proto.id][0].proto.spec)
    app.slider(key="inside_rot").set_value(45.0)
    app.slider(key="inside_thick").set_value(2).run()
    assert not app.exception
    after = json.loads([c for c in app.get("plotly_chart") if "inside_explorer_probs" in c.proto.id][0].proto.spec)
    assert before["data"][0]["y"] != after["data"][0]["y"]
    app.button(key="inside_reset").click().run()
    assert app.slider(key="inside_rot").value == 0.0
    app.toggle(key="inside_curves").set_value(True).run()
    assert not app.exception
    spec = json.loads([c for c in app.get("plotly_chart") if "inside_curves_chart" in c.proto.id][0].proto.spec)
    rot = [t for t in spec["data"] if t["xaxis"] == "x"][0]
    assert rot["x"][0] == -45 and rot["x"][-1] == 45 and all(0 <= a <= 1 for a in rot["y"])


def test_mlp_says_it_has_no_maps(app, tiny, private_store):
    """With an MLP active, the page says there are no feature maps instead of drawing them"""
    from lenet.config import TrainConfig
    from lenet.train import train_evaluate_save

    cfg = TrainConfig(arch="mlp", batch_size=64, epochs=1, train_subset=512)
    _, _, run = train_evaluate_save(cfg, tiny, root=private_store)  # the sidebar lists only stored runs
    _open_inside(app, active_model=str(run.path))
    assert any("no convolution" in i.value for i in app.info)
    assert _has_chart(app, "inside_saliency") and not _has_chart(app, "inside_filters")


def test_overlay_defaults_to_best_plain_and_augmented():
    """The curves overlay, by default, the most accurate plain and augmented runs other than the active one"""
    from pathlib import Path

    from lenet.store import Run
    from ui.inside import counterparts, is_augmented

    def run(name, acc, rotation=0.0, status="complete"):
        return Run(Path(name), {"test_accuracy": acc, "status": status,
                                "config": {"augment": {"rotation": rotation, "shift": 0.0}}})

    runs = [run("a", 0.99), run("b", 0.98), run("c", 0.97, 10.0), run("d", 0.995, 10.0, "stopped"),
            run("e", 0.96, 5.0)]
    assert [is_augmented(r) for r in runs] == [False, False, True, True, True]
    assert counterparts(runs, "a") == ["b", "c"]
    assert counterparts(runs, "c") == ["a", "e"]
    assert counterparts(runs[:2], "a") == ["b"]


# ---------------------------------------------------------------- Upload page section: fine-tune on my handwriting
def _finetune_script():
    from ui.finetune import render_finetune

    render_finetune()


def test_finetune_section_trains_saves_and_activates(store_run, mnist):
    """A user with 40 labelled digits fine-tunes the active model and sees before/after; the new run is active"""
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import TIMEOUT

    at = AppTest.from_function(_finetune_script, default_timeout=TIMEOUT)
    at.session_state["active_model"] = str(store_run.path)
    at.session_state["labelled_uploads"] = [{"x": mnist.x_test[9000 + i].astype(np.float32) / 255,
                                             "label": int(mnist.y_test[9000 + i]), "name": f"d{i}.png",
                                             "crop": mnist.x_test[9000 + i]} for i in range(40)]
    at.session_state["ft_epochs"] = 2
    at.session_state["ft_mnist"] = 2000
    at.run()
    assert not at.exception and "40 labelled digits" in at.caption[0].value
    at.button(key="ft_start").click().run()
    from tests.app.conftest import _wait_for_job

    job = _wait_for_job(at, key="finetune_job")
    assert job.state == "done", job.status
    at.run()  # the fragment collects the finished job and reruns
    assert not at.exception
    assert at.session_state["active_model"] == job.run_path != str(store_run.path)
    assert job.run_path in at.session_state["session_runs"]
    labels = [m.label for m in at.metric]
    assert labels[0].startswith("Your ") and labels[1] == "MNIST test"
    assert [e["epoch"] for e in job.history] == [1, 2]
    from lenet.store import read_run

    meta = read_run(job.run_path).meta
    assert meta["finetuned_from"] == store_run.path.name and meta["finetune"]["user_digits"] == 40


def test_finetune_section_asks_for_more_digits():
    """With fewer than 10 labelled digits the section says what to do instead of offering to train"""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_finetune_script, default_timeout=60)
    at.session_state["labelled_uploads"] = [{"x": np.zeros((28, 28), np.float32), "label": 1, "name": "a"}] * 3
    at.run()
    assert not at.exception and "at least 10" in at.info[0].value
