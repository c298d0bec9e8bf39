"""lenet.augment: every distortion keeps shape, dtype and range, changes the digit, is the identity at strength 0,
and is reproducible from its generator's seed."""
import numpy as np
import pytest

from lenet import augment
from lenet.config import Augment, TrainConfig

STRENGTHS = {"elastic": 34.0, "slant": 0.4, "proportion": 1.0, "bold": 1.0, "breaks": 1.0, "stretch": 1.0,
             "resolution": 1.0}


@pytest.fixture(scope="module")
def batch(mnist):
    return mnist.x_train[:32].astype(np.float32) / 255.0


@pytest.mark.parametrize("name", list(STRENGTHS))
def test_shape_dtype_range_and_change(batch, name):
    fn = getattr(augment, name)
    out = fn(batch, np.random.default_rng(0), STRENGTHS[name])
    assert out.shape == batch.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    changed = np.abs(out - batch).reshape(len(batch), -1).max(1) > 0.05
    assert changed.mean() > 0.9  # (almost) every digit is visibly distorted at full strength
    assert (out.reshape(len(out), -1).max(1) > 0.5).all()  # ...and still has ink


def test_input_never_modified(batch):
    before = batch.copy()
    augment.apply(batch, np.random.default_rng(0), Augment(**STRENGTHS))
    assert np.array_equal(batch, before)


@pytest.mark.parametrize("name", list(STRENGTHS))
def test_identity_at_zero_and_deterministic(batch, name):
    fn = getattr(augment, name)
    assert np.array_equal(fn(batch, np.random.default_rng(0), 0.0), batch)
    strength = STRENGTHS[name] / 2  # bold at probability 1 has nothing left to draw
    a = fn(batch, np.random.default_rng(7), strength)
    b = fn(batch, np.random.default_rng(7), strength)
    c = fn(batch, np.random.default_rng(8), strength)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_what_each_does(batch):
    rng = np.random.default_rng(0)
    ink = batch.sum()
    assert augment.bold(batch, rng, 1.0).sum() > 1.5 * ink  # thicker strokes: much more ink
    assert augment.breaks(batch, rng, 1.0).sum() < ink  # gaps: less ink
    low = augment.resolution(batch, rng, 1.0)
    assert np.abs(low.sum() - ink) < 0.3 * ink  # a rescan keeps the digit's size and weight roughly
    # A pure shear moves the top and bottom rows sideways but keeps the middle row's ink where it was.
    bars = np.zeros((8, 28, 28), np.float32)
    bars[:, 4:24, 13:15] = 1.0  # vertical bars
    sheared = augment.slant(bars, np.random.default_rng(1), 0.5)
    cols = np.arange(28)
    top, bottom = (sheared[:, r] @ cols / sheared[:, r].sum(1) for r in (5, 22))
    middle = sheared[:, 14] @ cols / sheared[:, 14].sum(1)
    assert np.abs(top - bottom).max() > 3 and np.allclose(middle, 13.5, atol=0.6)
    # New proportions: still fitted in MNIST's 20 px box, but the share of ink in the top half moves.
    def box_and_top_share(im):
        ys, xs = np.nonzero(im > 0.1)
        mid = (ys.min() + ys.max()) / 2
        return max(np.ptp(ys), np.ptp(xs)) + 1, im[ys, xs][ys < mid].sum() / im[ys, xs].sum()
    before = [box_and_top_share(im) for im in batch]
    after = [box_and_top_share(im) for im in augment.proportion(batch, np.random.default_rng(3), 1.0)]
    assert all(18 <= side <= 22 for side, _ in after)
    assert np.mean([abs(a[1] - b[1]) > 0.02 for a, b in zip(after, before)]) > 0.5
    # Stretched to fill its box: a thin upright bar (a 1) becomes a 20x20 block centred in the frame.
    wide = augment.stretch(bars, np.random.default_rng(1), 1.0)
    cols_inked = (wide > 0.5).any(1).sum(1)
    assert (cols_inked >= 19).all() and np.allclose(wide.sum((1, 2)) / (wide > 0).sum((1, 2)), 1, atol=0.1)


def test_remap_zero_displacement_is_identity(batch):
    z = np.zeros_like(batch)
    assert np.allclose(augment.remap(batch, z, z), batch, atol=1e-6)


def test_apply_follows_the_config(batch):
    rng = np.random.default_rng(0)
    assert np.array_equal(augment.apply(batch, rng, Augment(rotation=10)), batch)  # not this module's
    x4 = batch[..., None]
    out = augment.apply(x4, rng, Augment(**STRENGTHS))
    assert out.shape == x4.shape and out.dtype == np.float32 and not np.array_equal(out, x4)
    assert augment.is_active(Augment(slant=0.1)) and not augment.is_active(Augment(rotation=5))
    assert Augment(breaks=0.1).active


def test_new_fields_keep_old_config_digests():
    """Configs without the new distortions serialise exactly as before (config_key of stored runs is stable)."""
    from lenet.store import config_key

    d = TrainConfig().to_dict()
    assert set(d["augment"]) == {"rotation", "shift", "zoom", "thickness"}
    assert config_key(TrainConfig()) == config_key(TrainConfig.from_dict(d))
    cfg = TrainConfig(augment=Augment(elastic=20, slant=0.2))
    assert cfg.to_dict()["augment"]["elastic"] == 20
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_printed_digits_keep_their_labels(mnist):
    """Swapped-in printed digits are the batch's own digits: the shipped model reads most renderings right, and
    every rendering sits in MNIST's box with its centre of mass at the centre."""
    from lenet.infer import load_serving, predict_probs
    from lenet.printed import bank

    images, digits = bank()
    assert set(digits) == set(range(10)) and images.shape[1:] == (28, 28)
    ys, xs = np.indices((28, 28))
    mass = images.sum((1, 2))
    assert np.allclose((images * ys).sum((1, 2)) / mass, 14, atol=0.6)
    assert np.allclose((images * xs).sum((1, 2)) / mass, 14, atol=0.6)
    batch = mnist.x_train[:64].astype(np.float32) / 255.0
    labels = mnist.y_train[:64]
    out = augment.printed(batch, labels, np.random.default_rng(0), 1.0)
    assert out.shape == batch.shape and not np.array_equal(out, batch)
    read = predict_probs(load_serving("default"), out).argmax(1)
    assert (read == labels).mean() > 0.7
    assert np.array_equal(augment.printed(batch, labels, np.random.default_rng(0), 0.0), batch)
    # apply() swaps only with labels given
    aug = Augment(printed=1.0)
    assert np.array_equal(augment.apply(batch, np.random.default_rng(0), aug), batch)
    assert not np.array_equal(augment.apply(batch, np.random.default_rng(0), aug, labels=labels), batch)
