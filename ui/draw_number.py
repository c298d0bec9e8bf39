"""Draw page, number mode: the digits written on the wide canvas, read left to right.

The canvas is one line of digits, white ink on black: ``lenet.segment`` finds the digits (with the polarity known,
not guessed) and every row it may split them into is merged back into one line, ordered by x.
"""
from __future__ import annotations

import numpy as np

from lenet.preprocess import LIGHT_ON_DARK, preprocess
from lenet.page import DOUBT_CONFIDENCE


def read_number(model, img: np.ndarray, style: str, scale: float) -> list[dict]:
    """(H, W, 4) RGBA canvas -> one dict per digit, left to right: box, digit, confidence, doubtful, x, crop."""
    from lenet.infer import predict_probs
    from lenet.io import to_grey
    from lenet.segment import crop_digits, find_digits

    grey = to_grey(np.asarray(img))
    rows = find_digits(grey, polarity=LIGHT_ON_DARK)
    boxes = sorted((b for row in rows for b in row), key=lambda b: b[0])  # one line: a taller digit is no new row
    if not boxes:
        return []
    crops = crop_digits(grey, [boxes])[0]
    pres = [preprocess(c, style, scale, polarity=LIGHT_ON_DARK) for c in crops]
    keep = [i for i, p in enumerate(pres) if not p.empty]
    if not keep:
        return []
    probs = np.asarray(predict_probs(model, np.stack([pres[i].x for i in keep])), np.float32).reshape(len(keep), -1)
    out = []
    for i, pr in zip(keep, probs):
        d = int(pr.argmax())
        out.append({"box": boxes[i], "digit": d, "confidence": float(pr[d]), "doubtful": float(pr[d]) <
                    DOUBT_CONFIDENCE, "x": pres[i].x, "crop": crops[i], "probs": pr})
    return out
