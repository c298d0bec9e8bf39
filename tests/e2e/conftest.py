"""Browser tests: a real `streamlit run app.py` server and Chromium driven by Playwright.

The server gets a private, empty run store and its own port. The browser is ``$CHROMIUM``, Debian's
``/usr/bin/chromium``, or Playwright's own (see ``bench/server.py``).
"""
import pytest
from playwright.sync_api import expect

from bench.server import launch_args, streamlit_server


# Streamlit content arrives over a websocket after slow imports on 2 cores: assertions wait, not just actions.
expect.set_options(timeout=30_000)


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """pytest-playwright: launch the chosen Chromium with flags that work on a closed network."""
    return launch_args()


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """The app, started once for the browser tests."""
    work = tmp_path_factory.mktemp("e2e")
    with streamlit_server(env={"LENET_MODELS_DIR": str(work / "models")}, log_path=work / "streamlit.log") as (url, _):
        yield url


@pytest.fixture
def app_page(page, app_url):
    """A browser tab on the app's Home page, rendered."""
    page.set_default_timeout(30_000)
    page.goto(app_url)
    page.get_by_text("LeNet Lab").first.wait_for(timeout=60_000)
    return page
