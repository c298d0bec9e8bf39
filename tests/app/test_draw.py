"""Draw page: a drawing injected through a fake canvas module is preprocessed, classified and shown stage by stage."""
import re
import sys
import types

import cv2
import numpy as np
import pytest

DRAW = "pages/draw.py"


def canvas_image(digit: np.ndarray, side: int = 280) -> np.ndarray:
    """An MNIST digit as the canvas would return it: (side, side, 4) uint8 RGBA, white ink, black opaque ground."""
    big = cv2.resize(digit, (side, side), interpolation=cv2.INTER_CUBIC)
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[..., :3] = big[..., None]
    rgba[..., 3] = 255
    return rgba


@pytest.fixture
def fake_canvas(monkeypatch):
    """Replace streamlit_drawable_canvas with a module whose st_canvas returns ``holder["image"]`` as image_data."""
    holder = {"image": None, "keys": []}

    def st_canvas(**kwargs):
        holder["keys"].append(kwargs.get("key"))
        holder["kwargs"] = kwargs
        return types.SimpleNamespace(image_data=holder["image"])

    module = types.ModuleType("streamlit_drawable_canvas")
    module.st_canvas = st_canvas
    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", module)
    return holder


def _shown_digit(at) -> int | None:
    for m in at.markdown:
        found = re.search(r"font-size:7rem[^>]*>(\d)</div>", m.value)
        if found:
            return int(found.group(1))
    return None


def test_draw_renders(app, fake_canvas):
    """Draw renders without exception and an empty canvas shows a hint, not an error"""
    app.run()
    app.switch_page(DRAW).run()
    assert not app.exception and not app.error
    assert any("Draw a digit" in i.value for i in app.info)
    kw = fake_canvas["kwargs"]
    assert kw["background_color"] == "#000000" and kw["stroke_color"] == "#FFFFFF" and kw["return_image_data"]
    assert _shown_digit(app) is None


def test_draw_predicts_what_the_model_says(app, fake_canvas, mnist):
    """A user draws a 7 and sees the model's digit, its ten probabilities and every stage down to 28×28"""
    from lenet.infer import predict_probs
    from lenet.preprocess import STYLE_STAGES, preprocess
    from lenet.store import load_model

    seven = mnist.x_test[0]  # MNIST's first test digit is a 7
    img = canvas_image(seven)
    fake_canvas["image"] = img
    app.run()
    app.switch_page(DRAW).run()
    assert not app.exception
    model = load_model(app.session_state["active_model"])  # the model the page used
    expected = int(np.argmax(predict_probs(model, preprocess(img).x)))  # independent of the page (polarity detected)
    assert _shown_digit(app) == expected
    chart = [c for c in app.get("plotly_chart") if "draw_probs" in c.proto.id]
    assert chart, "no probability chart"
    captions = [c.value for c in app.caption]
    stage_names = [re.match(r"\*\*(.+)\*\*", c).group(1) for c in captions if re.match(r"\*\*.+\*\*  \n\d+×\d+", c)]
    assert stage_names == ["input", *STYLE_STAGES["mnist"]]
    assert any(c.startswith("**model input**  \n28×28") for c in captions)
    current = app.session_state["current_digit"]
    assert current["source"] == "drawing" and current["image"].shape == (280, 280, 4)
    assert current["style"] == "mnist" and current["x"].shape == (28, 28)


def test_draw_style_changes_stages(app, fake_canvas, mnist):
    """A user switches to crop_tight and then pad 1.8 and sees those styles' stages"""
    fake_canvas["image"] = canvas_image(mnist.x_test[1])
    app.run()
    app.switch_page(DRAW).run()
    app.selectbox(key="draw_style").set_value("crop_tight").run()
    assert not app.exception
    names = [c.value.split("**")[1] for c in app.caption if re.match(r"\*\*.+\*\*  \n\d+×\d+", c.value)]
    assert names == ["input", "grey", "polarity", "clean", "crop", "model input"]
    app.selectbox(key="draw_style").set_value("pad").run()
    app.slider(key="draw_pad").set_value(1.8).run()
    names = [c.value.split("**")[1] for c in app.caption if re.match(r"\*\*.+\*\*  \n\d+×\d+", c.value)]
    assert "pad" in names and any("×1.8" in c.value for c in app.caption)


def test_draw_clear_gives_a_new_canvas(app, fake_canvas):
    """A user presses Clear and gets a fresh canvas (a new component key)"""
    app.run()
    app.switch_page(DRAW).run()
    first = fake_canvas["keys"][-1]
    app.button(key="draw_clear").click().run()
    assert not app.exception
    assert fake_canvas["keys"][-1] != first


def number_canvas(digits: list[np.ndarray], height: int = 160, width: int = 560) -> np.ndarray:
    """MNIST digits written side by side on the wide canvas: (height, width, 4) RGBA, white ink on opaque black."""
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[..., 3] = 255
    side = height - 40
    for k, d in enumerate(digits):
        big = cv2.resize(d, (side, side), interpolation=cv2.INTER_CUBIC)
        x0 = 20 + k * (side + 20)
        rgba[20:20 + side, x0:x0 + side, :3] = np.maximum(rgba[20:20 + side, x0:x0 + side, :3], big[..., None])
    return rgba


def test_number_mode_reads_left_to_right(app, fake_canvas, mnist):
    """A user switches to number mode, writes three digits on the wide canvas and sees them read left to right"""
    from lenet.infer import predict_probs
    from lenet.preprocess import LIGHT_ON_DARK, preprocess
    from lenet.segment import crop_digits, find_digits
    from lenet.store import load_model

    digits = [mnist.x_test[i] for i in (0, 1, 2)]  # 7, 2, 1
    img = number_canvas(digits)
    fake_canvas["image"] = img
    app.run()
    app.switch_page(DRAW).run()
    app.button_group(key="draw_mode").set_value("number").run()
    assert not app.exception
    kw = fake_canvas["kwargs"]
    assert kw["width"] > kw["height"], "the number canvas is wide"
    # Independently: the three boxes, left to right, each preprocessed and classified by the same model.
    grey = img[..., 0]
    boxes = sorted((b for row in find_digits(grey, polarity=LIGHT_ON_DARK) for b in row), key=lambda b: b[0])
    assert len(boxes) == 3
    crops = crop_digits(grey, [boxes])[0]
    x = np.stack([preprocess(c, polarity=LIGHT_ON_DARK).x for c in crops])
    model = load_model(app.session_state["active_model"])
    expected = "".join(str(int(d)) for d in predict_probs(model, x).argmax(axis=1))
    assert _shown_digit_text(app) == expected
    assert any(m.value.startswith(f"Read **:green[{expected}]**") for m in app.markdown), "answer above the canvas"
    assert any(c.value == "Read left to right: 3 digits" for c in app.caption)


def _shown_digit_text(at) -> str | None:
    for m in at.markdown:
        found = re.search(r"font-size:7rem[^>]*>(\d+)</div>", m.value)
        if found:
            return found.group(1)
    return None


def test_app_predicts_through_keras_without_the_light_runtime(app, fake_canvas, mnist, monkeypatch):
    """Where ai-edge-litert cannot be installed: Home's strip and Draw's prediction come from Keras, the same digit"""
    from lenet import infer
    from lenet.preprocess import LIGHT_ON_DARK, preprocess
    from lenet.store import load_model

    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # `import` raises ImportError
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    infer.clear_cache()
    assert not infer.runtime_available()
    img = canvas_image(mnist.x_test[0])
    fake_canvas["image"] = img
    app.run()
    assert not app.exception and not app.error
    assert len([c for c in app.caption if re.match(r":(green|red)\[\*\*\d\*\*\]", c.value)]) == 12
    path = app.session_state["active_model"]
    assert infer.is_cached(path, "keras") and not isinstance(infer.load_serving(path), infer.ServingModel)
    app.switch_page(DRAW).run()
    assert not app.exception and not app.error
    expected = int(np.argmax(infer.predict_probs(load_model(path), preprocess(img, polarity=LIGHT_ON_DARK).x)))
    assert _shown_digit(app) == expected
    infer.clear_cache()  # no Keras-served model left for the tests that follow
