"""Inside the network and robustness: feature-map shapes, saliency, neighbours and robustness curves, each checked
against an independent computation (numpy convolution, finite differences, brute-force cosine, scipy transforms)."""
import numpy as np
import pytest
from scipy import ndimage

from lenet import explain, robust
from lenet.infer import make_classifier, predict_probs
from lenet.models import build_model

# Expected (H, W, C) of each shown layer, by hand from the architectures' docstrings.
MAP_SHAPES = {
    "lenet": {"act1": (28, 28, 20), "pool1": (14, 14, 20), "act2": (14, 14, 50), "pool2": (7, 7, 50)},
    "lenet1": {"act1": (24, 24, 4), "pool1": (12, 12, 4), "act2": (8, 8, 12), "pool2": (4, 4, 12)},
    "lenet5": {"act1": (28, 28, 6), "pool1": (14, 14, 6), "act2": (10, 10, 16), "pool2": (5, 5, 16)},
    "cnn": {"conv1": (26, 26, 32), "conv2": (24, 24, 64), "pool1": (12, 12, 64)},
    "mlp": {},
}
EMBED_DIMS = {"lenet": 500, "lenet1": 192, "lenet5": 84, "mlp": 64, "cnn": 128}


@pytest.fixture(scope="module")
def model(mnist):
    """LeNet-5 trained for 3 epochs on 6,000 digits (~95 % on MNIST test): meaningful gradients, cheap to run."""
    from lenet.config import TrainConfig
    from lenet.data import Mnist
    from lenet.train import train

    data = Mnist(mnist.x_train[:6000], mnist.y_train[:6000], mnist.x_test[:500], mnist.y_test[:500])
    cfg = TrainConfig(arch="lenet5", lr=2e-3, batch_size=64, epochs=3, seed=3)
    return train(cfg, data).model


@pytest.mark.parametrize("arch", list(MAP_SHAPES))
def test_feature_map_shapes_per_layer(arch, mnist):
    m = build_model(arch)
    maps = explain.feature_maps(m, mnist.x_test[0].astype("float32") / 255)
    assert {k: v.shape for k, v in maps.items()} == MAP_SHAPES[arch]
    assert [ml.name for ml in explain.map_layers(m)] == list(MAP_SHAPES[arch])
    if arch != "mlp":
        k = 3 if arch == "cnn" else 5
        assert explain.conv_filters(m).shape == (m.get_layer("conv1").filters, k, k)
    assert explain.embed(m, mnist.x_test[:3]).shape == (3, EMBED_DIMS[arch])


def test_first_feature_maps_equal_numpy_convolution(mnist):
    """conv1 → tanh of LeNet-1 recomputed with scipy's correlation (valid, 5×5) matches the shown maps."""
    m = build_model("lenet1")
    x = mnist.x_test[1].astype("float32") / 255
    maps = explain.feature_maps(m, x)
    w, b = m.get_layer("conv1").get_weights()
    for f in range(4):
        ref = np.tanh(ndimage.correlate(x, w[:, :, 0, f], mode="constant")[2:-2, 2:-2] + b[f])
        np.testing.assert_allclose(maps["act1"][:, :, f], ref, atol=1e-5)
    np.testing.assert_allclose(explain.conv_filters(m)[2], w[:, :, 0, 2])


def test_logits_give_the_model_probabilities(model, mnist):
    x = mnist.x_test[:16]
    z = explain.logits(model, x)
    p = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(p / p.sum(1, keepdims=True), predict_probs(model, x), atol=1e-5)


def _clear_digits(model, mnist, n=6):
    """Test digits the model gets right with ≥ 99 % confidence."""
    probs = predict_probs(model, mnist.x_test[:200])
    ok = np.flatnonzero((probs.argmax(1) == mnist.y_test[:200]) & (probs.max(1) > 0.99))[:n]
    assert len(ok) == n
    return [(mnist.x_test[i].astype("float32") / 255, int(mnist.y_test[i])) for i in ok]


@pytest.mark.parametrize("method", explain.SALIENCY_METHODS)
def test_saliency_is_largest_on_the_ink(model, mnist, method):
    """For clear digits, mean |saliency| on ink pixels is well above that on background pixels."""
    for x, y in _clear_digits(model, mnist):
        s = explain.saliency(model, x, y, method=method)
        assert s.shape == (28, 28) and s.dtype == np.float32 and np.isfinite(s).all()
        ink, bg = x > 0.5, x == 0
        assert np.abs(s[ink]).mean() > 2 * np.abs(s[bg]).mean(), method


def test_gradient_matches_finite_differences(model, mnist):
    x, y = _clear_digits(model, mnist, 1)[0]
    g = explain.saliency(model, x, y, method="gradient", versus=(y + 1) % 10)
    rows, cols = np.unravel_index(np.argsort(-np.abs(g), axis=None)[:5], g.shape)
    eps = 1e-3  # central differences, small enough not to cross many ReLU / max-pool switches

    def score(img):
        z = explain.logits(model, img[None])[0].astype(np.float64)
        return z[y] - z[(y + 1) % 10]

    for r, c in zip(rows, cols):
        hi, lo = x.copy(), x.copy()
        hi[r, c] += eps
        lo[r, c] -= eps
        fd = (score(hi) - score(lo)) / (2 * eps)
        assert fd == pytest.approx(g[r, c], rel=0.05, abs=0.02)
    gi = explain.saliency(model, x, y, method="gradient × input", versus=(y + 1) % 10)
    np.testing.assert_allclose(gi, g * x, atol=1e-6)


def test_occlusion_of_one_square_is_the_score_drop(model, mnist):
    """With a 28×28 patch there is one square: every pixel's value is the logit drop of a black image."""
    x, y = _clear_digits(model, mnist, 1)[0]
    s = explain.saliency(model, x, y, method="occlusion", patch=28)
    z, z0 = explain.logits(model, x[None])[0], explain.logits(model, np.zeros((1, 28, 28), np.float32))[0]
    np.testing.assert_allclose(s, np.full((28, 28), z[y] - z0[y]), rtol=1e-4, atol=1e-4)


def test_nearest_neighbours_match_brute_force_cosine(model, mnist):
    train = mnist.x_train[:2000]
    emb = explain.embed(model, train, batch=300)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    raw = np.asarray(explain.embedding_model(model)(train[..., None].astype("float32") / 255, training=False))
    q = raw[123]
    idx, dist = explain.nearest(emb, q, k=8)
    cos = 1 - (raw @ q) / (np.linalg.norm(raw, axis=1) * np.linalg.norm(q) + 1e-12)
    ref = np.argsort(cos, kind="stable")[:8]
    assert idx[0] == 123 and dist[0] == pytest.approx(0, abs=1e-5)
    np.testing.assert_allclose(dist, cos[ref], atol=1e-5)
    assert set(idx) == set(ref)
    assert (np.diff(dist) >= 0).all()
    # A clear test digit's neighbours mostly share its label
    x, y = _clear_digits(model, mnist, 1)[0]
    idx, _ = explain.nearest(emb, explain.embed(model, x[None])[0], k=8)
    assert (mnist.y_train[:2000][idx] == y).mean() >= 0.75


# ---------------------------------------------------------------- robustness
def _scipy_affine(img, angle=0.0, scale=1.0, dx=0.0, dy=0.0):
    """Independent reference: scipy's bilinear affine warp about the centre (13.5, 13.5)."""
    a = np.deg2rad(angle)
    # output (row, col) -> input (row, col): inverse of "rotate counter-clockwise on screen, scale, shift"
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])  # acts on (x, y) with y down
    inv = np.linalg.inv(scale * rot)
    c = np.array([13.5, 13.5])
    # in (x, y): in = inv @ (out - c - t) + c; convert to (row, col) = (y, x)
    m_xy = inv
    m_rc = m_xy[::-1, ::-1]
    t_rc = np.array([dy, dx])
    offset = c - m_rc @ (c + t_rc)
    return ndimage.affine_transform(img, m_rc, offset=offset, order=1, mode="constant", cval=0.0)


def test_distortions_agree_with_scipy(mnist):
    x = mnist.x_test[3].astype("float32") / 255
    for kw in (dict(angle=30), dict(angle=-15, scale=1.2), dict(scale=0.7), dict(dx=2.5, dy=-1.0)):
        d = robust.Distortion(rotation=kw.get("angle", 0.0), scale=kw.get("scale", 1.0), dx=kw.get("dx", 0.0),
                              dy=kw.get("dy", 0.0))
        np.testing.assert_allclose(robust.distort(x, d), _scipy_affine(x, **kw), atol=0.03)
    assert robust.distort(x, robust.Distortion()).tobytes() == x.tobytes()


def test_other_distortions():
    x = np.zeros((28, 28), np.float32)
    x[10:18, 13:15] = 1.0  # a 2-px stroke
    assert robust.distort(x, robust.Distortion(thickness=2)).sum() > x.sum() > robust.distort(
        x, robust.Distortion(thickness=-1)).sum()
    blurred = robust.distort(x, robust.Distortion(blur=1.0))
    assert blurred.max() < 1 and blurred.sum() == pytest.approx(x.sum(), rel=0.02)
    n1, n2 = (robust.distort(x, robust.Distortion(noise=0.2, seed=5)) for _ in range(2))
    assert (n1 == n2).all() and 0 <= n1.min() and n1.max() <= 1 and (n1 != x).mean() > 0.3


def test_robustness_curves_equal_accuracy_of_transformed_images(model, mnist):
    """Each curve point is the accuracy of test images transformed independently (numpy roll, scipy warps)."""
    n = 300
    imgs, labels = mnist.x_test[:n], mnist.y_test[:n]
    f = imgs.astype("float32") / 255
    classify = make_classifier(model)

    def acc(batch):
        return float((predict_probs(model, batch).argmax(1) == labels).mean())

    curves = robust.robustness_curves(classify, imgs, labels)
    assert set(curves) == {"rotation", "shift_x", "shift_y", "scale"}
    assert curves["rotation"]["values"][0] == -45 and curves["rotation"]["values"][-1] == 45

    def rolled(s, axis):  # integer shift with zero fill: exact
        out = np.roll(f, int(s), axis=axis)
        if s == 0:
            return out
        sl = [slice(None)] * 3
        sl[axis] = slice(0, int(s)) if s > 0 else slice(int(s), None)
        out[tuple(sl)] = 0
        return out

    for kind, axis in (("shift_x", 2), ("shift_y", 1)):
        c = curves[kind]
        assert c["accuracy"] == [acc(rolled(s, axis)) for s in c["values"]]
    for kind, kw in (("rotation", "angle"), ("scale", "scale")):
        c = curves[kind]
        for v, a in zip(c["values"][::3], c["accuracy"][::3]):
            ref = acc(np.stack([_scipy_affine(im, **{kw: v}) for im in f]))
            assert abs(a - ref) <= 3 / n, (kind, v, a, ref)  # bilinear rounding may flip a borderline digit
    zero = curves["rotation"]["values"].index(0.0)
    assert curves["rotation"]["accuracy"][zero] == acc(f)
    assert curves["rotation"]["accuracy"][zero] > curves["rotation"]["accuracy"][0] + 0.2
