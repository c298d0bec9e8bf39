"""A least-recently-used map bounded by the bytes its values hold (numpy arrays counted, the rest nominal).

Used where ``st.cache_*`` does not fit: per-session caches (``ui.reading``) and server-wide caches whose first
computation reports progress to the page (``ui.inside``) — a cached function must not draw on the page.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import fields, is_dataclass

import numpy as np


def nbytes(obj) -> int:
    """Bytes held by the arrays in an object (dicts, lists, dataclasses, arrays): what a cache entry costs."""
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, dict):
        return sum(nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(nbytes(v) for v in obj)
    if is_dataclass(obj):
        return sum(nbytes(getattr(obj, f.name)) for f in fields(obj))
    return 64


class ByteLRU:
    """An LRU map holding at most ``budget`` bytes of values; thread-safe (a server-wide one is shared)."""

    def __init__(self, budget: int):
        self.budget = budget
        self.items: OrderedDict = OrderedDict()
        self.size = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key][0]
        return None

    def put(self, key, value) -> None:
        cost = nbytes(value)
        with self._lock:
            if key in self.items:
                self.size -= self.items.pop(key)[1]
            self.items[key] = (value, cost)
            self.size += cost
            while self.size > self.budget and len(self.items) > 1:  # the newest stays, even if alone over budget
                _, (_, c) = self.items.popitem(last=False)
                self.size -= c

    def forget(self, test) -> None:
        """Drop every entry whose key passes ``test``."""
        with self._lock:
            for k in [k for k in self.items if test(k)]:
                self.size -= self.items.pop(k)[1]
