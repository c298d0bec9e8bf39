"""Benchmark: ``streamlit run app.py`` → Home rendered with predictions, as a ratio to a bare one-page app.

Each round starts two fresh servers the same way (``bench.server.streamlit_server``), one after the other: a bare
Streamlit app (a title and one image, written to a temp folder) and LeNet Lab. Headless Chromium opens each and
waits for the content: the bare app's image; Home's title and then its digit strip with the model's predictions.
The ratio of the medians removes what any Streamlit app costs on this machine (target ≤ 1.5).

    python -m bench.cold_start [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.server import launch_args, streamlit_server

BARE_APP = '''import numpy as np
import streamlit as st

st.title("Bare app")
st.image(np.zeros((28, 28), np.uint8), width=56)
'''
WAIT_MS = 90_000


def bare_round(browser, script: Path) -> float:
    """Seconds from starting the bare app's server to its image shown."""
    t0 = time.perf_counter()
    with streamlit_server(script) as (url, _):
        page = browser.new_page()
        page.goto(url)
        page.locator('[data-testid="stImage"] img').first.wait_for(timeout=WAIT_MS)
        elapsed = time.perf_counter() - t0
        page.close()
    return elapsed


def home_round(browser) -> tuple[float, float]:
    """Seconds from starting LeNet Lab's server to Home's title, and to its digit strip with predictions."""
    t0 = time.perf_counter()
    with streamlit_server() as (url, _):
        page = browser.new_page()
        page.goto(url)
        page.get_by_text("LeNet Lab", exact=False).first.wait_for(timeout=WAIT_MS)
        t_title = time.perf_counter() - t0
        # The strip's captions carry the predicted digits (":green[**7**]" renders as a coloured bold digit);
        # wait for the last of the 12 digit images and for a caption with a percentage next to one.
        page.locator('[data-testid="stImage"] img').nth(11).wait_for(timeout=WAIT_MS)
        page.get_by_text("random MNIST test digits read correctly").wait_for(timeout=WAIT_MS)
        t_full = time.perf_counter() - t0
        page.close()
    return t_title, t_full


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        script = Path(tmp) / "bare_app.py"
        script.write_text(BARE_APP)
        browser = pw.chromium.launch(**launch_args())
        bare_round(browser, script)  # warm the disk cache for both, so round 1 is not an outlier
        home_round(browser)
        bares, titles, fulls = [], [], []
        for r in range(args.rounds):
            b = bare_round(browser, script)
            t, f = home_round(browser)
            bares.append(b)
            titles.append(t)
            fulls.append(f)
            print(f"round {r + 1}: bare app {b:.2f} s; LeNet Lab Home title {t:.2f} s, digit strip with "
                  f"predictions {f:.2f} s", flush=True)
        browser.close()
    bare, full = statistics.median(bares), statistics.median(fulls)
    print(f"\nmedians: bare one-page app {bare:.2f} s; Home title {statistics.median(titles):.2f} s, with "
          f"predictions {full:.2f} s\nratio Home with predictions / bare app: {full / bare:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
