"""Exact Jaccard resemblance between every pair of texts that share a shingle, by sparse matrix products.

Texts become rows of a 0/1 matrix over their shingles (tokens.shingles); X @ X.T counts the shingles each pair
shares, so |a & b| comes for every pair at once and |a | b| = |a| + |b| - |a & b|. Pairs that share no shingle
have resemblance 0 and never appear. Rows are taken CHUNK at a time so memory stays bounded.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
from scipy import sparse

CHUNK = 2048


def shingle_matrix(sets: Sequence[frozenset], vocab: dict[str, int] | None = None,
                   grow: bool = True) -> sparse.csr_matrix:
    """0/1 rows over the shingles of `vocab` (grown as met unless `grow` is False: unknown shingles are left out)."""
    vocab = {} if vocab is None else vocab
    indptr, indices = [0], []
    for s in sets:
        if grow:
            indices.extend(vocab.setdefault(x, len(vocab)) for x in sorted(s))
        else:
            indices.extend(sorted(vocab[x] for x in s if x in vocab))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.int32)
    return sparse.csr_matrix((data, np.array(indices, dtype=np.int64), np.array(indptr, dtype=np.int64)),
                             shape=(len(sets), max(len(vocab), 1)))


def similar_blocks(sets: Sequence[frozenset]) -> Iterator[tuple[int, sparse.coo_matrix]]:
    """(first row of the chunk, resemblance of each chunk row to every other row), pairs sharing a shingle."""
    x = shingle_matrix(sets)
    sizes = np.asarray(x.sum(axis=1)).ravel()
    xt = x.T.tocsc()
    for start in range(0, len(sets), CHUNK):
        inter = (x[start:start + CHUNK] @ xt).tocoo()
        rows, cols = inter.row + start, inter.col
        keep = rows != cols
        rows, cols, shared = rows[keep], cols[keep], inter.data[keep]
        sim = shared / (sizes[rows] + sizes[cols] - shared)
        yield start, sparse.coo_matrix((sim, (rows - start, cols)), shape=(min(CHUNK, len(sets) - start), len(sets)))


def nearest(sets: Sequence[frozenset]) -> np.ndarray:
    """For each text, its highest resemblance to any other text (0 when it shares no shingle with any)."""
    best = np.zeros(len(sets))
    for start, block in similar_blocks(sets):
        if block.nnz:
            best[start:start + block.shape[0]] = block.max(axis=1).toarray().ravel()
    return best


def nearest_within(sets: Sequence[frozenset], groupings: Sequence[Sequence]) -> list[np.ndarray]:
    """For each grouping (a group label per text) and each text, its highest resemblance to another text of its
    own group: `nearest` within every group, for every grouping from one pass of the sparse products."""
    keys = [np.unique(np.asarray([str(g) for g in grouping]), return_inverse=True)[1] for grouping in groupings]
    best = [np.zeros(len(sets)) for _ in groupings]
    for start, block in similar_blocks(sets):
        rows = block.row + start
        for k, b in zip(keys, best):
            same = k[rows] == k[block.col]
            np.maximum.at(b, rows[same], block.data[same])
    return best


def pairs_above(sets: Sequence[frozenset], threshold: float) -> list[tuple[int, int, float]]:
    """Every pair (i, j), i > j, whose resemblance is above `threshold`, in order of i then j."""
    out = []
    for start, block in similar_blocks(sets):
        hit = block.data > threshold
        for r, c, s in zip(block.row[hit] + start, block.col[hit], block.data[hit]):
            if r > c:
                out.append((int(r), int(c), float(s)))
    out.sort()
    return out


class NearestIndex:
    """The texts of one set (e.g. the real rows) indexed once, to find for each text of another set its most
    similar one: `query(sets)` -> (resemblance, index), index -1 when it shares no shingle with any. Exact, by the
    same sparse products; on a tie the lowest index wins."""

    def __init__(self, others: Sequence[frozenset]):
        self.vocab: dict[str, int] = {}
        self.y = shingle_matrix(others, self.vocab).T.tocsc()
        self.sizes = np.array([len(s) for s in others], dtype=np.float64)

    def query(self, sets: Sequence[frozenset]) -> tuple[np.ndarray, np.ndarray]:
        best, where = np.zeros(len(sets)), np.full(len(sets), -1, dtype=np.int64)
        if not len(self.sizes) or not sets:
            return best, where
        own = np.array([len(s) for s in sets], dtype=np.float64)
        x = shingle_matrix(sets, self.vocab, grow=False)
        for start in range(0, len(sets), CHUNK):
            inter = (x[start:start + CHUNK] @ self.y).tocoo()
            if not inter.nnz:
                continue
            rows, cols = inter.row + start, inter.col
            sim = inter.data / (own[rows] + self.sizes[cols] - inter.data)
            order = np.lexsort((cols, -sim, rows))
            first = order[np.unique(rows[order], return_index=True)[1]]
            best[rows[first]], where[rows[first]] = sim[first], cols[first]
        return best, where
