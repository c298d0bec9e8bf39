"""Benchmark: reading real-looking pages with the shipped model and the default style.

- Every hard condition of ``lenet.sheet.make_sheet`` (a page of MNIST test digits, shadows, perspective, ...):
  accuracy = digits right in reading order (edit distance between the read rows and the true rows, the rows
  aligned in order, so a missed or a spurious row costs its digits only), and whether every digit was found.
  Targets: >= 98 % and every digit found.
- The development set, when present (``--devset``, default ../shared/devset next to the project): sticky-note
  photos and sticky-note sheets as stored (target >= 97 %), sudoku cells (target >= 95 %).
- Read time per page: the bundled 150-digit sample sheet (target <= 2 s) and a 12 MP phone photo (<= 3 s).

    python -m bench.real_pages [--rows 10] [--seeds 1] [--conditions clean,grid] [--devset PATH] [--no-devset]
"""
from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from lenet.config import SAMPLE_SHEET
from lenet.data import load_mnist
from lenet.infer import load_serving, make_classifier
from lenet.io import decode_image
from lenet.sheet import CONDITIONS, make_sheet
from lenet.page import read_page

DEVSET = Path(__file__).resolve().parents[2] / "shared" / "devset"  # beside the checkout, never in the project


def read(image, classify) -> list[list[dict]]:
    """The app's way to read a page (``lenet.page.read_page``): rows of digit dicts."""
    return read_page(image, classify).rows


def digits_of(rows: list[list[dict]]) -> list[list[int]]:
    """Read rows -> their digits (empty cells left out)."""
    return [[d["digit"] for d in row if not d.get("empty") and d["digit"] is not None] for row in rows]


def align(truth: list[list[int]], read: list[list[int]]) -> tuple[int, int]:
    """Rows aligned in order (a row matched, or skipped at the cost of its digits), each matched pair compared by
    edit distance. Returns (errors, missed): edits in all, and truth digits deleted (not found at all)."""
    def edit(a: list[int], b: list[int]) -> tuple[int, int]:
        # (cost, deletions of a's digits) along a cheapest alignment
        prev = [(j, 0) for j in range(len(b) + 1)]
        for i in range(1, len(a) + 1):
            cur = [(i, i)]
            for j in range(1, len(b) + 1):
                sub = (prev[j - 1][0] + (a[i - 1] != b[j - 1]), prev[j - 1][1])
                dele = (prev[j][0] + 1, prev[j][1] + 1)
                ins = (cur[j - 1][0] + 1, cur[j - 1][1])
                cur.append(min(sub, dele, ins))
            prev = cur
        return prev[-1]

    n, m = len(truth), len(read)
    inf = (10 ** 9, 0)
    best = [[inf] * (m + 1) for _ in range(n + 1)]
    best[0][0] = (0, 0)
    for i in range(n + 1):
        for j in range(m + 1):
            c = best[i][j]
            if c == inf:
                continue
            if i < n:  # a true row not read at all
                best[i + 1][j] = min(best[i + 1][j], (c[0] + len(truth[i]), c[1] + len(truth[i])))
            if j < m:  # a spurious row
                best[i][j + 1] = min(best[i][j + 1], (c[0] + len(read[j]), c[1]))
            if i < n and j < m:
                e, d = edit(truth[i], read[j])
                best[i + 1][j + 1] = min(best[i + 1][j + 1], (c[0] + e, c[1] + d))
    return best[n][m]


def score(pages: list[tuple[list[list[int]], list[list[int]]]]) -> tuple[int, float, int]:
    """[(truth, read), ...] -> (digits, accuracy %, missed digits)."""
    total = sum(len(r) for t, _ in pages for r in t)
    errors = missed = 0
    for t, r in pages:
        e, d = align(t, r)
        errors, missed = errors + e, missed + d
    return total, 100.0 * max(0, total - errors) / max(total, 1), missed


def bench_conditions(read, classify, images, labels, rows: int, seeds: int, conditions: list[str]) -> None:
    from lenet.grid import read_grid

    print(f"{'condition':16s} {'digits':>6s} {'right %':>8s}  found")
    for cond in conditions:
        pages, cells = [], []
        for seed in range(seeds):
            page, truth, _ = make_sheet(images, labels, seed=seed, rows=rows, condition=cond)
            pages.append((truth, digits_of(read(page, classify))))
            if cond == "grid":  # the form read cell by cell, as the page reader should once it finds the grid
                cells.append((truth, digits_of(read_grid(page, classify) or [])))
        for name, got in ((cond, pages), ("  by lenet.grid", cells)):
            if got:
                n, acc, missed = score(got)
                ok = "" if acc >= 98 and not missed else "   < target"
                print(f"{name:16s} {n:6d} {acc:8.1f}  {'all' if not missed else f'{n - missed}/{n}'}{ok}")


def bench_devset(root: Path, read, classify) -> None:
    notes = root / "sticky_notes"
    truth = {}
    with open(notes / "labels.csv", newline="") as f:
        for rec in csv.DictReader(f):
            truth[rec["file"]] = [[int(ch) for ch in row] for row in rec["rows"].split("|")]
    for group, pattern, target in (("sticky photos", "photo_*.jpg", 97), ("sticky sheets", "sheet_*.png", 97)):
        files = sorted(notes.glob(pattern))
        pages = [(truth[p.name], digits_of(read(decode_image(p, colour=True), classify))) for p in files]
        n, acc, missed = score(pages)
        flag = "" if acc >= target else "   < target"
        print(f"{group:22s} {len(files):3d} pages {n:5d} digits {acc:6.1f} %  found {n - missed}/{n}{flag}")
    grids = sorted((root / "sudoku_grids").glob("*.jpg"))
    from lenet.grid import read_grid

    for name, fn in (("page reader", lambda g: read(g, classify)), ("lenet.grid", lambda g: read_grid(g, classify))):
        right = cells = 0
        kind_right, kind_cells = {"handwritten": 0, "printed": 0}, {"handwritten": 0, "printed": 0}
        for p in grids:
            t, printed = (_grid_dat(p.with_suffix(s)) for s in (".dat", ".printed.dat"))
            cells += 81
            rows = fn(decode_image(p, colour=True)) or []
            if len(rows) == 9 and all(len(r) == 9 for r in rows):  # cell by cell
                for r, tr, pr in zip(rows, t, printed):
                    for d, v, pv in zip(r, tr, pr):
                        kind = "printed" if pv else "handwritten"
                        kind_cells[kind] += 1
                        kind_right[kind] += d["digit"] == v
                        right += d["digit"] == v
            else:  # not read as a 9x9 grid: digits right in reading order
                e, _ = align(t, digits_of(rows))
                right += max(0, 81 - e)
        flag = "" if 100 * right / cells >= 95 else "   < target"
        kinds = ", ".join(f"{k} {100 * kind_right[k] / max(kind_cells[k], 1):.1f} % of {kind_cells[k]}"
                          for k in kind_cells)
        print(f"sudoku cells ({name}) {len(grids):3d} grids {cells:5d} cells  {100 * right / cells:6.1f} %{flag}"
              f"  (cells read one by one: {kinds})")


def _grid_dat(path: Path) -> list[list[int]]:
    """A sudoku_grids .dat file: two header lines, then 9 rows of 9 digits (0: an empty cell)."""
    return [[int(v) for v in line.split()] for line in path.read_text().splitlines()[2:] if line.strip()]


def bench_time(read, classify, images, labels) -> None:
    """Median wall time of three reads (and the CPU time of the same, all threads: on a shared, busy machine the
    wall time is mostly waiting)."""
    def timed(image) -> str:
        read(image, classify)  # warm-up (traces the model on this batch size)
        runs = [_clock(lambda: read(image, classify)) for _ in range(3)]
        wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        return f"{wall:.2f} s (cpu {cpu:.2f} s)"

    sheet = decode_image(SAMPLE_SHEET, colour=True)
    print(f"read time: 150-digit sample sheet {timed(sheet)} (target <= 2 s)", end="; ")
    photo, _, _ = make_sheet(images, labels, seed=1, condition="perspective")
    photo = cv2.resize(photo, (3000, 4000), interpolation=cv2.INTER_CUBIC)  # 12 MP, as a phone takes it
    print(f"12 MP photo {timed(photo)} (target <= 3 s)")


def _clock(fn) -> tuple[float, float]:
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--rows", type=int, default=10, help="rows of 10 digits per generated page (default 10)")
    ap.add_argument("--seeds", type=int, default=1, help="pages per condition (default 1)")
    ap.add_argument("--conditions", default=",".join(CONDITIONS), help="comma-separated (default: all)")
    ap.add_argument("--devset", default=str(DEVSET), help=f"development set folder (default {DEVSET})")
    ap.add_argument("--no-devset", action="store_true")
    ap.add_argument("--no-time", action="store_true")
    args = ap.parse_args()
    classify = make_classifier(load_serving(args.model))
    test = load_mnist()
    images, labels = test.x_test, test.y_test
    print(f"model {args.model}, style mnist, pages read by lenet.page.read_page")
    bench_conditions(read, classify, images, labels, args.rows, args.seeds, args.conditions.split(","))
    root = Path(args.devset)
    if args.no_devset:
        pass
    elif (root / "sticky_notes").is_dir() and (root / "sudoku_grids").is_dir():
        print(f"development set ({root}):")
        bench_devset(root, read, classify)
    else:
        print(f"development set: {root} not found, skipped (give --devset PATH)")
    if not args.no_time:
        bench_time(read, classify, images, labels)


if __name__ == "__main__":
    main()
