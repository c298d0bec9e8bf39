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
    from lenet.page import read_page
    from lenet.sheet import load_labels
    from lenet.store import load_model

    _open(app)
    app.button(key="upload_sample").click().run()
    assert not app.exception
    table = _table(app).value
    truth = [d for row in load_labels(config.SAMPLE_SHEET_LABELS) for d in row]
    assert len(table) == 150 and table["true"].tolist() == truth
    # The same page read independently through lenet.page.read_page with the same model.
    model = load_model(app.session_state["active_model"])  # the model the page used
    rows = read_page(decode_image(config.SAMPLE_SHEET, colour=True), make_classifier(model)).rows
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


def jpeg(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(a, np.uint8)).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def test_camera_shot_is_read_as_a_sheet(app, small_sheet):
    """A user turns the camera on, photographs a two-row sheet and sees its 20 digits read"""
    from lenet.io import decode_image

    _open(app)
    app.toggle(key="upload_camera").set_value(True).run()
    assert app.camera_input(key="upload_camera_shot")
    app.camera_input(key="upload_camera_shot").set_value(("shot.jpg", jpeg(decode_image(small_sheet[0])),
                                                          "image/jpeg")).run()
    assert not app.exception
    names = [s["name"] for s in app.session_state["upload_sources"]]
    assert len(names) == 1 and re.fullmatch(r"camera_\d{6}\.jpg", names[0])
    assert len(_table(app).value) == 20
    assert any("looks like a sheet" in m.value for m in app.markdown)


def test_file_name_label_only_for_a_single_digit(app, small_sheet):
    """A sheet of 20 digits named 3.png is read as a sheet and nothing is labelled 3; read as one digit, it says why"""
    _open(app)
    app.file_uploader[0].set_value([("3.png", small_sheet[0], "image/png")]).run()
    assert not app.exception
    table = _table(app).value
    assert len(table) == 20 and table["true"].isna().all()
    cid = app.session_state["upload_sources"][0]["cid"]
    app.button_group(key=f"upload_kind_{cid}").set_value("digit").run()
    assert len(_table(app).value) == 1 and _table(app).value["true"].isna().all()
    assert any("file name says **3**, but the image holds several digits" in c.value for c in app.caption)


def test_row_separated_pattern_and_short_row(app, small_sheet):
    """`0123456789|0123456789` labels a two-row sheet; one row's pattern on a sheet missing a digit says which row"""
    from ui.inputs import new_source

    data, truth = small_sheet
    src = new_source("rows.png", data)
    app.session_state["upload_sources"] = [src]
    _open(app)
    app.text_area(key=f"upload_seq_{src['cid']}").set_value("0123456789|0123456789").run()
    assert not app.exception and not app.warning
    assert _table(app).value["true"].tolist() == truth
    # Drop the second row's "3" (as if it had not been found): the pattern is laid by position, and said so.
    boxes = _boxes(app, src)
    app.session_state["upload_drops"] = {src["cid"]: {boxes[13]}}
    app.text_area(key=f"upload_seq_{src['cid']}").set_value("0123456789").run()
    assert not app.exception
    assert any("row 2 (9 of 10 found, matched by position: no digit found for 3)" in w.value for w in app.warning)
    second = [None if pd_isna(v) else int(v) for v in _table(app).value["true"].tolist()[10:]]
    assert second == [0, 1, 2, None, 4, 5, 6, 7, 8, 9]


def _boxes(app, src) -> list:
    """The boxes the page found on a file, in reading order (from this session's reading of it)."""
    cache = app.session_state["upload_cache"]["readings"]
    page = next(v for k, (v, _) in cache.items.items() if k[0] == src["cid"])
    return [tuple(d["box"]) for row in page.rows for d in row]


def test_dropped_box_leaves_labels_and_evaluation(app, small_sheet):
    """A user ticks "not a digit" on box #1: the 19 labels typed for the rest fit, and #1 leaves the evaluation"""
    from streamlit.testing.v1 import AppTest

    # The table's callback turns a ticked row into a dropped box (AppTest cannot tick a data_editor cell itself).
    def page():
        import streamlit as st

        from ui.upload_views import DROP, _toggle_drops

        st.session_state["t"] = {"edited_rows": {1: {DROP: True}}}
        _toggle_drops("t", [("a", (0, 0, 5, 5)), ("a", (9, 9, 5, 5))])
        st.write(sorted(st.session_state["upload_drops"]["a"]))

    at = AppTest.from_function(page).run()
    assert not at.exception and at.session_state["upload_drops"] == {"a": {(9, 9, 5, 5)}}

    from ui.inputs import new_source

    data, truth = small_sheet
    src = new_source("drop.png", data)
    app.session_state["upload_sources"] = [src]
    _open(app)
    first = _boxes(app, src)[0]
    app.text_area(key=f"upload_seq_{src['cid']}").set_value("".join(map(str, truth[1:]))).run()
    assert any("19 labels typed, but 20 digits" in w.value for w in app.warning)
    app.session_state["upload_drops"] = {src["cid"]: {tuple(first)}}
    app.run()
    assert not app.exception and not app.warning
    table = _table(app).value
    assert table["not a digit"].tolist() == [True] + [False] * 19
    assert pd_isna(table["true"].iloc[0]) and table["true"].tolist()[1:] == truth[1:]
    assert [d["label"] for d in app.session_state["labelled_uploads"]] == truth[1:]
    assert any(c.value.startswith("~~#1~~ dropped") for c in app.caption)
    assert any("19 labelled digits of 20" in c.value for c in app.caption)


def pd_isna(v) -> bool:
    import pandas as pd

    return bool(pd.isna(v))
