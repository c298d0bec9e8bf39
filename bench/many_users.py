"""Benchmark: many people on one server while one of them trains (issue 11).

A real ``streamlit run app.py`` server (private run store) and K headless Chromium sessions drawing digits on the
Draw page's canvas, each session clearing and drawing R digits one after another, all sessions at once:

1. **unwatched**: a training job runs with no page watching it — its images/s;
2. **watched**: the same job again with a session on the Train page showing its live curves — its images/s;
3. **drawing, nobody training**: stroke → digit latency (p50/p95) of the K sessions;
4. **drawing while one session trains and watches**: the same, with a job running and its curves on screen
   (the job is stopped once the drawers are done, which times Stop too).

Prints the latencies and their ratio (goal ≤ 1.5), the watched/unwatched images/s ratio (goal ≥ 0.9), exceptions
seen in the pages or the server log (goal 0), and the server's peak resident memory (the training worker is a
separate process, reported apart).

    python -m bench.many_users [--users 8] [--rounds 6] [--train-images 20000] [--arch lenet]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from playwright.async_api import async_playwright

from bench.server import launch_args, streamlit_server
from lenet import jobs
from lenet.config import TrainConfig

STROKES = {  # canvas pixels on the 280×280 canvas, one stroke each: a 1 and a 0
    "1": [(140, 45), (142, 235)],
    "0": [(140, 45), (85, 80), (70, 140), (85, 200), (140, 235), (195, 200), (210, 140), (195, 80), (140, 45)],
}


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class MemoryWatch:
    """Samples the server's RSS (and any training worker's) every 0.2 s in a thread; keeps the peaks."""

    def __init__(self, pid: int, store: Path):
        self.pid, self.store, self.peak, self.worker_peak = pid, store, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, rss_mb(self.pid))
            for job in jobs.list_jobs(self.store, limit=3):
                if job.active and job.status.get("pid"):
                    self.worker_peak = max(self.worker_peak, rss_mb(job.status["pid"]))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


async def count_exceptions(page) -> int:
    n = await page.get_by_test_id("stException").count()
    text = await page.locator("body").inner_text()
    return n + text.count("Traceback")


async def drawer(browser, url: str, rounds: int, start: asyncio.Event, out: dict) -> None:
    """One person: open Draw, then (once everyone is ready) clear and draw ``rounds`` digits, timing each."""
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await ctx.new_page()
    page.set_default_timeout(120_000)
    await page.goto(url + "/draw")
    await page.locator(".st-key-draw_canvas_0 canvas.upper-canvas").first.wait_for(timeout=180_000)
    out["ready"] += 1
    await start.wait()
    for r in range(rounds):
        if r:
            await page.locator(".st-key-draw_clear button").first.click()
            await page.locator(".big-digit").first.wait_for(state="detached")
        layer = page.locator(f".st-key-draw_canvas_{r} canvas.upper-canvas").first
        await layer.wait_for()
        await layer.scroll_into_view_if_needed()
        box = await layer.bounding_box()
        digit = "1" if r % 2 == 0 else "0"
        points = STROKES[digit]
        await page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
        await page.mouse.down()
        for x, y in points[1:]:
            await page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
        t0 = time.perf_counter()
        await page.mouse.up()
        shown = page.locator(".big-digit").first
        await shown.wait_for()
        out["latencies"].append(time.perf_counter() - t0)
        out["right"] += (await shown.inner_text()).strip() == digit
    out["exceptions"] += await count_exceptions(page)
    await ctx.close()


async def drawing_phase(browser, url: str, users: int, rounds: int) -> dict:
    out = {"latencies": [], "right": 0, "exceptions": 0, "ready": 0}
    start = asyncio.Event()
    tasks = [asyncio.create_task(drawer(browser, url, rounds, start, out)) for _ in range(users)]
    while out["ready"] < users:
        await asyncio.sleep(0.2)
        for t in tasks:
            if t.done() and t.exception():
                raise t.exception()
    t0 = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    out["seconds"] = time.perf_counter() - t0
    return out


async def wait_training(job: jobs.Job, timeout: float = 600) -> jobs.Job:
    """Until the job reports training batches."""
    deadline = time.monotonic() + timeout
    while not (job := jobs.read_job(job.path)).progress and not job.finished:
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job.id} did not start training: {job.status}")
        await asyncio.sleep(0.3)
    return job


async def wait_finished(job: jobs.Job, timeout: float = 1200) -> jobs.Job:
    deadline = time.monotonic() + timeout
    while not (job := jobs.read_job(job.path)).finished:
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job.id} did not finish: {job.status}")
        await asyncio.sleep(0.5)
    return job


async def watch(browser, url: str):
    """A session on the Train page showing the newest job's live curves; returns (context, page)."""
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await ctx.new_page()
    page.set_default_timeout(180_000)
    await page.goto(url + "/train")
    await page.locator(".st-key-train_job_box").first.wait_for()
    return ctx, page


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))] if s else float("nan")


async def main_async(args) -> None:
    store = Path(tempfile.mkdtemp(prefix="many-users-")) / "models"
    log = store.parent / "streamlit.log"
    cfg = TrainConfig(arch=args.arch, epochs=1, train_subset=args.train_images, seed=1)
    env = {"LENET_MODELS_DIR": str(store), jobs.MAX_RUNNING_ENV: "1"}
    os.environ.update(env)  # jobs submitted here go to the server's queue and store
    with streamlit_server(env=env, log_path=log) as (url, proc), MemoryWatch(proc.pid, store) as mem:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(**launch_args())
            print(f"server {url}, store {store}; {args.users} drawing sessions × {args.rounds} digits; "
                  f"training {cfg.arch} on {cfg.train_subset:,} images", flush=True)

            # Warm the server first (TensorFlow, the shipped model, the layer table): every phase then starts equal.
            for path, ready in (("/train", ".st-key-train_start button"),
                                ("/draw", ".st-key-draw_canvas_0 canvas.upper-canvas")):
                page = await browser.new_page()
                await page.goto(url + path)
                await page.locator(ready).first.wait_for(timeout=180_000)
                await page.close()

            unwatched = await wait_finished(jobs.submit(cfg, name="unwatched", owner="bench"))
            print(f"unwatched job: {unwatched.status.get('images_per_s', 0):,.0f} images/s", flush=True)

            job = jobs.submit(cfg.replace(seed=2), name="watched", owner="bench")
            ctx, page = await watch(browser, url)  # on screen while the worker still starts
            watched = await wait_finished(job)
            watch_exc = await count_exceptions(page)
            await ctx.close()
            print(f"watched job: {watched.status.get('images_per_s', 0):,.0f} images/s", flush=True)

            mem_before = mem.peak
            idle = await drawing_phase(browser, url, args.users, args.rounds)
            print(f"drawing, nobody training: p50 {pct(idle['latencies'], .5):.2f} s, "
                  f"p95 {pct(idle['latencies'], .95):.2f} s", flush=True)

            busy_job = jobs.submit(cfg.replace(epochs=20, seed=3), name="trained while others draw", owner="bench")
            await wait_training(busy_job)
            ctx, page = await watch(browser, url)
            busy = await drawing_phase(browser, url, args.users, args.rounds)
            overlapped = not jobs.read_job(busy_job.path).finished
            stop_t = time.time()
            jobs.request_stop(busy_job.path)
            busy_job = await wait_finished(busy_job)
            busy_exc = await count_exceptions(page)
            await ctx.close()
            await browser.close()
    server_tracebacks = log.read_text().count("Traceback")
    ratio_lat = pct(busy["latencies"], .5) / pct(idle["latencies"], .5)
    ips_u, ips_w = unwatched.status.get("images_per_s") or 0, watched.status.get("images_per_s") or 0
    n = args.users * args.rounds
    print("\n== many users ==")
    print(f"{args.users} sessions × {args.rounds} digits, {os.cpu_count()} cores")
    print(f"stroke → digit, nobody training : p50 {pct(idle['latencies'], .5):.2f} s · "
          f"p95 {pct(idle['latencies'], .95):.2f} s · {idle['right']}/{n} read right")
    print(f"stroke → digit, one trains+watches: p50 {pct(busy['latencies'], .5):.2f} s · "
          f"p95 {pct(busy['latencies'], .95):.2f} s · {busy['right']}/{n} read right"
          + ("" if overlapped else "  (the job ended before the drawing did)"))
    print(f"ratio p50 {ratio_lat:.2f} · p95 {pct(busy['latencies'], .95) / pct(idle['latencies'], .95):.2f} "
          f"(goal ≤ 1.5)")
    print(f"training {cfg.arch}: unwatched {ips_u:,.0f} images/s · watched {ips_w:,.0f} images/s · ratio "
          f"{ips_w / ips_u if ips_u else float('nan'):.2f} (goal ≥ 0.9); while {args.users} draw: "
          f"{busy_job.status.get('images_per_s') or 0:,.0f} images/s")
    print(f"stop → saved: {busy_job.status['saved_at'] - stop_t:.2f} s (goal ≤ 2 s)")
    print(f"exceptions: {idle['exceptions'] + busy['exceptions'] + watch_exc + busy_exc} in pages, "
          f"{server_tracebacks} in the server log (goal 0)")
    print(f"peak server memory: {mem.peak:,.0f} MB ({mem_before:,.0f} MB before the drawing); "
          f"training worker peak {mem.worker_peak:,.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=8, help="drawing sessions (K)")
    ap.add_argument("--rounds", type=int, default=6, help="digits each session draws")
    ap.add_argument("--train-images", type=int, default=20_000, help="images of the watched/unwatched job")
    ap.add_argument("--arch", default="lenet")
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
