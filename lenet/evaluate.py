"""Metrics for any labelled set of digits: accuracy, per-class report, confusion matrix, misclassified list.

The same functions serve the MNIST test set and a user's own labelled uploads.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix

from .config import NUM_CLASSES

LABELS = list(range(NUM_CLASSES))


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows whose arg-max class equals the label (NaN for an empty set): the one accuracy computation.

    Args:
        probs: (N, 10) class probabilities (or scores).
        labels: (N,) int.
    """
    labels = np.asarray(labels)
    if not len(labels):
        return float("nan")
    return float((np.asarray(probs).argmax(axis=1) == labels).mean())


@dataclass
class Evaluation:
    """Results of a model on a labelled set; ``probs`` row i belongs to image i of that set."""

    y_true: np.ndarray  # (N,) int
    probs: np.ndarray  # (N, 10) float32

    @property
    def y_pred(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    @property
    def accuracy(self) -> float:
        return accuracy(self.probs, self.y_true)

    @property
    def confusion(self) -> np.ndarray:
        """(10, 10) counts, rows = true class, columns = predicted class."""
        if not len(self.y_true):
            return np.zeros((NUM_CLASSES, NUM_CLASSES), int)
        return confusion_matrix(self.y_true, self.y_pred, labels=LABELS)

    def report(self) -> dict:
        """scikit-learn's classification report as a dict: "0".."9", "macro avg", "weighted avg", "accuracy"."""
        return classification_report(self.y_true, self.y_pred, labels=LABELS, output_dict=True, zero_division=0,
                                      target_names=[str(c) for c in LABELS])

    def report_rows(self) -> list[dict]:
        """The report as table rows: class, precision, recall, f1, support (classes, then the averages)."""
        rep = self.report()
        rows = []
        for key in [str(c) for c in LABELS] + ["macro avg", "weighted avg"]:
            r = rep[key]
            rows.append({"class": key, "precision": r["precision"], "recall": r["recall"],
                         "f1": r["f1-score"], "support": int(r["support"])})
        return rows

    def misclassified(self, true: int | None = None, pred: int | None = None, sort: str = "confidence_desc"
                      ) -> list[dict]:
        """Wrongly classified items, optionally only those with a given true and/or predicted class.

        Args:
            true: keep only this true class (None = all).
            pred: keep only this predicted class (None = all).
            sort: "confidence_desc" (most confident mistakes first), "confidence_asc" or "index".

        Returns:
            Dicts with index, true, pred, confidence, second (runner-up class) and second_prob.
        """
        return self.items(true, pred, sort, correct=False)

    def items(self, true: int | None = None, pred: int | None = None, sort: str = "confidence_desc",
              correct: bool = False) -> list[dict]:
        """The items of a confusion row, column or cell: the misclassified ones, or with ``correct`` the right ones
        (a diagonal cell). Arguments and returned dicts as ``misclassified``."""
        y_pred = self.y_pred
        mask = (y_pred == self.y_true) if correct else (y_pred != self.y_true)
        if true is not None:
            mask &= self.y_true == true
        if pred is not None:
            mask &= y_pred == pred
        idx = np.flatnonzero(mask)
        order2 = np.argsort(-self.probs[idx], axis=1)[:, :2] if len(idx) else np.zeros((0, 2), int)
        items = [{"index": int(i), "true": int(self.y_true[i]), "pred": int(y_pred[i]),
                  "confidence": float(self.probs[i, y_pred[i]]), "second": int(o[1]),
                  "second_prob": float(self.probs[i, o[1]])} for i, o in zip(idx, order2)]
        if sort == "confidence_desc":
            items.sort(key=lambda r: -r["confidence"])
        elif sort == "confidence_asc":
            items.sort(key=lambda r: r["confidence"])
        return items

    def summary(self) -> dict:
        """JSON-ready: accuracy, report and confusion (what run metadata and ``evaluate --json`` hold)."""
        return {"accuracy": self.accuracy, "n": int(len(self.y_true)), "report": self.report(),
                "confusion": self.confusion.tolist()}


def evaluate_model(model, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Run ``model`` over labelled images.

    Args:
        model: a serving model (``lenet.infer.load_serving``) or a Keras model.
        images: (N, 28, 28) uint8 MNIST-style, or float32 in [0, 1].
        labels: (N,) int.
    """
    from .infer import predict_probs

    return Evaluation(y_true=np.asarray(labels).astype(int), probs=predict_probs(model, images))


def confusion_text(conf: np.ndarray) -> str:
    """A confusion matrix as aligned text (rows true, columns predicted)."""
    conf = np.asarray(conf)
    width = max(4, len(str(conf.max())) + 1)
    head = "true\\pred" + "".join(f"{c:>{width}}" for c in LABELS)
    lines = [head] + [f"{r:>9}" + "".join(f"{v:>{width}}" for v in row) for r, row in enumerate(conf)]
    return "\n".join(lines)
