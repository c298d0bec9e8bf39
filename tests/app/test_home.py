"""Home page: description, active model card, sample strip with green/red predictions, links to every page."""
import re

import pytest


def test_home_renders(app):
    """Home renders without exception"""
    app.run()
    assert not app.exception
    assert app.title[0].value == "LeNet Lab"


def test_home_strip_and_shuffle(app, store_run):
    """A user sees the active model's card, 12 test digits labelled green/red, shuffles them, and finds every page"""
    app.run()
    assert any(store_run.name in m.value for m in app.markdown)
    captions = [c.value for c in app.caption if re.match(r":(green|red)\[\*\*\d\*\*\]", c.value)]
    assert len(captions) == 12
    wrong = [c for c in captions if c.startswith(":red")]
    assert all("(true " in c for c in wrong)
    before = app.session_state["home_seed"]
    app.button(key="home_shuffle").click().run()
    assert not app.exception
    assert app.session_state["home_seed"] != before
    links = {link.proto.page.split("/")[-1] for link in app.get("page_link")}  # url path names
    assert {"train", "draw", "upload", "lab", "evaluate", "inside"} <= links


def test_prediction_pages_never_import_tensorflow(mnist):
    """Home, Draw (with a drawing), Upload, Preprocessing Lab and Evaluate predict without importing TensorFlow.

    Run in a fresh interpreter: in this process other tests have imported TensorFlow long ago.
    """
    import subprocess
    import sys
    import textwrap

    from lenet import infer

    from .conftest import APP, ROOT

    if not infer.runtime_available():
        pytest.skip("ai-edge-litert not installed here: the app serves through Keras")
    code = textwrap.dedent(f"""
        import sys, types
        import numpy as np
        from streamlit.testing.v1 import AppTest
        from lenet.data import load_mnist

        seven = np.kron(load_mnist().x_test[0], np.ones((10, 10), np.uint8))  # a 280x280 drawing of a 7
        rgba = np.dstack([seven, seven, seven, np.full_like(seven, 255)])
        canvas = types.ModuleType("streamlit_drawable_canvas")
        canvas.st_canvas = lambda **kw: types.SimpleNamespace(image_data=rgba)
        sys.modules["streamlit_drawable_canvas"] = canvas
        at = AppTest.from_file({APP!r}, default_timeout=120)
        at.session_state["eval_n"] = 500
        at.run()
        seen = [at.title[0].value, sum(c.value.startswith((":green[", ":red[")) for c in at.caption)]
        for page in ("pages/draw.py", "pages/upload.py", "pages/lab.py", "pages/evaluate.py"):
            at.switch_page(page).run()
            seen.append(at.title[0].value if not at.exception else repr(at.exception))
            if page == "pages/draw.py":
                seen.append(any("font-size:7rem" in m.value for m in at.markdown))  # the predicted digit
        print(seen, "tensorflow" in sys.modules, "keras" in sys.modules)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == (
        "['LeNet Lab', 12, 'Draw', True, 'Upload', 'Preprocessing Lab', 'Evaluate'] False False"), proc.stdout[-2000:]
