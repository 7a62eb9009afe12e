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
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
from scipy import sparse
from datasketch import MinHash, MinHashLSH
from datasketch import minhash as minhash_module

from .overlap import VERIFY, OverlapIndex, copy_words

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
    present_at = np.asarray(present, dtype=np.int64)
    del present
    groupings = [_groups(signatures, start, end) for start, end in bands]
    wanted = np.zeros(len(present_at), dtype=bool)  # texts (by row of `signatures`) sharing some band
    for order, _, _ in groupings:
        wanted[order] = True
    if not wanted.any():
        return []
    matrix = _word_matrix(items, words, present_at, wanted)
    row_of = np.cumsum(wanted) - 1  # a signature row's row in `matrix`
    sizes = np.diff(matrix.indptr)
    hits: list[tuple[int, int, float]] = []
    for k, (order, first, count) in enumerate(groupings):
        for later, earlier in _pairs(order, first, count):
            if k:  # a pair an earlier band proposed was verified there
                again = np.zeros(len(later), dtype=bool)
                for start, end in bands[:k]:
                    again |= (signatures[later, start:end] == signatures[earlier, start:end]).all(axis=1)
                later, earlier = later[~again], earlier[~again]
            r, c = row_of[later], row_of[earlier]
            shared = np.asarray(matrix[r].multiply(matrix[c]).sum(axis=1, dtype=np.int64)).ravel()
            sim = (shared + 1) / (np.maximum(sizes[r], sizes[c]) + 1)
            hit = (shared > 0) & (sim > threshold)
            hits += zip(present_at[later[hit]].tolist(), present_at[earlier[hit]].tolist(), sim[hit].tolist())
    return sorted(hits)


def _groups(signatures: np.ndarray, start: int, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One band's groups of two or more texts with equal band values: the texts' rows in `signatures`, grouped and
    ascending within a group (`order`), where each group starts in `order` (`first`) and its size (`count`)."""
    band = np.ascontiguousarray(signatures[:, start:end])
    _, group, sizes = np.unique(band.view(np.dtype((np.void, band.dtype.itemsize * (end - start)))).ravel(),
                                return_inverse=True, return_counts=True)
    group = group.ravel()
    shared = np.flatnonzero(sizes[group] > 1)  # texts whose band another text has (most have none)
    order = shared[np.argsort(group[shared], kind="stable")]  # by group, ascending within: the sort is stable
    if not len(order):
        return order, order, order
    first = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])
    count = np.diff(np.r_[first, len(order)])
    small = np.int32 if len(signatures) < 2 ** 31 else np.int64  # kept for every band: half the bytes
    return order.astype(small), first.astype(small), count.astype(small)


def _pairs(order: np.ndarray, first: np.ndarray, count: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every (later, earlier) pair of rows within each group, about VERIFY pairs at a time, so a band whose
    groups are large (texts sharing many words) never holds all its pairs at once."""
    for size in np.unique(count).tolist():  # every group of one size at once
        b, a = np.tril_indices(size, -1)
        starts = first[count == size]
        per = max(1, VERIFY // len(b))
        for at in range(0, len(starts), per):
            members = order[starts[at:at + per][:, None] + np.arange(size)]
            for lo in range(0, len(b), VERIFY):  # one group above VERIFY pairs: a slice of its pairs at a time
                yield members[:, b[lo:lo + VERIFY]].ravel(), members[:, a[lo:lo + VERIFY]].ravel()


def _word_matrix(items: Iterable, words: Callable[[Any], frozenset], present_at: np.ndarray, wanted: np.ndarray
                 ) -> sparse.csr_matrix:
    """The wanted texts' word sets (a second pass over `items`) as one sparse matrix of word ids, a row per wanted
    text in order (5 bytes a word, not a Python set): row products count shared words exactly as set
    intersections do."""
    want = np.zeros(int(present_at[-1]) + 1, dtype=bool)
    want[present_at[wanted]] = True
    vocab: dict[str, int] = {}
    parts, lengths = [], []  # numpy per batch: a Python list of every word id was 36 bytes a word
    for batch in _batches(enumerate(items)):
        ids: list[int] = []
        for n, t in batch:
            if n < len(want) and want[n]:
                got = sorted(vocab.setdefault(x, len(vocab)) for x in words(t))
                ids += got
                lengths.append(len(got))
        parts.append(np.asarray(ids, dtype=np.int32))
    indices = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
    indptr = np.concatenate(([0], np.cumsum(np.asarray(lengths, dtype=np.int64))))
    return sparse.csr_matrix((np.ones(len(indices), dtype=np.int8), indices, indptr),
                             shape=(len(lengths), max(len(vocab), 1)))


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
