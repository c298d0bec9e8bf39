"""Browser tests: a real `streamlit run app.py` server and Debian's Chromium driven by Playwright.

The server gets a private, empty run store and its own port; the browser is the system Chromium (Playwright
cannot download its own here).
"""
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """pytest-playwright: launch Debian's Chromium with flags that work on a closed network."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: scripts/test.sh installs it with apt-get")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium chromium-driver)")
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(store: Path, log_path: Path):
    """A fresh `streamlit run app.py` on a free port with a private run store; yields its URL."""
    port = _free_port()
    env = dict(os.environ, LENET_MODELS_DIR=str(store))
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                                 "--server.port", str(port), "--server.address", "127.0.0.1",
                                 "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log_path}")
                try:
                    if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                        break
                except OSError:
                    pass
                if time.time() > deadline:
                    raise RuntimeError("streamlit did not answer /_stcore/health within 60 s")
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """The app, started once for the browser tests."""
    work = tmp_path_factory.mktemp("e2e")
    with streamlit_server(work / "models", work / "streamlit.log") as url:
        yield url


@pytest.fixture
def app_page(page, app_url):
    """A browser tab on the app's Home page, rendered."""
    page.set_default_timeout(30_000)
    page.goto(app_url)
    page.get_by_text("LeNet Lab").first.wait_for(timeout=60_000)
    return page
