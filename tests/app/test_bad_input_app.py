"""Bad input never breaks the app (issue "Quality gates"): the whole bad-input zoo through the Upload page's real file
uploader, blank images and pages, a 500-digit sheet, and an empty canvas on Draw."""
import io
import re
import sys
import types

import numpy as np
import pytest
from PIL import Image

from lenet import config
from tests.badfiles import write_zoo

UPLOAD = "pages/upload.py"
DRAW = "pages/draw.py"
NO_DIGIT = re.compile(r"no digits? found", re.I)

pytestmark = pytest.mark.skipif(not (config.DEFAULT_MODEL_DIR / "model.keras").exists(),
                                reason="shipped model missing")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory, mnist):
    folder = tmp_path_factory.mktemp("zoo")
    return folder, write_zoo(folder, (mnist.x_test, mnist.y_test))


@pytest.fixture
def shipped(app):
    """The app on the shipped model: the zoo's digits are what a good model must read."""
    app.session_state["active_model"] = str(config.DEFAULT_MODEL_DIR)
    return app


def png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(a, np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _open(app, page=UPLOAD):
    app.run()
    app.switch_page(page).run()
    assert not app.exception
    return app


def _upload(app, files: list[tuple[str, bytes]]):
    """Through the page's real st.file_uploader, as a browser would send them."""
    app.file_uploader[0].set_value([(name, data, "application/octet-stream") for name, data in files])
    app.run()
    return app


def _messages(app) -> list[str]:
    return [m.value for m in [*app.warning, *app.info, *app.error]]


def _table(app):
    assert app.data_editor, "no labels table"
    return app.data_editor[0].value


def test_the_whole_zoo_at_once(shipped, zoo):
    """A phone user uploads every odd file at once: each bad one is named with a clear reason, the rest are read"""
    folder, expect = zoo
    app = _open(shipped)
    _upload(app, [(name, (folder / name).read_bytes()) for name in expect])
    assert not app.exception
    assert [s["name"] for s in app.session_state["upload_sources"]] == list(expect)
    messages = _messages(app)
    for name, want in expect.items():
        about = [m for m in messages if name in m]
        if want == "error":
            assert len(about) == 1 and "skipped" in about[0], (name, messages)
            assert not re.search(r"Traceback|Exception|Error\b", about[0]), about[0]
        elif want == "blank":
            assert len(about) == 1 and NO_DIGIT.search(about[0]), (name, messages)
        else:
            assert not about, (name, about)
    bomb = next(m for m in messages if "bomb.png" in m)
    assert "megapixels" in bomb and "limit" in bomb  # refused from the header, before decoding
    assert "truncated" in next(m for m in messages if "truncated.png" in m)
    assert "empty" in next(m for m in messages if "empty.png" in m)
    assert "Not a recognised image" in next(m for m in messages if "notes.png" in m)
    table = _table(app)
    digits = {name: want for name, want in expect.items() if isinstance(want, int)}
    assert table["file"].tolist() == list(digits)  # every good file read, each as one digit
    assert dict(zip(table["file"], table["predicted"])) == digits


def test_a_bad_file_does_not_stop_the_next_upload(shipped, zoo, mnist):
    """After a bomb and a text file, the user uploads a good digit and it is read; the bad ones can be removed"""
    folder, expect = zoo
    app = _open(shipped)
    _upload(app, [("bomb.png", (folder / "bomb.png").read_bytes()), ("notes.png", (folder / "notes.png").read_bytes())])
    assert not app.exception and not app.data_editor
    assert len([m for m in _messages(app) if "skipped" in m]) == 2
    _upload(app, [("cmyk_label4.jpg", (folder / "cmyk.jpg").read_bytes())])  # a fresh uploader after each upload
    assert not app.exception
    assert _table(app)["predicted"].tolist() == [expect["cmyk.jpg"]] == [4]
    assert [d["label"] for d in app.session_state["labelled_uploads"]] == [4]
    app.button(key="upload_clear").click().run()
    assert not app.exception and app.session_state["upload_sources"] == []
    assert app.session_state["labelled_uploads"] == []  # the Lab and fine-tuning no longer see the removed digit


@pytest.mark.parametrize("name", ["all_black.png", "all_white.png"])
def test_blank_image_says_no_digit_found(shipped, zoo, name):
    """An all-black or all-white image is not read as some digit: the user is told no digit was found"""
    folder, _ = zoo
    app = _open(shipped)
    _upload(app, [(name, (folder / name).read_bytes())])
    assert not app.exception and not app.error
    assert any(NO_DIGIT.search(m) and name in m for m in _messages(app)), _messages(app)
    assert not app.data_editor and not app.session_state["labelled_uploads"]


def ruled_blank_page(w: int = 1600, h: int = 2200, seed: int = 0) -> np.ndarray:
    """Blank lined paper photographed: off-white, uneven light, blue ruled lines, a red margin line, grain, JPEG."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 232 + 15 * (xx / w) - 20 * (yy / h)
    page = np.dstack([light, light * 0.99, light * 0.95])
    for y in range(180, h - 60, 72):
        page[y:y + 3] = page[y:y + 3] * [0.75, 0.82, 0.95]
    page[:, 150:154] = page[:, 150:154] * [0.95, 0.6, 0.6]
    page += rng.normal(0, 3, page.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(page, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=85)
    return np.asarray(Image.open(buf))


@pytest.fixture(scope="module")
def lined_paper():
    from ui.inputs import new_source

    return new_source("lined_paper.jpg", png(ruled_blank_page()))


def test_sheet_without_digits(shipped, lined_paper):
    """A photo of blank lined paper read as a sheet says no digits found"""
    src = lined_paper
    app = _open(shipped)
    _upload(app, [(src["name"], src["data"])])
    assert not app.exception and not app.error
    app.button_group(key=f"upload_kind_{src['cid']}").set_value("sheet").run()
    assert not app.exception and not app.error
    assert any(NO_DIGIT.search(m) and src["name"] in m for m in _messages(app)), _messages(app)
    assert not app.data_editor


def test_sheet_without_digits_read_as_it_comes(shipped, lined_paper):
    """A photo of blank lined paper, left on Auto (it looks like one digit), also says no digit found"""
    src = lined_paper
    app = _open(shipped)
    _upload(app, [(src["name"], src["data"])])
    assert not app.exception and not app.error
    assert any(NO_DIGIT.search(m) and src["name"] in m for m in _messages(app)), _messages(app)
    assert not app.data_editor


def test_sheet_with_500_digits(shipped, mnist):
    """A page of 50 rows × 10 digits is read whole, without error, and graded from a typed 0123456789"""
    from lenet.sheet import make_sheet
    from ui.inputs import new_source

    page, labels, _ = make_sheet(mnist.x_test, mnist.y_test, seed=3, rows=50, cols=10)
    src = new_source("five_hundred.png", png(page))
    app = _open(shipped)
    _upload(app, [(src["name"], src["data"])])
    assert not app.exception and not app.error
    table = _table(app)
    assert abs(len(table) - 500) <= 5, len(table)
    seq = app.text_area(key=f"upload_seq_{src['cid']}")
    found = re.match(r"True labels \((\d+) digits in (\d+) rows\)", seq.label)
    assert found and int(found.group(1)) == len(table), seq.label
    print(f"500-digit sheet: {found.group(1)} digits found in {found.group(2)} rows")
    seq.set_value("0123456789").run()
    assert not app.exception
    if len(table) == 500:  # then every row has 10 digits and the typed pattern labels them all
        accuracy = [m.value for m in app.metric if m.label == "Accuracy"]
        assert accuracy and float(accuracy[0].rstrip(" %")) >= 95, accuracy
        print(f"500-digit sheet: accuracy {accuracy[0]}")


# ---------------------------------------------------------------------------------------------------- Draw
@pytest.fixture
def fake_canvas(monkeypatch):
    """streamlit_drawable_canvas replaced by a module whose st_canvas returns ``holder["image"]``."""
    holder = {"image": None}
    module = types.ModuleType("streamlit_drawable_canvas")
    module.st_canvas = lambda **kw: types.SimpleNamespace(image_data=holder["image"])
    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", module)
    return holder


def _canvas(fill: int, alpha: int) -> np.ndarray:
    img = np.zeros((280, 280, 4), np.uint8)
    img[..., :3], img[..., 3] = fill, alpha
    return img


@pytest.mark.parametrize("what", ["untouched", "transparent", "black", "speck"])
def test_empty_canvas_gives_a_hint(shipped, fake_canvas, what):
    """An empty canvas (before any stroke, after Clear, or with a stray dot) shows a hint, never an error"""
    img = {"untouched": None, "transparent": _canvas(0, 0), "black": _canvas(0, 255), "speck": _canvas(0, 255)}[what]
    if what == "speck":
        img[140:142, 140:142, :3] = 255  # a 2×2 dot: cleaned away as a speck
    fake_canvas["image"] = img
    app = _open(shipped, DRAW)
    assert not app.exception and not app.error and not app.warning
    assert any("Draw a digit" in i.value or "No ink found" in i.value for i in app.info), [i.value for i in app.info]
    assert not [m for m in app.markdown if "big-digit" in m.value]  # no predicted digit shown
