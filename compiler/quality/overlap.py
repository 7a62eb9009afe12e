"""The near-copy measure of `near_unique` and `max_similarity_to_real` (LANGUAGE.md, "Near-copies"): word overlap.

overlap(a, b) = (c + 1) / (n + 1), where c counts the words the two texts share (with repeats: a word twice in
each counts twice) and n is the number of words of the longer text; 0 when they share no word, 1 for the same
words in any order. A word here is a run of non-space characters, lower-cased, with punctuation stripped at
either end (`copy_words`), so `must-have` is one word and a changed word is one change. Chosen by measurement
(bench/nearcopy_bench.py, bench/RESULTS.md): at 0.8 it catches every one-word edit of a text of 5 or more words
((n-1+1)/(n+1) > 0.8 from n = 5), swapped attributions and reordered clauses, with under 1 in 1,000 distinct real
pairs above it.

Exact and fast on large sides: a text becomes a set of word occurrences (`w`, `w` again as a second one, ...).
The FREQUENT most common occurrences (of the indexed side) are bits of a few 64-bit words per text, the others
rows of a sparse matrix. Pairs sharing a rare occurrence come from one sparse product, with their frequent ones
counted by popcount; a text whose frequent words alone could beat its best candidate is compared with every
indexed text by popcount. So common words ("the", "for") never make the product dense.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Iterator, Sequence

import numpy as np
from scipy import sparse

FREQUENT = 128  # occurrences kept as bits (two 64-bit words per text)
CHUNK = 2048
VERIFY = 1 << 16  # candidate pairs verified at once (their rows of words: about 64 MB at 60 words a text)
BATCH = 64  # query texts compared with every indexed text at once (BATCH x indexed x 2 words of memory)
_EDGE = re.compile(r"^\W+|\W+$")


@lru_cache(maxsize=1 << 14)  # a text is measured by the build's repair, its checks and its report
def copy_words(text: str | None) -> frozenset[str]:
    """The word occurrences of a text: `word` for the first, `word\\x002` for the second, ..."""
    if not isinstance(text, str):
        return frozenset()
    seen: dict[str, int] = {}
    out = []
    strip = _EDGE.sub
    for raw in text.lower().split():
        w = raw if raw.isalnum() else strip("", raw)  # an all-alphanumeric word has no edge to strip
        if w:
            n = seen[w] = seen.get(w, 0) + 1
            out.append(w if n == 1 else f"{w}\x00{n}")
    return frozenset(out)


def overlap(a: frozenset, b: frozenset) -> float:
    c = len(a & b)
    return (c + 1) / (max(len(a), len(b)) + 1) if c else 0.0


class OverlapIndex:
    """The texts of one side (their copy_words sets) indexed once: `nearest(sets)` gives each query text's highest
    overlap with an indexed text and that text's index (-1: it shares no word with any; the lowest index on a
    tie); `pairs(threshold)` every pair of indexed texts above it."""

    def __init__(self, sets: Sequence[frozenset]):
        self.n = len(sets)
        df = Counter(x for s in sets for x in s)
        top = sorted(df, key=lambda x: (-df[x], x))[:FREQUENT]
        self.bit = {x: i for i, x in enumerate(top)}
        self.vocab: dict[str, int] = {}
        self.rare = self._rare(sets, grow=True)
        self.rare_t = self.rare.T.tocsc()
        self.bits = self._bits(sets)
        self.sizes = np.array([len(s) for s in sets], dtype=np.float64)
        self._sets = sets

    @property
    def _full(self) -> sparse.csr_matrix:
        """Every word occurrence of the indexed texts, frequent or not (for pairs)."""
        vocab: dict[str, int] = {}
        indptr, indices = [0], []
        for s in self._sets:
            indices.extend(sorted(vocab.setdefault(x, len(vocab)) for x in sorted(s)))
            indptr.append(len(indices))
        return sparse.csr_matrix((np.ones(len(indices), dtype=np.int32), np.array(indices, dtype=np.int64),
                                  np.array(indptr, dtype=np.int64)), shape=(len(self._sets), max(len(vocab), 1)))

    def _rare(self, sets, grow: bool) -> sparse.csr_matrix:
        indptr, indices = [0], []
        for s in sets:
            xs = [x for x in s if x not in self.bit]
            if grow:
                indices.extend(sorted(self.vocab.setdefault(x, len(self.vocab)) for x in sorted(xs)))
            else:
                indices.extend(sorted(self.vocab[x] for x in xs if x in self.vocab))
            indptr.append(len(indices))
        return sparse.csr_matrix((np.ones(len(indices), dtype=np.int32), np.array(indices, dtype=np.int64),
                                  np.array(indptr, dtype=np.int64)), shape=(len(sets), max(len(self.vocab), 1)))

    def _bits(self, sets) -> np.ndarray:
        out = np.zeros((len(sets), (FREQUENT + 63) // 64), dtype=np.uint64)
        for i, s in enumerate(sets):
            for x in s:
                b = self.bit.get(x)
                if b is not None:
                    out[i, b // 64] |= np.uint64(1) << np.uint64(b % 64)
        return out

    def _blocks(self, sets: Sequence[frozenset]) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                                   np.ndarray]]:
        """Per chunk of query texts: (start, rows, cols, overlap of the pairs sharing a rare word, query sizes,
        query bits)."""
        q = self._rare(sets, grow=False)
        qbits = self._bits(sets)
        own = np.array([len(s) for s in sets], dtype=np.float64)
        for start in range(0, len(sets), CHUNK):
            inter = (q[start:start + CHUNK] @ self.rare_t).tocoo()
            rows, cols = inter.row.astype(np.int64) + start, inter.col.astype(np.int64)
            shared = inter.data + np.bitwise_count(qbits[rows] & self.bits[cols]).sum(axis=1)
            sim = (shared + 1) / (np.maximum(own[rows], self.sizes[cols]) + 1)
            yield start, rows, cols, sim, own, qbits

    def _common(self, qbits: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """Overlap of each query text (rows of bits, with their sizes) with every indexed text, counting frequent
        words only: a (queries x indexed) matrix."""
        shared = np.bitwise_count(qbits[:, None, :] & self.bits[None, :, :]).sum(axis=2)
        return np.where(shared > 0, (shared + 1) / (np.maximum(sizes[:, None], self.sizes[None, :]) + 1), 0.0)

    def nearest(self, sets: Sequence[frozenset]) -> tuple[np.ndarray, np.ndarray]:
        best, where = np.zeros(len(sets)), np.full(len(sets), -1, dtype=np.int64)
        if not self.n or not len(sets):
            return best, where
        for start, rows, cols, sim, own, qbits in self._blocks(sets):
            if len(sim):
                order = np.lexsort((cols, -sim, rows))
                first = order[np.unique(rows[order], return_index=True)[1]]
                best[rows[first]], where[rows[first]] = sim[first], cols[first]
            end = min(start + CHUNK, len(sets))
            freq = np.bitwise_count(qbits[start:end]).sum(axis=1)
            # a pair sharing no rare word shares at most the query's frequent words
            bound = np.where(freq > 0, (freq + 1) / (own[start:end] + 1), 0.0)
            todo = np.flatnonzero(bound >= best[start:end]) + start
            for b in range(0, len(todo), BATCH):
                rows = todo[b:b + BATCH]
                common = self._common(qbits[rows], own[rows])
                js = np.argmax(common, axis=1)  # the lowest index among the best
                for i, j, c in zip(rows, js, common[np.arange(len(rows)), js]):
                    if c > best[i] or (c == best[i] and c > 0 and j < where[i]):
                        best[i], where[i] = c, j
        return best, where

    def pairs(self, threshold: float) -> list[tuple[int, int, float]]:
        """Every pair (i, j), i > j, of indexed texts whose overlap is above `threshold`, by i then j.

        By prefix filtering (Chaudhuri, Ganti & Kaushik 2006, "A Primitive Operator for Similarity Joins"; Bayardo
        et al. 2007, "Scaling Up All Pairs Similarity Search"): a pair above the threshold shares at least c words,
        c the least count that can beat it at the smaller text's size, so the two texts' prefixes of their rarest
        |A| - c + 1 words meet. Candidates come from a product of those short prefixes only; each is verified by
        its exact overlap. Exact, and sparse whatever the common words."""
        if self.n < 2:
            return []
        full = self._full
        sizes = self.sizes.astype(np.int64)
        need = np.floor(threshold * (sizes + 1) - 1).astype(np.int64) + 1  # least shared words that beat it
        keep = np.maximum(sizes - need + 1, 0)
        rank = np.asarray((full > 0).sum(axis=0)).ravel()  # document frequency of each word occurrence
        indptr, indices = [0], []
        for i in range(self.n):
            cols = full.indices[full.indptr[i]:full.indptr[i + 1]]
            order = cols[np.lexsort((cols, rank[cols]))][:keep[i]]
            indices.extend(order.tolist())
            indptr.append(len(indices))
        prefix = sparse.csr_matrix((np.ones(len(indices), dtype=np.int32), np.array(indices, dtype=np.int64),
                                    np.array(indptr, dtype=np.int64)), shape=full.shape)
        prefix_t = prefix.T.tocsc()
        out = []
        for start in range(0, self.n, CHUNK):
            cand = (prefix[start:start + CHUNK] @ prefix_t).tocoo()
            rows, cols = cand.row.astype(np.int64) + start, cand.col.astype(np.int64)
            lower = rows > cols
            rows, cols = rows[lower], cols[lower]
            if not len(rows):
                continue
            for at in range(0, len(rows), VERIFY):  # the candidates verified a slice at a time: bounded memory
                r, c = rows[at:at + VERIFY], cols[at:at + VERIFY]
                shared = np.asarray(full[r].multiply(full[c]).sum(axis=1)).ravel()
                sim = (shared + 1) / (np.maximum(self.sizes[r], self.sizes[c]) + 1)
                hit = (shared > 0) & (sim > threshold)
                out += [(int(i), int(j), float(x)) for i, j, x in zip(r[hit], c[hit], sim[hit])]
        return sorted(out)
