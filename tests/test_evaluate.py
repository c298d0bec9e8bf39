"""Metrics against scikit-learn / numpy computed independently; the misclassified list and its filters."""
import numpy as np
from sklearn.metrics import f1_score, precision_score

from lenet.evaluate import Evaluation, confusion_text


def _ev():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 300)
    probs = rng.random((300, 10)).astype("float32")
    probs[np.arange(300)[:200], y[:200]] += 5  # first 200 right, the rest random
    return Evaluation(y_true=y, probs=probs / probs.sum(1, keepdims=True))


def test_metrics_match_independent_computation():
    ev = _ev()
    pred = ev.probs.argmax(1)
    assert ev.accuracy == np.mean(pred == ev.y_true)
    conf = ev.confusion
    assert conf.shape == (10, 10) and conf.sum() == 300
    for t in range(10):
        for p in range(10):
            assert conf[t, p] == np.sum((ev.y_true == t) & (pred == p))
    rows = {r["class"]: r for r in ev.report_rows()}
    assert np.isclose(rows["macro avg"]["f1"], f1_score(ev.y_true, pred, average="macro"))
    assert np.isclose(rows["3"]["precision"], precision_score(ev.y_true, pred, labels=[3], average=None)[0])
    assert rows["weighted avg"]["support"] == 300


def test_misclassified_filters_match_confusion_cells():
    ev = _ev()
    conf = ev.confusion
    wrong = ev.misclassified()
    assert len(wrong) == conf.sum() - np.trace(conf)
    confs = [w["confidence"] for w in wrong]
    assert confs == sorted(confs, reverse=True)
    for t, p in [(1, 2), (5, 3), (9, 0)]:
        cell = ev.misclassified(true=t, pred=p)
        assert len(cell) == conf[t, p]
        assert all(w["true"] == t and w["pred"] == p and w["second"] != p for w in cell)
    assert len(ev.misclassified(true=4)) == conf[4].sum() - conf[4, 4]


def test_empty_and_text():
    ev = Evaluation(y_true=np.zeros(0, int), probs=np.zeros((0, 10)))
    assert ev.misclassified() == [] and ev.confusion.sum() == 0
    assert "true\\pred" in confusion_text(_ev().confusion)
