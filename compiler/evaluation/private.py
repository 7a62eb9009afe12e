"""Private? Each synthetic text's similarity to its nearest real text (docs/EVAL.md, "Private").

The measure is the word overlap of quality.overlap, exact, against every real text (quality.overlap.OverlapIndex):
the measure near_unique bounds within a dataset, here across the two sides.
`RealTexts` indexes a real column once; the build's repair hook (generate/repair.py) queries it every round.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..quality.overlap import OverlapIndex, copy_words
from .sides import rounded as _r

DEFAULT_THRESHOLD = 0.8
MEASURE = "word overlap (c+1)/(n+1), nearest real text"
BINS = 10
CLOSEST = 5
_SHOWN = 160


class RealTexts:
    """One real text column, indexed for nearest-real queries: `nearest(texts)`, and `row(j)` and `texts_of(js)` of
    the real text j a query found. quality.realindex.RealIndex answers the same for a file of any size."""

    exact_from = None  # exact at every similarity (RealIndex: exact at and above its floor)

    def __init__(self, texts: Sequence, rows: Sequence[int] = ()):
        self.texts = list(texts)
        self.rows = list(rows) or list(range(1, len(self.texts) + 1))
        self.index = OverlapIndex([copy_words(t) for t in self.texts])
        self._last: tuple = ((), None)

    def row(self, j: int) -> int:
        return int(self.rows[j])

    def texts_of(self, js: Sequence[int]) -> list:
        return [self.texts[j] for j in js]

    def nearest(self, texts: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """For each text, its highest overlap with a real text and that text's index (-1: none shares a word). The
        last answer is kept: eval's panel, the constraint's figure and its examples ask about the same column."""
        key = tuple(texts)
        if self._last[0] != key or self._last[1] is None:
            self._last = (key, self.index.nearest([copy_words(t) for t in texts]))
        return self._last[1]


def too_similar(sims: np.ndarray, threshold: float, strict: bool) -> np.ndarray:
    """The texts a bound `<= threshold` (or `< threshold` when strict) rejects."""
    return sims >= threshold if strict else sims > threshold


def private(texts: Sequence, rows: Sequence[int], real, threshold: float = DEFAULT_THRESHOLD) -> dict:
    """The figures of one text field: the nearest-real similarity's summary, histogram and closest pairs. `real`:
    RealTexts, or a quality.realindex.RealIndex (a large file: exact from its floor up, `exact_from` says so)."""
    sims, where = real.nearest(texts)
    present = np.array([isinstance(t, str) for t in texts], dtype=bool)
    s = sims[present]
    extra = {"exact_from": real.exact_from} if real.exact_from is not None else {}
    if not len(s):
        return {"texts": 0, "mean": None, "median": None, "p95": None, "max": None, "above": 0, "share_above": None,
                "histogram": [0] * BINS, "closest": [], **extra}
    hist = np.histogram(s, bins=BINS, range=(0.0, 1.0))[0]
    above = int((s > threshold).sum())
    idx = np.flatnonzero(present)
    order = [i for i in sorted(idx, key=lambda i: (-sims[i], i))[:CLOSEST] if where[i] >= 0]
    shown = real.texts_of([int(where[i]) for i in order])
    closest = [{"row": int(rows[i]), "real_row": real.row(int(where[i])), "similarity": _r(sims[i]),
                "text": _short(texts[i]), "real_text": _short(t)} for i, t in zip(order, shown)]
    return {"texts": int(len(s)), "mean": _r(s.mean()), "median": _r(np.median(s)), "p95": _r(np.quantile(s, 0.95)),
            "max": _r(s.max()), "above": above, "share_above": _r(above / len(s)),
            "histogram": [int(h) for h in hist], "closest": closest, **extra}


def _short(t) -> str:
    return t if not isinstance(t, str) or len(t) <= _SHOWN else t[:_SHOWN - 1] + "…"
