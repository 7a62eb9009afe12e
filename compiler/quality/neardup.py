"""Near-duplicate texts: pairs whose word overlap (overlap.py, the near-copy measure) is above a threshold.

Up to EXACT_MAX texts every pair is found exactly (overlap.OverlapIndex.pairs: prefix filtering, each candidate
verified). Above it, MinHash LSH (datasketch) over the texts' word-occurrence sets proposes candidate pairs and
each is verified with the exact overlap, so a reported pair is always a true one; LSH may miss a true pair
(recall in bench/RESULTS.md). A pair above overlap t has a Jaccard resemblance of at least about t / (2 - t)
(c shared of at most n words each), so the LSH is tuned LSH_SLACK below that and weighted against misses.
Occurrences are hashed with CRC-32 (zlib: deterministic across processes); the permutations come from `seed`:
same texts and seed, same pairs.
"""

from __future__ import annotations

import zlib
from functools import lru_cache
from itertools import groupby
from typing import Sequence

import numpy as np
from datasketch import MinHash, MinHashLSH

from .overlap import OverlapIndex, copy_words, overlap

EXACT_MAX = 5000
NUM_PERM = 64
LSH_SLACK = 0.15
LSH_WEIGHTS = (0.1, 0.9)  # false positives, false negatives


def near_pairs(texts: Sequence[str | None], threshold: float, seed: int = 1,
               exact_max: int = EXACT_MAX) -> list[tuple[int, int, float]]:
    """Every pair (later index, earlier index, overlap) above `threshold`, sorted by later then earlier."""
    sets = [copy_words(t) for t in texts]
    if len(sets) <= exact_max:
        return OverlapIndex(sets).pairs(threshold)
    return _lsh_pairs(sets, threshold, seed)


def _lsh_pairs(sets: list[frozenset], threshold: float, seed: int) -> list[tuple[int, int, float]]:
    """MinHash LSH's candidates verified: the pairs of texts whose signatures agree on a whole band (datasketch
    picks the bands for the threshold and weights). The bands are matched for all texts at once (numpy: equal
    rows of each band grouped by np.unique), which proposes exactly the pairs that inserting the texts in order
    into a datasketch MinHashLSH and querying each before its insertion proposes, at a fraction of the cost."""
    bands = MinHashLSH(threshold=max(0.05, threshold / (2 - threshold) - LSH_SLACK), num_perm=NUM_PERM, weights=LSH_WEIGHTS).hashranges
    present = [i for i, s in enumerate(sets) if s]
    if len(present) < 2:
        return []
    hashes = MinHash.bulk([[x.encode("utf-8") for x in sets[i]] for i in present], num_perm=NUM_PERM,
                          seed=seed & 0xFFFFFFFF, hashfunc=zlib.crc32)
    signatures = np.stack([m.hashvalues for m in hashes])
    candidates: set[tuple[int, int]] = set()
    for start, end in bands:
        band = np.ascontiguousarray(signatures[:, start:end])
        _, group, sizes = np.unique(band.view(np.dtype((np.void, band.dtype.itemsize * (end - start)))).ravel(),
                                    return_inverse=True, return_counts=True)
        group = group.ravel()
        shared = np.flatnonzero(sizes[group] > 1)  # texts whose band another text has (most have none)
        order = shared[np.argsort(group[shared], kind="stable")]
        cuts = np.flatnonzero(np.diff(group[order])) + 1
        for members in np.split(order, cuts):
            if len(members) > 1:
                rows = [present[k] for k in members]  # ascending: the sort was stable over text order
                candidates.update((rows[b], rows[a]) for b in range(1, len(rows)) for a in range(b))
    out = []
    for i, j in sorted(candidates):
        s = overlap(sets[i], sets[j])
        if s > threshold:
            out.append((i, j, s))
    return out


def near_duplicate_rejects(texts: Sequence[str | None], threshold: float, seed: int = 1,
                           exact_max: int = EXACT_MAX) -> list[tuple[int, int, float]]:
    """The build's repair hook for near_unique(t, threshold): visiting the texts in the given order, each text
    above `threshold` to an earlier KEPT text is rejected (the first copy stays; a rejected text rejects
    nothing after it). Returns (rejected index, the kept index it copies, overlap), in index order; the
    kept index is the most similar kept earlier text (the earliest on a tie). Memoised: a build's repair, its
    near_unique check and its report's content section often pass the same column."""
    return list(_rejects(tuple(texts), threshold, seed, exact_max))


@lru_cache(maxsize=4)
def _rejects(texts: tuple, threshold: float, seed: int, exact_max: int) -> tuple[tuple[int, int, float], ...]:
    rejected: dict[int, tuple[int, float]] = {}
    for i, group in groupby(near_pairs(texts, threshold, seed, exact_max), key=lambda p: p[0]):
        kept = [(s, -j) for _, j, s in group if j not in rejected]
        if kept:
            s, neg_j = max(kept)
            rejected[i] = (-neg_j, s)
    return tuple((i, j, s) for i, (j, s) in sorted(rejected.items()))
