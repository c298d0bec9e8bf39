"""Preprocessing Lab: accuracy per style and per pad scale on the sample sheet or the user's labelled uploads."""
import json
import re

import numpy as np
import pytest

LAB = "pages/lab.py"


def _open(app):
    app.run()
    app.switch_page(LAB).run()
    assert not app.exception
    return app


def _chart(app, key):
    found = [c for c in app.get("plotly_chart") if key in c.proto.id]
    assert found, f"no chart {key}"
    return json.loads(found[0].proto.spec)["data"]


def _grid(app):
    return [c.value for c in app.caption if re.match(r":(green|red)\[\*\*\d\*\*\]", c.value)]


def test_lab_renders(app):
    """The Lab renders without exception on the sample sheet for a new user"""
    _open(app)
    assert not app.error
    assert [m.value for m in app.metric if m.label == "Digits"] == ["150"]


def test_lab_study_on_sample_sheet(app):
    """A new user sees six style bars, an 11-point padding curve and a green/red grid that agree with each other"""
    from lenet import config
    from lenet.infer import make_classifier
    from lenet.io import decode_image
    from lenet.segment import read_sheet
    from lenet.sheet import load_labels
    from lenet.store import load_model

    _open(app)
    bars = _chart(app, "lab_styles")
    assert bars[0]["x"] == ["none", "thresh", "crop_tight", "crop_sq", "pad_1.5", "mnist"]
    acc = dict(zip(bars[0]["x"], bars[0]["y"]))
    # The mnist bar against an independent read of the sheet with lenet.segment.read_sheet and the same model.
    model = load_model(app.session_state["active_model"])
    rows = read_sheet(decode_image(config.SAMPLE_SHEET), make_classifier(model))
    truth = np.array([d for row in load_labels(config.SAMPLE_SHEET_LABELS) for d in row])
    assert acc["mnist"] == pytest.approx(np.mean(np.array([d["digit"] for r in rows for d in r]) == truth))
    assert bars[1]["x"] == ["none", "thresh", "crop_tight", "crop_sq", "pad_1.5"]  # the seed study's markers
    line = _chart(app, "lab_pad")[0]
    assert line["x"] == pytest.approx([1.0 + 0.1 * i for i in range(11)])
    assert line["y"][5] == pytest.approx(acc["pad_1.5"])

    grid = _grid(app)
    assert len(grid) == 150 and sum(c.startswith(":green") for c in grid) == round(acc["mnist"] * 150)
    app.selectbox(key="lab_grid_style").set_value("crop_tight").run()
    grid = _grid(app)
    assert sum(c.startswith(":green") for c in grid) == round(acc["crop_tight"] * 150)


def test_lab_on_labelled_uploads(app):
    """A user who labelled 20 digits on the Upload page studies those by default, and can switch to the sample"""
    from ui.inputs import sample_set

    _, seg, labels = sample_set()
    mine = [{"x": np.zeros((28, 28), np.float32), "label": labels[i], "name": f"d{i}", "crop": seg.crops[i],
             "polarity": seg.polarity} for i in range(20)]
    app.session_state["labelled_uploads"] = mine
    _open(app)
    assert app.radio(key="lab_source").value == "uploads"
    assert [m.value for m in app.metric if m.label == "Digits"] == ["20"]
    assert len(_grid(app)) == 20
    app.radio(key="lab_source").set_value("sample").run()
    assert not app.exception
    assert [m.value for m in app.metric if m.label == "Digits"] == ["150"]
