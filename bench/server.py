"""A real ``streamlit run`` server and a Chromium to drive it: shared by the browser tests and the benchmarks.

Chromium is found in this order: ``$CHROMIUM`` (a path), Debian's ``/usr/bin/chromium``, then Playwright's own
browser (``python -m playwright install chromium`` where downloads are allowed).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    """The Chromium binary to launch, or None to let Playwright use the browser it installed itself."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def launch_args() -> dict:
    """Keyword arguments for ``playwright.chromium.launch`` that work on a closed network."""
    path = chromium_path()
    return {"executable_path": path, "args": CHROMIUM_ARGS} if path else {"args": CHROMIUM_ARGS}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(script: str | Path = "app.py", *, env: dict | None = None, log_path: Path | None = None,
                     timeout: float = 60.0):
    """Start ``streamlit run SCRIPT`` on a free loopback port; yields ``(url, process)`` once it is healthy.

    Args:
        script: the app file, relative to the project root or absolute.
        env: extra environment variables (e.g. ``LENET_MODELS_DIR`` for a private run store).
        log_path: where the server's output goes (discarded when None).
        timeout: seconds to wait for ``/_stcore/health``.
    """
    port = free_port()
    full_env = dict(os.environ, **(env or {}))
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.perf_counter() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}" + (f"; see {log_path}" if log_path else ""))
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                pass
            if time.perf_counter() > deadline:
                raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout:.0f} s")
            time.sleep(0.05)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log_path:
            log.close()
