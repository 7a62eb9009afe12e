"""Words and shingles: the one tokenisation every content figure uses (LANGUAGE.md, "Content quality").

A word is a maximal run of Unicode word characters (`\\w+`) in the lower-cased text: punctuation and whitespace
only separate words. A shingle of a text is a run of SHINGLE consecutive words (w-shingling, Broder 1997); a
text with fewer words has its whole word sequence as its one shingle, and a text with no words has none.
"""

from __future__ import annotations

import re
from typing import Sequence

SHINGLE = 3
_WORD = re.compile(r"\w+")


def words(text: str | None) -> list[str]:
    return _WORD.findall(text.lower()) if isinstance(text, str) and text else []


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(tokens[i:] for i in range(n))))


def shingles(text: str | None, size: int = SHINGLE) -> frozenset[str]:
    """The set of word `size`-grams of a text, each joined by a space (a shorter text: its words as one)."""
    return shingles_of(words(text), size)


def shingles_of(w: Sequence[str], size: int = SHINGLE) -> frozenset[str]:
    """shingles() of a text already split into words."""
    if not w:
        return frozenset()
    if len(w) < size:
        return frozenset([" ".join(w)])
    return frozenset(" ".join(w[i:i + size]) for i in range(len(w) - size + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    """|a & b| / |a | b|; 0 when either is empty (a text with no words resembles nothing)."""
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)
