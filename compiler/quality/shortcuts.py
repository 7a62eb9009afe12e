"""Label shortcuts: how well a label is predicted from a text's surface form alone, and the words of each value.

shortcut_lift: features of the text's form only (length in words and characters, its first word and first two
words, counts of each punctuation mark, the shares of upper-case letters and of capitalised words) feed a
logistic regression (scikit-learn) scored by stratified k-fold cross-validation (k = 5, or the rarest value's
count when smaller; shuffled with random_state = the seed). The features are one-hot and scaled once over the
rows measured (an unsupervised step: a word only the held-out fold has gets no weight either way), and the
regression is fitted by SAGA (stochastic average gradient, Defazio et al. 2014; random_state = the seed): each
epoch is linear in the rows, where lbfgs's cost grew with rows x one-hot features (41 s of a 1,400-row
rebuild). It minimises the same L2-regularised multinomial loss; bench/shortcut_bench.py measures the two
solvers' agreement (bench/RESULTS.md). The score is balanced accuracy adjusted for chance
(sklearn `balanced_accuracy_score(adjusted=True)`): 0 for the majority baseline (always the most common value)
or a guess, 1 for perfect prediction. That is the lift over the majority baseline, on a 0..1 scale.

top_words: log-odds ratios with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008, eq. 16-22), each
value against all the other rows, the prior being the word shares of the whole column
weighted as PRIOR_SIZE words; z-scores, highest first.

Above SAMPLE rows, shortcut_lift is estimated on SAMPLE of them: the rows with the lowest md5("SEED:lift:ROW")
(ROW counting from 0 in row order), so the figure is deterministic by the seed and costs the same at any size.
"""

from __future__ import annotations

import hashlib
import string
import warnings
from collections import Counter
from functools import lru_cache
from typing import Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import MaxAbsScaler

from .sample import SAMPLE
from .tokens import words

FOLDS = 5
PRIOR_SIZE = 500.0
SOLVER = dict(solver="saga", max_iter=100, tol=1e-3)  # 100 epochs at most: linear in the rows


@lru_cache(maxsize=2 * SAMPLE)  # one text is measured against every label a prompt reads: its features once
def surface_features(text: str) -> dict[str, float]:
    w = words(text)
    raw = text.split()
    letters = [c for c in text if c.isalpha()]
    f: dict[str, float] = {"words": len(w), "chars": len(text),
                           "upper_share": sum(c.isupper() for c in letters) / len(letters) if letters else 0.0,
                           "capitalised_share": sum(x[:1].isupper() for x in raw) / len(raw) if raw else 0.0}
    if w:
        f["first=" + w[0]] = 1.0
        f["first2=" + " ".join(w[:2])] = 1.0
    for c, n in Counter(c for c in text if c in string.punctuation).items():
        f["punct=" + c] = n
    return f


def shortcut_lift(labels: Sequence, texts: Sequence[str | None], seed: int = 1) -> float | None:
    """Chance-adjusted balanced accuracy of a surface-form classifier; None with fewer than 2 values of 2 rows."""
    return _lift(tuple(labels), tuple(texts), seed)


@lru_cache(maxsize=4)  # one text column is measured against every label a prompt reads
def _features(texts: tuple):
    """The surface features of every text of a column (None: no features), one-hot, columns by feature name."""
    return DictVectorizer().fit_transform(surface_features(t) if t is not None else {} for t in texts).tocsr()


@lru_cache(maxsize=16)  # a build's constraint and its report measure the same (label, text) columns
def _lift(labels: tuple, texts: tuple, seed: int) -> float | None:
    pairs = [(str(y), t, i) for i, (y, t) in enumerate(zip(labels, texts)) if y is not None and t is not None]
    if len(pairs) > SAMPLE:
        pairs = [pairs[i] for i in sorted(sample_rows(len(pairs), SAMPLE, seed))]
    counts = Counter(y for y, _, _ in pairs)
    usable = {y for y, n in counts.items() if n >= 2}
    pairs = [p for p in pairs if p[0] in usable]
    if len(usable) < 2:
        return None
    y = np.array([p[0] for p in pairs])
    rows = _features(texts)[[p[2] for p in pairs]]
    rows = rows[:, np.flatnonzero(rows.getnnz(axis=0))]  # the features these rows have: as if vectorised alone
    x = MaxAbsScaler().fit_transform(rows)
    folds = StratifiedKFold(n_splits=min(FOLDS, min(counts[v] for v in usable)), shuffle=True,
                            random_state=seed & 0xFFFFFFFF)
    model = LogisticRegression(**SOLVER, random_state=seed & 0xFFFFFFFF)
    with warnings.catch_warnings():  # a tolerance not met in 100 epochs moves the figure by < 0.01 (bench)
        warnings.simplefilter("ignore", ConvergenceWarning)
        predicted = cross_val_predict(model, x, y, cv=folds)
    return float(balanced_accuracy_score(y, predicted, adjusted=True))


def sample_rows(n: int, k: int, seed: int) -> list[int]:
    """The k of rows 0..n-1 with the lowest md5("SEED:lift:ROW"), in that order."""
    return sorted(range(n), key=lambda i: hashlib.md5(f"{seed}:lift:{i}".encode()).digest())[:k]


def top_words(labels: Sequence, texts: Sequence[str | None], k: int = 5) -> dict[str, list[tuple[str, float]]]:
    """For each label value, up to k words with the highest log-odds z-score for it (only z > 1.96)."""
    split = _split(tuple(texts))
    pairs = [(str(y), w) for y, w in zip(labels, split) if y is not None and w is not None]
    vocab = sorted({x for _, w in pairs for x in w})
    if not vocab:
        return {}
    index = {x: n for n, x in enumerate(vocab)}
    values = sorted({y for y, _ in pairs})
    row = {v: n for n, v in enumerate(values)}
    at = np.fromiter((row[y] * len(vocab) + index[x] for y, w in pairs for x in w), dtype=np.int64)
    counts = np.bincount(at, minlength=len(values) * len(vocab)).reshape(len(values), len(vocab)).astype(float)
    prior = counts.sum(axis=0)
    a = prior * (PRIOR_SIZE / prior.sum())  # the prior's shares are the column's; its weight PRIOR_SIZE pseudo-words
    a0 = a.sum()
    out = {}
    for value in values:
        yi = counts[row[value]]
        yj = prior - yi
        ni, nj = yi.sum(), yj.sum()
        delta = (np.log((yi + a) / (ni + a0 - yi - a)) - np.log((yj + a) / (nj + a0 - yj - a)))
        z = delta / np.sqrt(1 / (yi + a) + 1 / (yj + a))
        order = sorted(np.flatnonzero(z > 1.96), key=lambda i: (-z[i], vocab[i]))
        out[value] = [(vocab[i], round(float(z[i]), 3)) for i in order[:k]]
    return out


@lru_cache(maxsize=4)  # one text column is measured against every label a prompt reads
def _split(texts: tuple) -> tuple[tuple[str, ...] | None, ...]:
    return tuple(None if t is None else tuple(words(t)) for t in texts)
