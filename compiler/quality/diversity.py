"""Diversity of one text column: distinct-n, compression ratio, self-similarity (LANGUAGE.md, "Content quality").

Each takes the column's texts (None for a missing value, skipped) and returns a number, or None when the texts
give nothing to measure (no words at all), which a constraint treats like SQL's NULL: it fails.
"""

from __future__ import annotations

import gzip
from typing import Sequence

import numpy as np

from .similarity import nearest
from .tokens import ngrams, shingles, words


def distinct_n(texts: Sequence[str | None], n: int) -> float | None:
    """Distinct word n-grams over all n-grams of all texts (Li et al. 2016); an n-gram does not cross texts."""
    return distinct_n_words([words(t) for t in texts], n)


def distinct_n_words(tokenised: Sequence[Sequence[str]], n: int) -> float | None:
    """distinct_n over texts already split into words (tokens.words)."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for w in tokenised:
        grams = ngrams(w, n)
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else None


def compression_ratio(texts: Sequence[str | None]) -> float | None:
    """UTF-8 size of the texts joined by newlines over its gzip size (Shaib et al. 2024): 1 is no repetition,
    higher is more repetitive. gzip level 9 with mtime 0, so the figure depends on the texts alone."""
    present = [t for t in texts if isinstance(t, str) and t]
    if not present:
        return None
    raw = "\n".join(present).encode("utf-8")
    return len(raw) / len(gzip.compress(raw, compresslevel=9, mtime=0))


def self_similarity(texts: Sequence[str | None]) -> float | None:
    """Mean over the texts with words of each one's highest word-shingle Jaccard resemblance to another text."""
    return self_similarity_sets([shingles(t) for t in texts])


def self_similarity_sets(sets: Sequence[frozenset]) -> float | None:
    """self_similarity over the texts' shingle sets (tokens.shingles)."""
    sets = [s for s in sets if s]
    if len(sets) < 2:
        return None
    return float(np.mean(nearest(sets)))
