"""The preprocessing study on labelled handwriting: true labels from names or typed sequences, and accuracy per
style and per pad scale.

This redoes the seed study (a 150-digit scanned sheet read with none / thresh / crop_tight / crop_sq / pad_<s>:
49 / 47 / 26 / 44 / 90 %) on any labelled crops. A page is segmented once; each style only re-preprocesses the crops and classifies
them in one batch. ``classify`` is any callable (N, 28, 28) float32 -> (N, 10) probabilities, so this module never
touches Keras.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from lenet import config
from lenet.preprocess import pad, parse_style, preprocess, resize28

Classifier = Callable[[np.ndarray], np.ndarray]
Progress = Callable[[int, int, str], None]  # (done, total, message)

STUDY_STYLES = ("none", "thresh", "crop_tight", "crop_sq", "pad_1.5", "mnist")  # the seed's styles + the default
PAD_SCALES = tuple(round(1.0 + 0.1 * i, 1) for i in range(11))  # the seed's scan: 1.0 -> 2.0 in steps of 0.1
# The seed study's accuracies on its 150 scanned digits (15 rows of 0-9), for comparison; it had no "mnist" style.
SEED_STUDY = {"none": 0.49, "thresh": 0.47, "crop_tight": 0.26, "crop_sq": 0.44, "pad_1.5": 0.90}

_NAME_LABEL = re.compile(r"(?:^|[_\-\s.])label[_\-]?(\d)$", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------------- true labels
def label_from_name(name: str) -> int | None:
    """The true digit a file name states: "7.png" -> 7, "scan_label7.jpg" -> 7, "photo.png" -> None."""
    stem = Path(name).stem.strip()
    if len(stem) == 1 and stem.isdigit():
        return int(stem)
    m = _NAME_LABEL.search(stem)
    return int(m.group(1)) if m else None


def parse_label_sequence(text: str, row_lengths: Sequence[int]) -> list[int]:
    """Expand typed true labels for a sheet to one label per digit found, in reading order (``fit_labels``'s
    labels; raises ValueError when they do not fit)."""
    return fit_labels(text, row_lengths)[0]


def fit_labels(text: str, row_lengths: Sequence[int], row_x: Sequence[Sequence[float]] | None = None
               ) -> tuple[list[int], str]:
    """Expand typed true labels for a sheet to one label per digit found, in reading order, and say how.

    Accepted forms (spaces and commas ignored; rows separated by new lines or ``|``):
      * the full sequence, as many digits as were found (one line, or one line per row);
      * one pattern for every row, as long as the longest row, e.g. "0123456789" for rows that each read 0-9.
        A row with fewer digits found than the pattern is matched to the pattern's columns by the digits'
        positions when ``row_x`` is given and full rows show where the columns are; otherwise it takes the
        pattern's start. Either way the returned note names the row, so nothing shifts silently.

    Args:
        text: what the user typed.
        row_lengths: number of digits found in each row, top to bottom.
        row_x: optional x-centre of each digit found, per row (the page's pixels).

    Returns:
        (labels, note): ``sum(row_lengths)`` labels, and "" or a sentence on the short rows.

    Raises:
        ValueError: a non-digit, or a length that fits none of the forms (the message says what was expected).
    """
    lines = [re.sub(r"[\s,;]", "", line) for line in re.split(r"[\n|]", text)]
    lines = [line for line in lines if line]
    bad = sorted({ch for line in lines for ch in line if not ch.isdigit()})
    if bad:
        raise ValueError(f"labels must be digits 0-9; found {' '.join(repr(c) for c in bad)}")
    flat = "".join(lines)
    lengths = [int(n) for n in row_lengths]
    total = sum(lengths)
    if not flat:
        raise ValueError("no labels typed")
    if len(lines) == len(lengths) > 1 and [len(line) for line in lines] != lengths:
        wrong = [f"row {i + 1}: {len(line)} typed, {n} found" for i, (line, n) in enumerate(zip(lines, lengths))
                 if len(line) != n]
        raise ValueError("the typed rows do not match the rows found (" + "; ".join(wrong) + "): fix the typing, "
                         "or tick *not a digit* for a false box in the table")
    if len(flat) == total:
        return [int(c) for c in flat], ""
    if len(lines) == 1 and lengths and len(flat) == max(lengths):
        return _fit_pattern(flat, lengths, row_x)
    longest = max(lengths) if lengths else 0
    raise ValueError(f"{len(flat)} labels typed, but {total} digits were found in {len(lengths)} rows: type "
                     f"all {total}, or one row's pattern of {longest} (e.g. 0123456789); tick *not a digit* in "
                     "the table for a false box")


def _fit_pattern(pattern: str, lengths: list[int], row_x) -> tuple[list[int], str]:
    """One row's pattern laid on every row; short rows matched by position when the full rows show the columns."""
    n = len(pattern)
    full = [i for i, k in enumerate(lengths) if k == n]
    centres = None
    if row_x is not None and full:
        centres = np.median(np.array([row_x[i] for i in full], np.float64), axis=0)  # x of each pattern column
    labels, notes = [], []
    for r, k in enumerate(lengths):
        cols, placed = list(range(k)), False
        if k < n and centres is not None:
            # Each digit takes its nearest column; if two would share one, the row takes the pattern's start.
            x = np.asarray(row_x[r], np.float64)
            nearest = [int(np.argmin(np.abs(centres - v))) for v in x]
            if all(b > a for a, b in zip(nearest, nearest[1:])):
                cols, placed = nearest, True
        if k < n:
            missing = [pattern[j] for j in range(n) if j not in cols]
            how = "matched by position" if placed else "took the pattern's start"
            notes.append(f"row {r + 1} ({k} of {n} found, {how}: no digit found for {', '.join(missing)})")
        labels += [int(pattern[j]) for j in cols]
    note = ("Some rows are shorter than the pattern — " + "; ".join(notes) + ". Check them in the table.") if notes \
        else ""
    return labels, note


def labels_for_rows(grid: list[list[int]], row_lengths: Sequence[int]) -> list[int]:
    """A labels file's grid (``sheet.load_labels``) matched to the rows found; raises ValueError if it does not fit."""
    return parse_label_sequence("\n".join("".join(str(d) for d in row) for row in grid), row_lengths)


# ---------------------------------------------------------------------------------------------------- scoring
@dataclass
class StyleScore:
    """One style on a set of crops.

    Attributes:
        style: the style label ("mnist", "pad_1.5", ...).
        x: (N, 28, 28) float32, what the model saw.
        probs: (N, 10) float32.
        labels: (N,) int true labels (-1 where unknown).
    """

    style: str
    x: np.ndarray
    probs: np.ndarray
    labels: np.ndarray

    @property
    def pred(self) -> np.ndarray:
        return self.probs.argmax(axis=1) if len(self.probs) else np.zeros(0, int)

    @property
    def correct(self) -> np.ndarray:
        """(N,) bool, right or wrong (False where the label is unknown)."""
        return (self.pred == self.labels) & (self.labels >= 0)

    @property
    def accuracy(self) -> float:
        """Share right among the labelled crops (NaN when none is labelled)."""
        from lenet.evaluate import accuracy

        known = self.labels >= 0
        return accuracy(self.probs[known], self.labels[known])


def squares_of(crops: Sequence[np.ndarray], polarities: Sequence[str | None] | None = None
               ) -> list[np.ndarray | None]:
    """Each crop's "square" stage (cleaned, tightly cropped, centred on a square), None where no ink was found.

    Every pad scale starts from this stage, so a pad-scale sweep computes the cleaning once per crop.
    """
    pols = list(polarities) if polarities is not None else [None] * len(crops)
    return [preprocess(c, "crop_sq", polarity=p).stages.get("square") for c, p in zip(crops, pols)]


def preprocess_crops(crops: Sequence[np.ndarray], style: str, polarities: Sequence[str | None] | None = None,
                     squares: Sequence[np.ndarray | None] | None = None) -> np.ndarray:
    """Crops -> (N, 28, 28) float32 in [0, 1] with one style ("mnist", "pad_1.3", ...).

    Args:
        crops: (h, w) uint8 images of one digit each (any polarity).
        style: a style label (``preprocess.parse_style``).
        polarities: per crop, the polarity of the page it came from (None: detect on the crop).
        squares: ``squares_of(crops, polarities)``, if already computed: "pad" styles then only pad and resize
            (the same last two stages ``preprocess`` runs, so the result is identical).
    """
    name, scale = parse_style(style)
    n = config.IMAGE_SIZE
    if name == "pad" and squares is not None:
        xs = [np.zeros((n, n), np.float32) if sq is None else resize28(pad(sq, scale)) for sq in squares]
    else:
        pols = list(polarities) if polarities is not None else [None] * len(crops)
        xs = [preprocess(c, name, scale, polarity=p).x for c, p in zip(crops, pols)]
    return np.stack(xs).astype(np.float32, copy=False) if xs else np.zeros((0, n, n), np.float32)


def score_style(crops: Sequence[np.ndarray], labels: Sequence[int], classify: Classifier, style: str,
                polarities: Sequence[str | None] | None = None,
                squares: Sequence[np.ndarray | None] | None = None) -> StyleScore:
    """Preprocess every crop with ``style`` and classify them all in one call.

    Args:
        crops: (h, w) uint8 images of one digit each.
        labels: their true digits (-1 where unknown).
        classify: (N, 28, 28) float32 -> (N, 10) probabilities.
        style: a style label ("none", "thresh", "crop_tight", "crop_sq", "pad_<s>", "mnist").
        polarities: per crop, the page's polarity (None: detect).
        squares: optional precomputed ``squares_of`` (speeds up "pad" styles).
    """
    x = preprocess_crops(crops, style, polarities, squares)
    probs = np.asarray(classify(x), np.float32).reshape(len(x), -1) if len(x) else np.zeros((0, 10), np.float32)
    return StyleScore(style=style, x=x, probs=probs, labels=np.asarray(labels, int).reshape(-1))


@dataclass
class Study:
    """Accuracy per style and per pad scale on one labelled set.

    Attributes:
        scores: every style label computed ("mnist", "pad_1.3", ...) -> its StyleScore.
        styles: the styles compared in the bar chart, in order.
        pad_scales: the scales of the padding curve, in order.
    """

    scores: dict[str, StyleScore]
    styles: tuple[str, ...] = STUDY_STYLES
    pad_scales: tuple[float, ...] = PAD_SCALES

    @property
    def by_style(self) -> dict[str, StyleScore]:
        return {s: self.scores[s] for s in self.styles}

    @property
    def by_pad(self) -> dict[float, float]:
        """pad scale -> accuracy."""
        return {float(s): self.scores[pad_label(s)].accuracy for s in self.pad_scales}

    def style_accuracy(self) -> dict[str, float]:
        return {s: self.scores[s].accuracy for s in self.styles}


def study_steps(styles: Sequence[str] = STUDY_STYLES, pad_scales: Sequence[float] = PAD_SCALES) -> list[str]:
    """Every style label a study computes, each once (pad_1.5 is both a style and a point of the pad curve)."""
    return list(dict.fromkeys(list(styles) + [pad_label(s) for s in pad_scales]))


def pad_label(scale: float) -> str:
    return f"pad_{scale:g}"


def run_study(crops: Sequence[np.ndarray], labels: Sequence[int], classify: Classifier, *,
              styles: Sequence[str] = STUDY_STYLES, pad_scales: Sequence[float] = PAD_SCALES,
              polarities: Sequence[str | None] | None = None, progress: Progress | None = None) -> Study:
    """The whole study: every style and every pad scale, one batched model call each.

    Args:
        crops, labels, classify, polarities: as ``score_style``.
        styles: style labels for the bar chart.
        pad_scales: scales for the accuracy-vs-padding curve.
        progress: called after each step with (done, total, style label).
    """
    steps = study_steps(styles, pad_scales)
    squares = squares_of(crops, polarities) if any(s.startswith("pad") for s in steps) else None
    scores: dict[str, StyleScore] = {}
    for i, step in enumerate(steps):
        scores[step] = score_style(crops, labels, classify, step, polarities, squares)
        if progress is not None:
            progress(i + 1, len(steps), step)
    return Study(scores=scores, styles=tuple(styles), pad_scales=tuple(float(s) for s in pad_scales))


def data_key(crops: Sequence[np.ndarray], labels: Sequence[int], polarities: Sequence[str | None] | None = None
             ) -> str:
    """A short content hash of a labelled set, to key caches on the data rather than on object identity."""
    h = hashlib.sha1()
    for c in crops:
        a = np.ascontiguousarray(c)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    h.update(np.asarray(labels, np.int64).tobytes())
    h.update(repr(list(polarities) if polarities is not None else None).encode())
    return h.hexdigest()[:16]
