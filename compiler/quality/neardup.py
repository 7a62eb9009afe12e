"""Near-duplicate texts: pairs whose word overlap (overlap.py, the near-copy measure) is above a threshold.

Exact on any number of texts: overlap.OverlapIndex finds every pair above the threshold (one sparse product over
the rarer words, popcounts over the frequent ones), so a reported pair is always a true one and none is missed.
`seed` is kept for callers; the pairs do not depend on it.
"""

from __future__ import annotations

from itertools import groupby
from typing import Sequence

from .overlap import OverlapIndex, copy_words


def near_pairs(texts: Sequence[str | None], threshold: float, seed: int = 1) -> list[tuple[int, int, float]]:
    """Every pair (later index, earlier index, overlap) above `threshold`, sorted by later then earlier."""
    return OverlapIndex([copy_words(t) for t in texts]).pairs(threshold)


def near_duplicate_rejects(texts: Sequence[str | None], threshold: float, seed: int = 1) -> list[tuple[int, int, float]]:
    """The build's repair hook for near_unique(t, threshold): visiting the texts in the given order, each text
    above `threshold` to an earlier KEPT text is rejected (the first copy stays; a rejected text rejects
    nothing after it). Returns (rejected index, the kept index it copies, overlap), in index order; the
    kept index is the most similar kept earlier text (the earliest on a tie)."""
    rejected: dict[int, tuple[int, float]] = {}
    for i, group in groupby(near_pairs(texts, threshold, seed), key=lambda p: p[0]):
        kept = [(s, -j) for _, j, s in group if j not in rejected]
        if kept:
            s, neg_j = max(kept)
            rejected[i] = (-neg_j, s)
    return [(i, j, s) for i, (j, s) in sorted(rejected.items())]
