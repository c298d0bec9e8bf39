"""Home page: description, active model card, sample strip with green/red predictions, links to every page."""
import re


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
