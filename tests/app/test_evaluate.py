"""Evaluate page: accuracy, classification report, confusion matrix and the gallery that follows a cell."""
import json
import re

import numpy as np


def _matrix(at):
    chart = [c for c in at.get("plotly_chart") if "eval_confusion" in c.proto.id]
    assert chart, "no confusion heatmap"
    spec = json.loads(chart[0].proto.spec)
    return np.array(spec["data"][0]["customdata"])[:, :, 0].astype(int)


def _gallery_count(at):
    found = [re.match(r"\*\*([\d,]+) (misclassified|correctly classified) test images\*\*", m.value)
             for m in at.markdown]
    found = [f for f in found if f]
    assert found, "no gallery count"
    return int(found[0].group(1).replace(",", "")), found[0].group(2)


def test_evaluate_renders(app):
    """Evaluate renders without exception"""
    app.run()
    app.switch_page("pages/evaluate.py").run()
    assert not app.exception
    assert not app.error


def test_evaluate_matrix_and_cell_filter(app):
    """A user evaluates 500 test images, sees a 10×10 matrix summing to 500, and picks a cell to filter the gallery"""
    app.run()
    app.switch_page("pages/evaluate.py").run()
    app.select_slider(key="eval_n").set_value(500).run()
    assert not app.exception
    conf = _matrix(app)
    assert conf.shape == (10, 10) and conf.sum() == 500
    errors = conf.sum() - np.trace(conf)
    assert _gallery_count(app) == (errors, "misclassified")
    report = app.dataframe[0].value
    assert list(report["class"])[-2:] == ["macro avg", "weighted avg"] and report["support"].iloc[:10].sum() == 500

    off = conf.copy()
    np.fill_diagonal(off, -1)
    t, p = np.unravel_index(off.argmax(), off.shape)
    app.selectbox(key="eval_true").set_value(int(t))
    app.selectbox(key="eval_pred").set_value(int(p)).run()
    assert _gallery_count(app) == (conf[t, p], "misclassified")
    shown = [c.value for c in app.caption if c.value.startswith(f"true **{t}** → :red[**{p}**]")]
    assert len(shown) == min(conf[t, p], 24)

    app.selectbox(key="eval_pred").set_value(int(t)).run()  # a diagonal cell: its correct images
    assert _gallery_count(app) == (conf[t, t], "correctly classified")

    app.toggle(key="eval_norm").set_value(True).run()
    assert not app.exception and _matrix(app).sum() == 500


def test_gallery_follows_clicked_cell():
    """Choosing a heatmap cell (a plotly selection event) sets the gallery's true/predicted filter"""
    from streamlit.testing.v1 import AppTest

    def page():
        import streamlit as st

        from ui.views import _apply_cell_selection

        st.session_state["demo_confusion"] = {"selection": {"points": [{"x": 2, "y": 7}]}}
        _apply_cell_selection("demo")
        st.write(st.session_state["demo_true"], st.session_state["demo_pred"])

    at = AppTest.from_function(page).run()
    assert not at.exception
    assert at.session_state["demo_true"] == 7 and at.session_state["demo_pred"] == 2


def test_clicking_the_chosen_cell_again_clears_the_filter():
    """A user clicks cell (true 7, predicted 2), then clicks it again (plotly deselects it): the filter is cleared"""
    from streamlit.testing.v1 import AppTest

    def page():
        import streamlit as st

        from ui.views import _apply_cell_selection

        st.session_state["demo_confusion"] = {"selection": {"points": [{"x": 2, "y": 7}]}}
        _apply_cell_selection("demo")
        first = (st.session_state["demo_true"], st.session_state["demo_pred"], st.session_state["demo_scroll"])
        st.session_state["demo_confusion"] = {"selection": {"points": []}}
        _apply_cell_selection("demo")
        st.session_state["result"] = [first, (st.session_state["demo_true"], st.session_state["demo_pred"])]

    at = AppTest.from_function(page).run()
    assert not at.exception
    assert at.session_state["result"] == [(7, 2, True), (None, None)]


def test_filter_does_not_carry_over_to_another_model():
    """A filter chosen on one model's matrix is cleared when another model's evaluation is shown"""
    from streamlit.testing.v1 import AppTest

    def page():
        import numpy as np
        import streamlit as st

        from lenet.evaluate import Evaluation
        from ui.views import _forget_filter_if_new

        rng = np.random.default_rng(0)
        y = rng.integers(0, 10, 100)
        a, b = (Evaluation(y, rng.dirichlet(np.ones(10), 100).astype(np.float32)) for _ in range(2))
        _forget_filter_if_new(a, "demo")
        st.session_state["demo_true"], st.session_state["demo_pred"] = 3, 5
        _forget_filter_if_new(Evaluation(y[:80], a.probs[:80]), "demo")  # the same model on fewer images
        kept = (st.session_state["demo_true"], st.session_state["demo_pred"])
        _forget_filter_if_new(b, "demo")
        st.session_state["result"] = [kept, (st.session_state["demo_true"], st.session_state["demo_pred"])]

    at = AppTest.from_function(page, default_timeout=60).run()
    assert not at.exception
    assert at.session_state["result"] == [(3, 5), (None, None)]
