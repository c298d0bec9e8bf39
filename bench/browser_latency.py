"""Benchmark: in headless Chromium, mouse-up on the Draw canvas -> the predicted digit shown (target: median of
20 strokes <= 0.5 s). One user, a fresh server, alternating a 1 and a 0 (the strokes of ``bench.many_users``).

    python -m bench.browser_latency [--strokes 20]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile

from playwright.async_api import async_playwright

from bench.many_users import drawing_phase, pct
from bench.server import launch_args, streamlit_server


async def main_async(strokes: int) -> None:
    with tempfile.TemporaryDirectory() as store, \
            streamlit_server(env={"LENET_MODELS_DIR": store}) as (url, _):
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(**launch_args())
            await drawing_phase(browser, url, users=1, rounds=2)  # warm-up: first render, model load
            out = await drawing_phase(browser, url, users=1, rounds=strokes)
            await browser.close()
    lat = out["latencies"]
    print(f"{len(lat)} strokes, {out['right']} read right, {out['exceptions']} exceptions")
    print(f"mouse-up -> digit shown: median {statistics.median(lat):.3f} s, p95 {pct(lat, 0.95):.3f} s "
          f"(target: median <= 0.5 s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strokes", type=int, default=20)
    asyncio.run(main_async(ap.parse_args().strokes))


if __name__ == "__main__":
    main()
