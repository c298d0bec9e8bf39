"""lenet.study: labels from names and typed sequences; accuracy per style / pad scale against a loop written here."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from lenet import study
from lenet.preprocess import preprocess
from tests.images.synth import FONTS, glyph, mnist_like, on_paper

TEMPLATES = np.stack([mnist_like(d).astype(np.float32) / 255.0 for d in range(10)])  # (10, 28, 28)


class TemplateClassifier:
    """Correlation with one MNIST-like template per digit, as probabilities; records every batch it is given."""

    def __init__(self):
        self.batches = []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        self.batches.append(x.shape)
        scores = x.reshape(len(x), -1) @ TEMPLATES.reshape(10, -1).T
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _crop(d: int, k: int) -> np.ndarray:
    """A dark-on-paper digit with varied font, size and position, as a crop from a sheet would look."""
    g = glyph(d, FONTS[k % 4], 6 + 2 * (k % 3))
    s = 0.55 + 0.15 * (k % 3)
    g = cv2.resize(g, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((220, 220), np.uint8)
    y, x = 10 + 7 * (k % 4), 5 + 9 * (k % 3)
    canvas[y:y + g.shape[0], x:x + g.shape[1]] = g
    return on_paper(canvas, seed=k)


@pytest.fixture(scope="module")
def crops():
    labels = [d for k in range(3) for d in range(10)]
    return [_crop(d, k) for k, d in enumerate(labels)], labels


def _accuracy_by_hand(crops, labels, style, scale=1.5):
    """The reference: one image at a time through preprocess, argmax of the classifier, compared with labels."""
    clf = TemplateClassifier()
    preds = [int(np.argmax(clf(preprocess(c, style, scale).x[None])[0])) for c in crops]
    return accuracy_score(labels, preds), preds


# ---------------------------------------------------------------------------------------------------- labels
@pytest.mark.parametrize("name, label", [
    ("7.png", 7), ("0.JPG", 0), ("scan_label7.png", 7), ("photo-label-3.jpeg", 3), ("my digit label_5.webp", 5),
    ("IMG_0420.jpg", None), ("17.png", None), ("labels.png", None), ("sheet.png", None), ("label.png", None),
])
def test_label_from_name(name, label):
    assert study.label_from_name(name) == label


def test_sequence_full_and_per_row_pattern():
    rows = [10, 10, 9]
    full = "0123456789" * 2 + "012345678"
    assert study.parse_label_sequence(full, rows) == [int(c) for c in full]
    assert study.parse_label_sequence("0123456789", rows) == [int(c) for c in full]  # every row reads 0-9
    assert study.parse_label_sequence("0123456789\n0123456789\n012345678", rows) == [int(c) for c in full]
    assert study.parse_label_sequence(" 0 1 2, 3 4 5 6 7 8 9 ", [10]) == list(range(10))


@pytest.mark.parametrize("text, message", [("01234x", "digits 0-9"), ("", "no labels"), ("0123", "29 digits")])
def test_sequence_errors_say_what_is_expected(text, message):
    with pytest.raises(ValueError, match=message):
        study.parse_label_sequence(text, [10, 10, 9])


def test_labels_file_grid_matches_rows():
    grid = [list(range(10))] * 3
    assert study.labels_for_rows(grid, [10, 10, 10]) == list(range(10)) * 3
    with pytest.raises(ValueError):
        study.labels_for_rows(grid, [10, 10, 10, 10, 3])


# ---------------------------------------------------------------------------------------------------- scoring
@pytest.mark.parametrize("style", ["none", "crop_tight", "mnist", "pad_1.3"])
def test_score_style_matches_one_at_a_time_reference(crops, style):
    imgs, labels = crops
    clf = TemplateClassifier()
    score = study.score_style(imgs, labels, clf, style)
    name, scale = (style.split("_")[0], float(style.split("_")[1])) if style.startswith("pad") else (style, 1.5)
    expected, preds = _accuracy_by_hand(imgs, labels, name, scale)
    assert clf.batches == [(len(imgs), 28, 28)]  # one batched call per style
    assert score.pred.tolist() == preds
    assert score.accuracy == pytest.approx(expected)
    assert score.x.shape == (len(imgs), 28, 28) and score.x.dtype == np.float32


def test_template_classifier_reads_the_mnist_style(crops):
    """Sanity of the fixture itself: the references differ by style, and mnist is not at chance."""
    imgs, labels = crops
    assert _accuracy_by_hand(imgs, labels, "mnist")[0] >= 0.5


def test_unknown_labels_are_left_out(crops):
    imgs, labels = crops
    some = list(labels)
    some[:10] = [-1] * 10
    score = study.score_style(imgs, some, TemplateClassifier(), "mnist")
    full = study.score_style(imgs, labels, TemplateClassifier(), "mnist")
    assert score.accuracy == pytest.approx(full.correct[10:].mean())
    assert not score.correct[:10].any()
    assert np.isnan(study.score_style(imgs, [-1] * len(imgs), TemplateClassifier(), "mnist").accuracy)


def test_pad_shortcut_equals_preprocess(crops):
    """Pad styles from the cached squares give exactly preprocess(..., "pad", s).x"""
    imgs, _ = crops
    squares = study.squares_of(imgs)
    for s in (1.0, 1.4, 2.0):
        fast = study.preprocess_crops(imgs, f"pad_{s}", squares=squares)
        ref = np.stack([preprocess(c, "pad", s).x for c in imgs])
        np.testing.assert_array_equal(fast, ref)


def test_run_study_every_style_and_scale(crops):
    imgs, labels = crops
    clf = TemplateClassifier()
    seen = []
    result = study.run_study(imgs, labels, clf, progress=lambda done, total, step: seen.append((done, total, step)))
    steps = study.study_steps()
    assert len(steps) == 16 and len(set(steps)) == 16  # 6 styles + 11 scales, pad_1.5 shared
    assert [s for _, _, s in seen] == steps and seen[-1][:2] == (16, 16)
    assert clf.batches == [(len(imgs), 28, 28)] * 16
    assert list(result.by_style) == list(study.STUDY_STYLES)
    assert list(result.by_pad) == pytest.approx([1.0 + 0.1 * i for i in range(11)])
    assert result.by_pad[1.5] == result.by_style["pad_1.5"].accuracy
    for style in ("thresh", "crop_sq"):
        assert result.style_accuracy()[style] == pytest.approx(_accuracy_by_hand(imgs, labels, style)[0])
    assert result.by_pad[1.8] == pytest.approx(_accuracy_by_hand(imgs, labels, "pad", 1.8)[0])


def test_data_key_follows_content(crops):
    imgs, labels = crops
    k = study.data_key(imgs, labels)
    assert study.data_key([c.copy() for c in imgs], list(labels)) == k
    assert study.data_key(imgs, [9] + list(labels[1:])) != k
    changed = [c.copy() for c in imgs]
    changed[3][0, 0] ^= 1
    assert study.data_key(changed, labels) != k
    assert study.data_key(imgs, labels, ["dark_on_light"] * len(imgs)) != k


def test_empty_set():
    score = study.score_style([], [], TemplateClassifier(), "mnist")
    assert score.x.shape == (0, 28, 28) and score.probs.shape == (0, 10) and np.isnan(score.accuracy)


def test_row_separated_pattern_and_mismatched_rows():
    """`1247673|8952481` reads as two rows; typed rows that do not match the rows found say which row is off"""
    assert study.parse_label_sequence("1247673|8952481", [7, 7]) == [int(c) for c in "12476738952481"]
    with pytest.raises(ValueError, match="row 2: 6 typed, 7 found"):
        study.parse_label_sequence("1247673|895248", [7, 7])


def test_short_row_matched_by_position_and_named():
    """A row's pattern on a sheet whose second row misses its 3: the labels follow the columns, and the note says so"""
    xs = [[10.0 * i for i in range(10)], [0, 10, 20, 40, 50, 60, 70, 80, 90]]
    labels, note = study.fit_labels("0123456789", [10, 9], xs)
    assert labels[10:] == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert "row 2" in note and "matched by position" in note and "for 3" in note
    labels, note = study.fit_labels("0123456789", [10, 9])  # no positions: the start, but said
    assert labels[10:] == list(range(9)) and "took the pattern's start" in note
    assert study.fit_labels("0123456789", [10, 10])[1] == ""
