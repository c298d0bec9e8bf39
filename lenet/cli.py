"""Command line: ``python -m lenet {data,train,evaluate,predict,read-sheet,make-sheet,models} …``."""
from __future__ import annotations

import argparse
import json
import sys

from . import config as cfgmod
from .cli_train import cmd_train, load_data
from .config import PRESETS


# ---------------------------------------------------------------- data
def cmd_data(args) -> int:
    from .data import MNIST_SHA256, cache_path

    data = load_data(args.idx_dir)
    print(f"MNIST cached at {cache_path()}")
    print(f"train {data.x_train.shape} test {data.x_test.shape}")
    for name, digest in MNIST_SHA256.items():
        print(f"  {name:26s} sha256 {digest}  verified")
    return 0


# ---------------------------------------------------------------- evaluate
def cmd_evaluate(args) -> int:
    from .infer import load_serving

    model = load_serving(args.run, args.models_dir)  # the light runtime: no TensorFlow
    from .evaluate import confusion_text, evaluate_model  # scikit-learn: after a missing run has been said

    data = load_data(args.idx_dir)
    n = len(data.x_test) if args.limit is None else max(1, args.limit)
    ev = evaluate_model(model, data.x_test[:n], data.y_test[:n])
    if args.json:
        print(json.dumps(ev.summary()))
        return 0
    from sklearn.metrics import classification_report

    print(f"accuracy: {ev.accuracy:.4f} on {len(ev.y_true)} MNIST test images\n")
    print(classification_report(ev.y_true, ev.y_pred, digits=4, zero_division=0))
    print(confusion_text(ev.confusion))
    return 0


# ---------------------------------------------------------------- predict
def cmd_predict(args) -> int:
    import numpy as np

    from .infer import load_serving, predict_probs, top_k
    from .io import ImageError, decode_image
    from .preprocess import parse_style, preprocess

    style, scale = parse_style(args.style)
    model = load_serving(args.model, args.models_dir)  # the light runtime: no TensorFlow
    results: list[dict] = []
    batch_idx, batch_x = [], []
    for i, file in enumerate(args.images):
        try:
            pre = preprocess(decode_image(file), style=style, pad_scale=scale)
            if pre.empty:
                results.append({"file": file, "error": "no digit found: the image is blank"})
                continue
            results.append({"file": file})
            batch_idx.append(i)
            batch_x.append(pre.x)
        except (ImageError, OSError) as exc:
            results.append({"file": file, "error": str(exc)})
    if batch_x:
        probs = predict_probs(model, np.stack(batch_x))
        for i, p in zip(batch_idx, probs):
            top = top_k(p, 3)
            results[i].update(digit=top[0][0], confidence=round(top[0][1], 6),
                              top3=[[d, round(q, 6)] for d, q in top])
    if args.json:
        print(json.dumps(results))
    for r in results:
        if "error" in r:
            print(f"error: {r['file']}: {r['error']}", file=sys.stderr)
        elif not args.json:
            top = "  ".join(f"{d}:{q:.3f}" for d, q in r["top3"])
            print(f"{r['file']}: {r['digit']} (confidence {r['confidence']:.3f}; top-3 {top})")
    return 0 if all("error" not in r for r in results) else 1


# ---------------------------------------------------------------- read-sheet
def cmd_read_sheet(args) -> int:
    from .infer import load_serving as load_model  # the light runtime: no TensorFlow
    from .infer import make_classifier
    from .io import ImageError, decode_image
    from .page import read_page
    from .preprocess import parse_style

    style, scale = parse_style(args.style)
    try:
        image = decode_image(args.image, colour=True)
    except (ImageError, OSError) as exc:
        print(f"error: {args.image}: {exc}", file=sys.stderr)
        return 1
    reading = read_page(image, make_classifier(load_model(args.model, args.models_dir)), style=style,
                        pad_scale=scale)
    rows = reading.rows
    if args.json:
        print(json.dumps({"orientation": reading.orientation, "is_sheet": reading.is_sheet,
                          "grid": list(reading.grid) if reading.grid else None,
                          "rows": [[{"box": [int(v) for v in d["box"]],
                                     "digit": None if d["empty"] else int(d["digit"]),
                                     "confidence": round(float(d["confidence"]), 6),
                                     "doubtful": bool(d["doubtful"])} for d in row] for row in rows]}))
    elif not rows:
        print("no digits found")
    else:
        print(f"orientation: {reading.orientation}° (the page as stored, turned counter-clockwise to read it)")
        for row in rows:
            # A doubtful digit is followed by "?" so a reader knows which ones to check; "." is an empty cell.
            print("".join("." if d["empty"] else f"{d['digit']}{'?' if d['doubtful'] else ''}" for d in row))
    return 0


# ---------------------------------------------------------------- make-sheet
def cmd_make_sheet(args) -> int:
    from .sheet import CONDITIONS, make_sheet, save_sheet

    if args.condition not in CONDITIONS:  # checked here: the parser must not import OpenCV to list them
        print(f"error: unknown condition {args.condition!r}; choose from {', '.join(CONDITIONS)}", file=sys.stderr)
        return 2
    data = load_data(args.idx_dir)
    image, labels, _ = make_sheet(data.x_test, data.y_test, seed=args.seed, rows=args.rows, cols=args.cols,
                                  condition=args.condition)
    save_sheet(args.out, args.labels, image, labels)
    print(f"wrote {args.out} ({args.rows}×{args.cols} MNIST test digits, seed {args.seed}, {args.condition}) "
          f"and {args.labels}")
    return 0


# ---------------------------------------------------------------- models
def cmd_models(args) -> int:
    from .store import DEFAULT_REF, list_runs, read_run

    runs, problems = list_runs(args.models_dir)
    try:
        print(f"{DEFAULT_REF:32s} {read_run(cfgmod.DEFAULT_MODEL_DIR).card()}")
    except Exception as exc:  # the shipped model missing is worth saying, not crashing over
        print(f"{DEFAULT_REF:32s} unavailable: {exc}")
    for run in runs:
        print(f"{run.id:32s} {run.card()}")
    for msg in problems:
        print(f"skipped: {msg}", file=sys.stderr)
    if not runs:
        print(f"(no trained runs in {cfgmod.models_dir() if args.models_dir is None else args.models_dir})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lenet", description="LeNet Lab: LeNet-style CNNs on handwritten digits.")
    p.add_argument("--debug", action="store_true", help="show the full traceback when a command fails")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, func, help_):
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(func=func)
        return sp

    def data_opts(sp):
        sp.add_argument("--idx-dir", help="folder with the four MNIST IDX files (raw or .gz) to use if not cached")

    def model_opts(sp, positional=False):
        if positional:
            sp.add_argument("run", help="run id, run folder, or 'default' (the shipped model)")
        else:
            sp.add_argument("--model", default="default", help="run id, run folder or 'default' (shipped model)")
        sp.add_argument("--models-dir", help="the run store (default: $LENET_MODELS_DIR or ./models)")

    styles = "none, thresh, crop_tight, crop_sq, pad (or pad_1.5 for a scale), mnist"

    sp = add("data", cmd_data, "Fetch and verify MNIST; print where it lives and its checksums.")
    data_opts(sp)

    sp = add("train", cmd_train, "Train a network on MNIST and save it as a run in the store.")
    sp.add_argument("--preset", choices=list(PRESETS), help="; ".join(f"{k}: {v[0]}" for k, v in PRESETS.items()).replace("%", "%%"))
    sp.add_argument("--arch", choices=cfgmod.ARCHITECTURES)
    sp.add_argument("--activation", choices=("relu", "tanh"))
    sp.add_argument("--pooling", choices=("max", "avg"))
    sp.add_argument("--optimizer", choices=cfgmod.OPTIMIZERS)
    sp.add_argument("--lr", type=float, help="(peak) learning rate")
    sp.add_argument("--momentum", type=float, help="SGD momentum")
    sp.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=None, help="SGD Nesterov")
    sp.add_argument("--weight-decay", type=float, help="AdamW weight decay")
    sp.add_argument("--schedule", choices=cfgmod.SCHEDULES)
    sp.add_argument("--batch-size", type=int)
    sp.add_argument("--epochs", type=int)
    sp.add_argument("--rotation", type=float, help="augmentation: max rotation in degrees")
    sp.add_argument("--shift", type=float, help="augmentation: max shift as a fraction of the side")
    sp.add_argument("--zoom", type=float, help="augmentation: max relative zoom")
    sp.add_argument("--thickness", type=float, help="augmentation: probability of thicker/thinner strokes")
    sp.add_argument("--printed", type=float,
                    help="augmentation: probability of a digit swapped for the same digit printed in a font")
    sp.add_argument("--elastic", type=float, help="augmentation: elastic distortion alpha in px (Simard et al.)")
    sp.add_argument("--slant", type=float, help="augmentation: max horizontal shear")
    sp.add_argument("--proportion", type=float,
                    help="augmentation: probability of a digit's top and bottom scaled in height differently")
    sp.add_argument("--bold", type=float, help="augmentation: probability of much thicker strokes")
    sp.add_argument("--breaks", type=float, help="augmentation: probability of gaps in strokes")
    sp.add_argument("--stretch", type=float, help="augmentation: probability of a digit stretched to fill a square")
    sp.add_argument("--resolution", type=float, help="augmentation: probability of a low-resolution rescan")
    sp.add_argument("--label-smoothing", type=float)
    sp.add_argument("--validation", choices=cfgmod.VALIDATIONS, help="test: MNIST test set; split: part of train")
    sp.add_argument("--val-split", type=float, help="fraction of train held out with --validation split")
    sp.add_argument("--subset", type=int, help="train on only this many images (quick demos)")
    sp.add_argument("--seed", type=int)
    sp.add_argument("--name", help="display name of the run")
    sp.add_argument("--out", help="write the run to exactly this new folder (e.g. assets/models/lenet-default)")
    sp.add_argument("--init", help="start from this run's weights (id, folder or 'default') instead of a fresh net")
    sp.add_argument("--models-dir", help="the run store (default: $LENET_MODELS_DIR or ./models)")
    sp.add_argument("--queue", action="store_true", help="train as a job in the store's queue (one at a time "
                    "with the app's jobs, shown on its Train page); Ctrl-C stops it and keeps the model")
    data_opts(sp)

    sp = add("evaluate", cmd_evaluate, "Accuracy, classification report and confusion matrix on MNIST test.")
    model_opts(sp, positional=True)
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    sp.add_argument("--limit", type=int, help="only the first N test images (default: all 10,000)")
    data_opts(sp)

    sp = add("predict", cmd_predict, "Predict the digit in each image file.")
    model_opts(sp)
    sp.add_argument("--style", default="mnist", help=f"preprocessing style: {styles} (default mnist)")
    sp.add_argument("--json", action="store_true", help="print one JSON array, one object per image")
    sp.add_argument("images", nargs="+", metavar="IMAGE")

    sp = add("read-sheet", cmd_read_sheet, "Read every digit on a photo or scan of a sheet, in reading order.")
    model_opts(sp)
    sp.add_argument("--style", default="mnist", help=f"preprocessing style: {styles} (default mnist)")
    sp.add_argument("--json", action="store_true", help='print {"rows": [[{"box", "digit", "confidence"}]]}')
    sp.add_argument("image", metavar="IMAGE")

    sp = add("make-sheet", cmd_make_sheet, "Synthesise the sample sheet from MNIST test digits (seeded).")
    sp.add_argument("--out", default=str(cfgmod.SAMPLE_SHEET))
    sp.add_argument("--labels", default=str(cfgmod.SAMPLE_SHEET_LABELS))
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--rows", type=int, default=15)
    sp.add_argument("--cols", type=int, default=10)
    sp.add_argument("--condition", default="clean",
                    help="a hard photo to render (default clean): hard_shadow, soft_shadow, uneven_light, ruled, grid, "
                         "perspective, rotate, rotate_90, blur_jpeg_noise, low_res, blue_ink, red_ink, pencil, "
                         "yellow_paper")
    data_opts(sp)

    sp = add("models", cmd_models, "List the runs in the store.")
    sp.add_argument("--models-dir", help="the run store (default: $LENET_MODELS_DIR or ./models)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command. A failure is one line on stderr and a non-zero exit; ``--debug`` (anywhere on the line)
    shows the traceback instead."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    args = build_parser().parse_args(argv)
    args.argv = argv
    from .data import MnistUnavailable
    from .store import StoreError

    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (MnistUnavailable, StoreError, ValueError, OSError) as exc:  # the user's input or files: say what
        if debug:
            raise
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: still one line, with the way to see more
        if debug:
            raise
        print(f"error: {type(exc).__name__}: {_one_line(exc)} (run again with --debug for the traceback)",
              file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
