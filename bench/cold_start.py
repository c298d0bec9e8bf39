"""Benchmark 4: ``streamlit run app.py`` → Home rendered in headless Chromium (target ≤ 8 s).

Starts a fresh server each round, opens the page in Debian's Chromium via Playwright and waits until the Home
page's title and its digit strip are visible. Prints each round and the median.

    python -m bench.cold_start [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

from playwright.sync_api import sync_playwright

from bench.server import launch_args, streamlit_server


def one_round(browser) -> tuple[float, float]:
    t0 = time.perf_counter()
    with streamlit_server() as (url, _):
        page = browser.new_page()
        page.goto(url)
        page.get_by_text("LeNet Lab", exact=False).first.wait_for(timeout=60_000)
        t_title = time.perf_counter() - t0
        page.locator('[data-testid="stImage"], img').first.wait_for(timeout=60_000)
        t_full = time.perf_counter() - t0
        page.close()
        return t_title, t_full


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_args())
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
