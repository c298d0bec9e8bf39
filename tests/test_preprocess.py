"""lenet.preprocess: styles as ordered stages, MNIST-style normalisation, cleaning of real scans."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from lenet import preprocess as pp
from lenet.ink import ink_box
from lenet.preprocess import DEFAULT_STYLE, STYLES, detect_polarity, parse_style, preprocess, preprocess_batch
from tests.images.synth import com, glyph, ink_bbox, mnist_like, on_paper


def bar(h: int = 80, w: int = 40, size: int = 200) -> np.ndarray:
    """A filled h x w white bar, off-centre on black."""
    img = np.zeros((size, size), np.uint8)
    img[30:30 + h, 50:50 + w] = 255
    return img


# ------------------------------------------------------------------------------------------------- API and stages
def test_styles_and_default():
    assert STYLES == ("none", "thresh", "crop_tight", "crop_sq", "pad", "mnist")
    assert DEFAULT_STYLE == "mnist"
    assert set(pp.STYLE_STAGES) == set(STYLES)


@pytest.mark.parametrize("s, expected", [
    ("mnist", ("mnist", 1.5)), ("pad_1.5", ("pad", 1.5)), ("pad_1.2", ("pad", 1.2)), ("pad", ("pad", 1.5)),
    ("PAD_2.0", ("pad", 2.0)), ("crop_tight", ("crop_tight", 1.5)), (" none ", ("none", 1.5)),
])
def test_parse_style(s, expected):
    assert parse_style(s) == expected


@pytest.mark.parametrize("s", ["pad_2.5", "pad_0.9", "pad_x", "blur", "", "crop"])
def test_parse_style_rejects(s):
    with pytest.raises(ValueError):
        parse_style(s)


def test_format_style_inverts_parse():
    for s in ("none", "thresh", "crop_tight", "crop_sq", "pad_1.3", "mnist"):
        assert pp.format_style(*parse_style(s)) == s


@pytest.mark.parametrize("style", STYLES)
def test_stages_shapes_and_dtypes(style):
    img = on_paper(glyph(3))
    r = preprocess(img, style)
    names = list(r.stages)
    assert names[0] == "input" and names[1:] == list(pp.STYLE_STAGES[style])
    assert r.stages["model input"] is r.x  # the picture shown is the array the model gets
    assert r.x.shape == (28, 28) and r.x.dtype == np.float32
    assert 0.0 <= r.x.min() and r.x.max() <= 1.0 and r.x.max() > 0.5
    for name in names[1:-1]:
        a = r.stages[name]
        assert a.ndim == 2 and a.dtype == np.uint8, name
    assert r.style == style and not r.empty and r.polarity == "dark_on_light"


def test_style_string_with_scale_and_bad_arguments():
    img = glyph(1)
    assert preprocess(img, "pad_1.2").pad_scale == 1.2
    with pytest.raises(ValueError):
        preprocess(img, "sharpen")
    with pytest.raises(ValueError):
        preprocess(img, "pad", pad_scale=3.0)
    with pytest.raises(ValueError):
        preprocess(img, polarity="upside_down")


def test_colour_inputs_accepted():
    g = on_paper(glyph(7))
    rgb = np.dstack([g, g, g])
    canvas = np.zeros((200, 200, 4), np.uint8)
    canvas[..., 3] = glyph(7)  # white strokes, transparent elsewhere, as the drawing canvas gives
    canvas[..., :3] = 255
    a = preprocess(g).x
    for img in (rgb, canvas):
        assert np.abs(preprocess(img).x - a).mean() < 0.03


def test_batch():
    xs = preprocess_batch([glyph(1), on_paper(glyph(2)), np.zeros((50, 50), np.uint8)], "mnist")
    assert xs.shape == (3, 28, 28) and xs.dtype == np.float32
    assert xs[2].max() == 0
    assert preprocess_batch([], "pad_1.5").shape == (0, 28, 28)


# ------------------------------------------------------------------------------------------------- polarity
@pytest.mark.parametrize("d", [0, 1, 4, 8])
def test_polarity_both_ways(d):
    g = glyph(d)
    assert detect_polarity(g) == "light_on_dark"  # canvas: white on black
    assert detect_polarity(mnist_like(d)) == "light_on_dark"
    assert detect_polarity(255 - g) == "dark_on_light"
    assert detect_polarity(on_paper(g, shadow=0.5)) == "dark_on_light"  # a shadowed scan
    assert detect_polarity(255 - on_paper(g)) == "light_on_dark"  # chalk on a board


# ------------------------------------------------------------------------------------------------- mnist style
@pytest.mark.parametrize("img", [bar(), glyph(7), glyph(2, thickness=20), 255 - glyph(4)], ids=["bar", "7", "2", "4"])
def test_mnist_centre_of_mass_is_centred(img):
    x = preprocess(img, "mnist").x
    cy, cx = com(x)
    # MNIST's own mean centre of mass is (14.0, 14.0) in pixel-index coordinates (13.99, 14.01 measured).
    assert abs(cy - pp.MNIST_CENTRE) < 0.5 and abs(cx - pp.MNIST_CENTRE) < 0.5
    assert abs(cy - 13.5) <= 0.55 and abs(cx - 13.5) <= 0.55  # and the geometric centre


def test_mnist_keeps_aspect_in_20_box():
    r = preprocess(bar(80, 40), "mnist")
    x0, y0, w, h = ink_bbox(r.stages["fit"], 0)
    assert (h, w) == (20, 10)
    _, _, w, h = ink_bbox(r.x, 0.5)
    assert 19 <= h <= 21 and 9 <= w <= 11 and 1.8 <= h / w <= 2.2


def test_mnist_is_anti_aliased_not_binary():
    x = preprocess(on_paper(glyph(6)), "mnist").x
    mid = ((x > 0.1) & (x < 0.9)).sum()
    assert mid > 20  # grey edge pixels, as in MNIST


def test_mnist_reproduces_an_mnist_digit():
    """An image that is already MNIST-normalised comes back nearly unchanged (up to a sub-pixel shift)."""
    for d in (0, 3, 5, 9):
        m = mnist_like(d, thickness=14)  # MNIST-bold, so the stroke stage leaves it alone
        x = preprocess(m, "mnist").x
        assert np.corrcoef(x.ravel(), m.ravel())[0, 1] > 0.9
        assert np.abs(np.array(ink_bbox(x, 0.5)) - ink_bbox(m, 127)).max() <= 1


def test_thin_strokes_are_thickened_bold_ones_kept():
    thin = glyph(3, thickness=2, size=400)  # a fine pen on a big scan
    r = preprocess(thin, "mnist")
    assert (r.stages["stroke"] >= 64).sum() > 1.5 * (r.stages["crop"] >= 64).sum()
    bold = glyph(3, thickness=16)
    r = preprocess(bold, "mnist")
    np.testing.assert_array_equal(r.stages["stroke"], r.stages["crop"])


# ------------------------------------------------------------------------------------------------- seed styles
def test_crop_tight_fills_28_and_loses_aspect():
    x = preprocess(bar(80, 40), "crop_tight").x
    _, _, w, h = ink_bbox(x, 0.5)
    assert w >= 27 and h >= 27


def test_crop_sq_and_pad_keep_aspect():
    x = preprocess(bar(80, 40), "crop_sq").x
    _, _, w, h = ink_bbox(x, 0.5)
    assert h >= 27 and 13 <= w <= 15
    x = preprocess(bar(80, 40), "pad", pad_scale=2.0).x
    _, _, w, h = ink_bbox(x, 0.5)
    assert 13 <= h <= 15 and 6 <= w <= 8


def test_pad_stage_sizes():
    r = preprocess(bar(80, 40), "pad_1.5")
    assert r.stages["square"].shape == (80, 80) and r.stages["pad"].shape == (120, 120)


def test_none_and_thresh_only_resize():
    img = on_paper(glyph(5))
    r = preprocess(img, "none")
    expected = cv2.resize(255 - img, (28, 28), interpolation=cv2.INTER_AREA) / 255.0
    assert np.abs(r.x - expected).max() < 1e-6
    t = preprocess(img, "thresh").stages["thresh"]
    assert set(np.unique(t)) <= {0, 255}


# ------------------------------------------------------------------------------------------------- blank inputs
@pytest.mark.parametrize("blank", [
    np.zeros((280, 280), np.uint8), np.full((100, 100), 255, np.uint8), np.zeros((280, 280, 4), np.uint8),
    np.clip(np.random.default_rng(0).normal(215, 6, (300, 300)), 0, 255).astype(np.uint8),
    np.full((1, 1), 128, np.uint8),
], ids=["black", "white", "transparent", "grainy paper", "1px"])
@pytest.mark.parametrize("style", STYLES)
def test_blank_input_is_empty(blank, style):
    r = preprocess(blank, style)
    assert r.empty
    assert r.x.shape == (28, 28) and r.x.dtype == np.float32 and r.x.max() == 0
    assert r.stages["model input"] is r.x


def test_tiny_dot_is_not_empty():
    img = np.zeros((280, 280), np.uint8)
    cv2.circle(img, (140, 140), 8, 255, -1)
    r = preprocess(img)
    assert not r.empty and r.x.max() > 0.5


# ------------------------------------------------------------------------------------------------- cleaning
def test_clean_removes_shadow_grain_and_specks():
    g = glyph(2)
    img = on_paper(g, shadow=0.6)
    cv2.circle(img, (185, 15), 2, 30, -1)  # a speck of dust in a corner
    clean = preprocess(img).stages["clean"]
    ink = g > 128
    assert (clean[~cv2.dilate(ink.astype(np.uint8), np.ones((9, 9))).astype(bool)] > 0).sum() == 0
    assert (clean[ink] > 0).mean() > 0.95


def test_clean_removes_ruled_line_keeps_digit():
    g = glyph(1, size=200)
    paper = on_paper(g)
    ys, _ = np.nonzero(g > 128)
    y_line = int(ys.max()) - 10  # the line crosses the digit's foot
    paper[y_line:y_line + 2, :] = np.minimum(paper[y_line:y_line + 2, :], 120)
    r = preprocess(paper)
    clean = r.stages["clean"]
    assert clean[y_line - 2:y_line + 4, :20].max() == 0 and clean[y_line - 2:y_line + 4, -20:].max() == 0
    _, y0, _, h = ink_box(clean)
    assert abs(y0 + h - 1 - ys.max()) <= 3  # the foot below the line is still there


def test_multi_stroke_digit_cropped_whole():
    img = np.zeros((200, 200), np.uint8)  # a 5 whose cap was lifted off: two separate strokes
    cv2.ellipse(img, (100, 125), (35, 32), 0, -150, 140, 255, 10)
    cv2.line(img, (75, 40), (75, 95), 255, 10)
    cv2.line(img, (92, 24), (140, 24), 255, 8)
    labels = cv2.connectedComponents((img > 0).astype(np.uint8))[0] - 1
    assert labels == 2
    crop = preprocess(img, "crop_tight").stages["crop"]
    _, y0, _, h = ink_bbox(img, 0)
    assert abs(crop.shape[0] - h) <= 2  # cap and body both inside the crop


def test_speck_far_away_is_not_cropped():
    img = glyph(4)
    cv2.circle(img, (190, 190), 2, 255, -1)
    crop = preprocess(img, "crop_tight").stages["crop"]
    _, _, w, h = ink_bbox(glyph(4), 30)
    assert crop.shape[0] <= h + 3 and crop.shape[1] <= w + 3


def test_big_photo_is_fast():
    img = cv2.resize(on_paper(glyph(8)), (3000, 4000))
    t = time.perf_counter()
    r = preprocess(img)
    assert time.perf_counter() - t < 2.0
    assert max(r.stages["grey"].shape) == pp.MAX_WORK_SIDE and not r.empty


def test_canvas_fast_path_matches_the_full_path(mnist):
    """A clean canvas drawing skips paper cleaning: same stages, nearly the same 28×28 input, blank stays blank"""
    from lenet.preprocess import LIGHT_ON_DARK, STYLE_STAGES

    for digit in mnist.x_test[:20]:
        big = cv2.resize(digit, (280, 280), interpolation=cv2.INTER_LINEAR)
        rgba = np.dstack([big, big, big, np.full_like(big, 255)])
        fast = preprocess(rgba, canvas=True)
        full = preprocess(rgba, polarity=LIGHT_ON_DARK)
        assert list(fast.stages) == list(full.stages) == ["input", *STYLE_STAGES["mnist"]]
        assert fast.polarity == LIGHT_ON_DARK and not fast.empty
        assert np.abs(fast.x - full.x).mean() < 0.03  # the full path also stretches contrast: tiny differences
        com = np.array(np.nonzero(fast.x > 0.5)).mean(axis=1)
        assert np.abs(com - 14).max() < 2.5
    transparent = np.zeros((280, 280, 4), np.uint8)  # nothing drawn yet, alpha 0
    assert preprocess(transparent, canvas=True).empty
    speck = transparent.copy()
    speck[140:142, 140:142] = 255  # a tap of the pen
    assert preprocess(speck, canvas=True).empty
    stroke = speck.copy()
    stroke[100:180, 30:50] = 255  # a white bar, opaque: a "1", with the speck far to its right
    one = preprocess(stroke, "pad", 1.5, canvas=True)
    assert not one.empty and one.x.max() > 0.9 and one.stages["grey"].shape == (112, 112)
    assert one.stages["crop"].shape[1] < 12  # cropped to the bar alone: the speck was dropped
