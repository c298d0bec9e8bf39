"""Upload page: files kept in the session, sheets split into digits, true labels from names / sequences / the table,
and the Evaluate views on the user's own digits."""
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

UPLOAD = "pages/upload.py"


def png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(a, np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def seven_png(mnist):
    """MNIST's first test digit (a 7) as dark ink on white paper, enlarged like a scan."""
    import cv2

    big = cv2.resize(mnist.x_test[0], (112, 112), interpolation=cv2.INTER_CUBIC)
    return png(np.pad(255 - big, 40, constant_values=255))


@pytest.fixture(scope="module")
def small_sheet(mnist):
    """Two rows of 0-9 from MNIST test digits, rendered as a photographed page."""
    from lenet.sheet import make_sheet

    page, labels, _ = make_sheet(mnist.x_test[:500], mnist.y_test[:500], seed=7, rows=2, scale=(2.5, 3.0))
    return png(page), [d for row in labels for d in row]


def _open(app):
    app.run()
    app.switch_page(UPLOAD).run()
    assert not app.exception
    return app


def _table(app):
    assert app.data_editor, "no labels table"
    return app.data_editor[0]


def _accuracy_metric(app) -> float:
    values = [m.value for m in app.metric if m.label == "Accuracy"]
    assert values, "no accuracy metric"
    return float(values[0].rstrip(" %")) / 100


def test_upload_renders(app):
    """Upload renders without exception and invites an upload or the sample sheet"""
    _open(app)
    assert any("Use the sample sheet" in i.value for i in app.info)
    assert any("synthesised from MNIST test digits" in c.value for c in app.caption)


def test_sample_sheet_read_labelled_and_evaluated(app):
    """A new user loads the sample sheet and sees its 150 digits read, graded against its labels, and evaluated"""
    from lenet import config
    from lenet.infer import make_classifier
    from lenet.io import decode_image
    from lenet.segment import read_sheet
    from lenet.sheet import load_labels
    from lenet.store import load_model

    _open(app)
    app.button(key="upload_sample").click().run()
    assert not app.exception
    table = _table(app).value
    truth = [d for row in load_labels(config.SAMPLE_SHEET_LABELS) for d in row]
    assert len(table) == 150 and table["true"].tolist() == truth
    # The same page read independently through lenet.segment.read_sheet with the same model.
    model = load_model(app.session_state["active_model"])  # the model the page used
    rows = read_sheet(decode_image(config.SAMPLE_SHEET), make_classifier(model))
    preds = [d["digit"] for row in rows for d in row]
    assert table["predicted"].tolist() == preds
    assert _accuracy_metric(app) == pytest.approx(np.mean(np.array(preds) == np.array(truth)), abs=5e-5)
    chart = [c for c in app.get("plotly_chart") if "upload_eval_confusion" in c.proto.id]
    conf = np.array(json.loads(chart[0].proto.spec)["data"][0]["customdata"])[:, :, 0]
    assert conf.sum() == 150
    grid = [c.value for c in app.caption if re.match(r"#\d+ :(green|red)\[", c.value)]
    assert len(grid) == 150
    kept = app.session_state["labelled_uploads"]
    assert [d["label"] for d in kept] == truth
    assert kept[0]["x"].shape == (28, 28) and kept[0]["x"].dtype == np.float32 and kept[0]["crop"].dtype == np.uint8
    assert app.get("download_button"), "no CSV download"


def test_uploads_named_digit_and_broken_file(app, seven_png):
    """A user uploads 7.png and a broken file: the broken one is named in a warning, 7.png is graded as a 7"""
    _open(app)
    app.file_uploader[0].set_value([("7.png", seven_png, "image/png"), ("broken.png", b"not an image", "image/png")])
    app.run()
    assert not app.exception
    assert any("broken.png" in w.value for w in app.warning)
    assert [s["name"] for s in app.session_state["upload_sources"]] == ["7.png", "broken.png"]
    table = _table(app).value
    assert table["file"].tolist() == ["7.png"] and table["true"].tolist() == [7]
    kept = app.session_state["labelled_uploads"]
    assert len(kept) == 1 and kept[0]["label"] == 7 and kept[0]["name"] == "7.png"
    app.switch_page("pages/home.py").run()
    app.switch_page(UPLOAD).run()  # files survive a visit to another page
    assert _table(app).value["file"].tolist() == ["7.png"]


def test_typed_sequence_and_table_correction(app, small_sheet):
    """A user types 0123456789 for a two-row sheet, then corrects one digit in the table"""
    from ui.inputs import new_source

    data, truth = small_sheet
    src = new_source("my_sheet.png", data)
    app.session_state["upload_sources"] = [src]
    _open(app)
    table = _table(app).value
    assert len(table) == 20 and table["true"].isna().all()
    assert not any(m.label == "Accuracy" for m in app.metric)
    app.text_area(key=f"upload_seq_{src['cid']}").set_value("0123456789").run()
    assert not app.exception
    assert _table(app).value["true"].tolist() == truth
    labels = [d["label"] for d in app.session_state["labelled_uploads"]]
    assert labels == truth
    editor = _table(app)
    app.session_state[editor.key] = {"edited_rows": {0: {"true": 5}}, "added_rows": [], "deleted_rows": []}
    app.run()
    assert not app.exception
    assert app.session_state["labelled_uploads"][0]["label"] == 5
    assert app.session_state["upload_fixes"] == {f"{src['cid']}:0": 5}


def test_override_sheet_as_single_digit_and_inspect(app, small_sheet):
    """A user reads a sheet as one digit instead, then opens a digit to see all its stages"""
    from ui.inputs import new_source

    src = new_source("page.png", small_sheet[0])
    app.session_state["upload_sources"] = [src]
    _open(app)
    assert len(_table(app).value) == 20
    app.selectbox(key="upload_inspect").set_value(3).run()
    assert not app.exception
    stages = [c.value.split("**")[1] for c in app.caption if re.match(r"\*\*.+\*\*  \n\d+×\d+", c.value)]
    assert stages[0] == "input" and stages[-1] == "model input"
    assert app.session_state["current_digit"]["source"] == "upload"
    app.button_group(key=f"upload_kind_{src['cid']}").set_value("digit").run()
    assert not app.exception
    assert len(_table(app).value) == 1
