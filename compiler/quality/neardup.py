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
from itertools import groupby
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
from datasketch import MinHash, MinHashLSH
from datasketch import minhash as minhash_module

from .overlap import OverlapIndex, copy_words, overlap

EXACT_MAX = 5000
NUM_PERM = 64
LSH_SLACK = 0.15
LSH_WEIGHTS = (0.1, 0.9)  # false positives, false negatives
BATCH = 1024  # texts hashed at once (their words x NUM_PERM x 4 bytes: about 16 MB)


def near_pairs(texts: Sequence[str | None], threshold: float, seed: int = 1,
               exact_max: int = EXACT_MAX) -> list[tuple[int, int, float]]:
    """Every pair (later index, earlier index, overlap) above `threshold`, sorted by later then earlier.
    `texts` needs only len() and iteration (twice, above exact_max): a re-iterable stream of texts read from disk
    (generate.spool) holds in memory only the signatures and the candidates' word sets."""
    if len(texts) <= exact_max:
        return OverlapIndex([copy_words(t) for t in texts]).pairs(threshold)
    return _lsh_pairs(texts, threshold, seed, copy_words)


def _lsh_pairs(items: Iterable, threshold: float, seed: int,
               words: Callable[[Any], frozenset] = lambda s: s) -> list[tuple[int, int, float]]:
    """MinHash LSH's candidates verified: the pairs of texts whose signatures agree on a whole band (datasketch
    picks the bands for the threshold and weights). The bands are matched for all texts at once (numpy: equal
    rows of each band grouped by np.unique), which proposes exactly the pairs that inserting the texts in order
    into a datasketch MinHashLSH and querying each before its insertion proposes, at a fraction of the cost.
    `items` (word sets, or texts with `words` = copy_words) is read twice, BATCH at a time: once for the
    signatures (kept as uint32: datasketch's hash values are below 2^32), once for the candidates' word sets."""
    bands = MinHashLSH(threshold=max(0.05, threshold / (2 - threshold) - LSH_SLACK), num_perm=NUM_PERM, weights=LSH_WEIGHTS).hashranges
    present: list[int] = []
    parts = []
    for batch in _batches(enumerate(items)):
        sets = [(n, s) for n, s in ((n, words(t)) for n, t in batch) if s]
        if not sets:
            continue
        present += [n for n, _ in sets]
        parts.append(signatures_of([t for _, t in sets], seed))
    if len(present) < 2:
        return []
    signatures = np.concatenate(parts)
    del parts
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
    del signatures
    needed = {n for pair in candidates for n in pair}
    sets = {n: words(t) for batch in _batches(enumerate(items)) for n, t in batch if n in needed}
    out = []
    for i, j in sorted(candidates):
        s = overlap(sets[i], sets[j])
        if s > threshold:
            out.append((i, j, s))
    return out


def signatures_of(sets: Sequence[frozenset], seed: int) -> np.ndarray:
    """The MinHash signatures (NUM_PERM uint32 per set) datasketch's `MinHash.bulk` gives these non-empty word sets
    (CRC-32 of each word, seed & 0xFFFFFFFF), computed for all of them at once: datasketch's affine32 scheme (the
    MurmurHash3 finalizer, then a x h + b modulo 2^32, the minimum per permutation) over one array of every word,
    each set's minimum by np.minimum.reduceat. A test compares it with MinHash.bulk; another datasketch scheme
    falls back to it."""
    m = MinHash(num_perm=NUM_PERM, seed=seed & 0xFFFFFFFF, hashfunc=zlib.crc32)
    fmix = getattr(minhash_module, "_fmix", None)
    if m.scheme != "affine32" or fmix is None:
        hashes = MinHash.bulk([[x.encode("utf-8") for x in s] for s in sets], num_perm=NUM_PERM,
                              seed=seed & 0xFFFFFFFF, hashfunc=zlib.crc32)
        return np.stack([h.hashvalues for h in hashes]).astype(np.uint32)
    a, b = (np.asarray(p, dtype=np.uint32) for p in m.permutations)
    sizes = np.fromiter((len(s) for s in sets), dtype=np.int64, count=len(sets))
    crc = zlib.crc32
    hv = np.fromiter((crc(x.encode("utf-8")) for s in sets for x in s), dtype=np.uint32, count=int(sizes.sum()))
    with np.errstate(over="ignore"):
        phv = fmix(hv, 32)[:, None] * a + b  # uint32 arithmetic wraps: modulo 2^32, as datasketch's does
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    return np.minimum.reduceat(phv, starts, axis=0)


def _batches(pairs: Iterable, size: int = BATCH) -> Iterator[list]:
    batch = []
    for p in pairs:
        batch.append(p)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def near_duplicate_rejects(texts: Sequence[str | None], threshold: float, seed: int = 1,
                           exact_max: int = EXACT_MAX) -> list[tuple[int, int, float]]:
    """The build's repair hook for near_unique(t, threshold): visiting the texts in the given order, each text
    above `threshold` to an earlier KEPT text is rejected (the first copy stays; a rejected text rejects
    nothing after it). Returns (rejected index, the kept index it copies, overlap), in index order; the
    kept index is the most similar kept earlier text (the earliest on a tie)."""
    rejected: dict[int, tuple[int, float]] = {}
    for i, group in groupby(near_pairs(texts, threshold, seed, exact_max), key=lambda p: p[0]):
        kept = [(s, -j) for _, j, s in group if j not in rejected]
        if kept:
            s, neg_j = max(kept)
            rejected[i] = (-neg_j, s)
    return [(i, j, s) for i, (j, s) in sorted(rejected.items())]
