"""Benchmark 4: ``streamlit run app.py`` → Home rendered in headless Chromium (target ≤ 8 s).

Starts a fresh server each round, opens the page in Debian's Chromium via Playwright and waits until the Home
page's title and its digit strip are visible. Prints each round and the median.

    python -m bench.cold_start [--rounds 3]
"""
from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_round(browser) -> tuple[float, float]:
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.05)
            if time.perf_counter() - t0 > 60:
                raise RuntimeError("server did not start in 60 s")
        page = browser.new_page()
        page.goto(url)
        page.get_by_text("LeNet Lab", exact=False).first.wait_for(timeout=60_000)
        t_title = time.perf_counter() - t0
        page.locator('[data-testid="stImage"], img').first.wait_for(timeout=60_000)
        t_full = time.perf_counter() - t0
        page.close()
        return t_title, t_full
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        titles, fulls = [], []
        for r in range(args.rounds):
            t, f = one_round(browser)
            titles.append(t)
            fulls.append(f)
            print(f"round {r + 1}: Home title {t:.2f} s, digit strip with predictions {f:.2f} s", flush=True)
        browser.close()
    print(f"\nmedian cold start: Home rendered {statistics.median(titles):.2f} s, "
          f"with predictions {statistics.median(fulls):.2f} s (target <= 8 s)")


if __name__ == "__main__":
    main()
