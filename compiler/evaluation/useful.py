"""Useful? Train on synthetic, test on real (docs/EVAL.md, "Useful").

A classifier of a label from a text (TF-IDF of word 1-2-grams and a logistic regression, saga) is trained on (a)
the synthetic rows, (b) the real training rows, (c) both, and each is tested on the same held-out real rows. Each
model learns its own vocabulary and idf from its own training rows: exactly a scikit-learn
`make_pipeline(TfidfVectorizer(...), LogisticRegression(...))` fitted per model (`pipeline` builds that reference;
the suite checks the two agree). Every text is tokenised once and a model's rows and columns are cut out of the
one count matrix (an n-gram its training rows lack is no column of it), which is the same arithmetic and keeps
100,000 rows fast.

Repetition k trains on the rows of each training set with int(md5("SEED:tstr:k:SIDE:ROW")[:8], 16) < 0.8 * 2^32;
the test set never changes. Uncertainty: a paired percentile bootstrap over the test rows (Efron & Tibshirani
1993, "An Introduction to the Bootstrap", ch. 13), resample b scored with repetition b mod N, so the interval holds
both the test-set noise and the training-row noise. tstr_lift is the interval's lower bound: the lift the data
supports at 95%. A test set too small to decide, or degenerate synthetic rows, give no value (the gate fails) and
say why.
"""

from __future__ import annotations

import hashlib
from typing import Optional, Sequence

import numpy as np

from .sides import key, rounded as _r

KEEP = 0.8  # of each training set, per repetition
MODELS = ("synthetic", "real", "real+synthetic")
DEFAULT_SEEDS = 3
SAGA_EPOCHS = 100
NGRAMS = (1, 2)
TOKENS = r"(?u)\b\w+\b"
BOOTSTRAP = 1000  # resamples of the test rows
LEVEL = 0.95
MIN_TEST = 30  # held-out rows a usefulness figure needs to decide anything
MIN_CLASS = 5  # held-out rows each label of the test set needs
MIN_DISTINCT = 0.1  # near-constant: fewer distinct synthetic texts than this share of the rows (and at least 2)


def _kept(seed: int, k: int, side: str, rows: Sequence[int]) -> list[bool]:
    limit = int(KEEP * 2**32)
    return [int(hashlib.md5(f"{seed}:tstr:{k}:{side}:{r}".encode()).hexdigest()[:8], 16) < limit for r in rows]


def _pairs(labels: Sequence, texts: Sequence, rows: Sequence[int]) -> list[tuple[str, str, int]]:
    return [(key(y), t, r) for y, t, r in zip(labels, texts, rows) if y is not None and isinstance(t, str)]


def _lr(seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(solver="saga", tol=1e-3, max_iter=SAGA_EPOCHS, random_state=seed & 0xFFFFFFFF)


def pipeline(seed: int):
    """The reference method: TfidfVectorizer and LogisticRegression fitted on one model's training texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(ngram_range=NGRAMS, token_pattern=TOKENS, sublinear_tf=True), _lr(seed))


def counts(texts: Sequence[str]):
    """Word 1-2-gram counts of every text, one vocabulary (sorted, as CountVectorizer keeps it)."""
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(ngram_range=NGRAMS, token_pattern=TOKENS, dtype=np.float64).fit_transform(texts).tocsr()


class Fitted:
    """TF-IDF + logistic regression learnt on some rows of a count matrix: the columns (n-grams) those rows have,
    their idf, and the model; other rows are scored on those columns only. The same as a TfidfVectorizer fitted on
    the training texts, whose vocabulary is exactly their n-grams in sorted order."""

    def __init__(self, train, labels, seed: int):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.feature_extraction.text import TfidfTransformer

        self.columns = np.flatnonzero(np.asarray((train > 0).sum(axis=0)).ravel())
        self.classes = np.array(sorted(set(labels)))
        if not len(self.columns):  # no training text has a word: no vocabulary, the most frequent label always
            counts = {c: list(labels).count(c) for c in self.classes}
            self.constant = max(self.classes, key=lambda c: (counts[c], -list(self.classes).index(c)))
            self.prior = np.array([counts[c] / len(labels) for c in self.classes])
            return
        self.constant = None
        own = train[:, self.columns]
        self.tfidf = TfidfTransformer(sublinear_tf=True).fit(own)
        self.model = _lr(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # a bounded fit is the contract (docs/EVAL.md)
            self.model.fit(self.tfidf.transform(own), labels)

    def features(self, x):
        return self.tfidf.transform(x[:, self.columns])

    def predict(self, x):
        if self.constant is not None:
            return np.array([self.constant] * x.shape[0], dtype=object)
        return self.model.predict(self.features(x))

    def predict_proba(self, x):
        if self.constant is not None:
            return np.tile(self.prior, (x.shape[0], 1))
        return self.model.predict_proba(self.features(x))


def undecidable(test_labels: Sequence[str]) -> Optional[str]:
    """Why a test set cannot decide a usefulness figure (docs/EVAL.md, "Too small to decide"), or None."""
    n = len(test_labels)
    if n < MIN_TEST:
        return (f"the test set has {n} held-out real rows, fewer than {MIN_TEST}: too few to decide; hold out more "
                "(a larger `holdout`) or give more real rows")
    per = {}
    for y in test_labels:
        per[y] = per.get(y, 0) + 1
    small = sorted(v for v, c in per.items() if c < MIN_CLASS)
    if small:
        return (f"label{'s' if len(small) > 1 else ''} {', '.join(f'`{v}`' for v in small[:5])} "
                f"ha{'ve' if len(small) > 1 else 's'} fewer than {MIN_CLASS} held-out real rows: too few to decide; "
                "hold out more (a larger `holdout`) or give more real rows of that label")
    return None


def degenerate(labels: Sequence[str], texts: Sequence[str]) -> Optional[str]:
    """Why synthetic training rows cannot show usefulness (empty, constant or near-constant texts, one label)."""
    from ..quality.tokens import words

    n = len(texts)
    if n == 0:
        return "no synthetic rows with a label and a text"
    if len(set(labels)) < 2:
        return f"the synthetic rows have a single label (`{labels[0]}`)"
    tokens = [tuple(words(t)) for t in texts]
    empty = sum(1 for t in tokens if not t)
    if empty * 2 > n:
        return f"{empty:,} of {n:,} synthetic texts have no word (empty or punctuation only)"
    distinct = len(set(tokens))
    if distinct < max(2, MIN_DISTINCT * n):
        return (f"the synthetic texts are near-constant: {distinct:,} distinct of {n:,} "
                f"(fewer than {MIN_DISTINCT:.0%})")
    return None


def _f1(onehot_y: np.ndarray, onehot_p: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Macro-F1 per resample: weights (B x n) counts of each test row in each resample; 0 for an empty class."""
    tp = weights @ (onehot_y * onehot_p)
    fp = weights @ ((1 - onehot_y) * onehot_p)
    fn = weights @ (onehot_y * (1 - onehot_p))
    den = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, den, out=np.zeros_like(tp), where=den > 0)
    return f1.mean(axis=1)


def useful(syn_labels, syn_texts, syn_rows, real_labels, real_texts, real_rows, held: Sequence[bool], seed: int,
           seeds: int = DEFAULT_SEEDS, excluded: Sequence[bool] = ()) -> dict:
    """The three models' macro-F1 (with intervals) and per-class F1 on the held-out real rows, the lift of (c)
    over (b) with its interval, and `gate`: the value of tstr_lift (None, with `undecided`, when it cannot be
    decided). `real_rows`: each real row's content key (sides.Side.keys), which orders the real rows and draws
    each repetition's training rows. `excluded`: synthetic rows left out of training (contamination, aligned with
    syn_rows)."""
    from sklearn.metrics import f1_score

    drop = set(r for r, x in zip(syn_rows, excluded) if x)
    syn = [p for p in _pairs(syn_labels, syn_texts, syn_rows) if p[2] not in drop]
    # real rows in the order of their content keys (real_rows): any order of the same file gives the same figures
    real = sorted(((key(y), t, r, h) for y, t, r, h in zip(real_labels, real_texts, real_rows, held)
                   if y is not None and isinstance(t, str)), key=lambda x: (x[2], x[1], x[0]))
    test = [(y, t) for y, t, _, h in real if h]
    train_real = [(y, t, r) for y, t, r, h in real if not h]
    out: dict = {"seeds": seeds, "test_rows": len(test), "train_rows": {"real": len(train_real), "synthetic": len(syn)},
                 "method": {"bootstrap": BOOTSTRAP, "level": LEVEL, "min_test_rows": MIN_TEST,
                            "min_class_rows": MIN_CLASS}}
    if not test or len({y for y, _ in test}) < 2:
        return {**out, "skipped": "the held-out real rows have fewer than 2 labels", "gate": None,
                "undecided": "the held-out real rows have fewer than 2 labels: hold out more real rows"}
    labels = sorted({y for y, _ in test})
    ty = [y for y, _ in test]
    cx = counts([t for _, t, _ in syn] + [t for _, t, _ in train_real] + [t for _, t in test])
    ns, nr = len(syn), len(train_real)
    sc, rc, tc = cx[:ns], cx[ns:ns + nr], cx[ns + nr:]
    from scipy import sparse

    preds: dict[str, list[Optional[np.ndarray]]] = {m: [] for m in MODELS}
    for k in range(seeds):
        ks = np.flatnonzero(_kept(seed, k, "synthetic", [r for *_, r in syn]))
        kr = np.flatnonzero(_kept(seed, k, "real", [r for *_, r in train_real]))
        sy, ry = [syn[i][0] for i in ks], [train_real[i][0] for i in kr]
        for name, x, y in (("synthetic", sc[ks], sy), ("real", rc[kr], ry),
                           ("real+synthetic", sparse.vstack([rc[kr], sc[ks]]).tocsr(), ry + sy)):
            preds[name].append(Fitted(x, y, seed + k).predict(tc) if len(set(y)) >= 2 else None)
    # the bootstrap: resample b draws the test rows with replacement and is scored with repetition b mod seeds
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 19])
    n = len(test)
    draws = rng.integers(0, n, size=(BOOTSTRAP, n))
    weights = np.zeros((BOOTSTRAP, n))
    np.add.at(weights, (np.repeat(np.arange(BOOTSTRAP), n), draws.ravel()), 1.0)
    rep = np.arange(BOOTSTRAP) % seeds
    onehot_y = (np.array(ty)[:, None] == np.array(labels)[None, :]).astype(np.float64)
    models, boot, raw = {}, {}, {}
    for name in MODELS:
        runs, per_class = raw.setdefault(name, []), []
        b = np.full(BOOTSTRAP, np.nan)
        for k, p in enumerate(preds[name]):
            if p is None:
                runs.append(None)
                per_class.append([None] * len(labels))
                continue
            per = f1_score(ty, p, labels=labels, average=None, zero_division=0)
            runs.append(float(np.mean(per)))
            per_class.append([float(v) for v in per])
            onehot_p = (np.asarray(p)[:, None] == np.array(labels)[None, :]).astype(np.float64)
            mine = rep == k
            b[mine] = _f1(onehot_y, onehot_p, weights[mine])
        boot[name] = b
        models[name] = {"macro_f1": {**_spread(runs), **_interval(b)},
                        "per_class_f1": {v: _mean([pc[i] for pc in per_class]) for i, v in enumerate(labels)}}
    runs = [None if c is None or r is None else c - r for c, r in zip(raw["real+synthetic"], raw["real"])]
    lift = {**_spread(runs), **_interval(boot["real+synthetic"] - boot["real"])}
    why = undecidable(ty) or degenerate([y for y, _, _ in syn], [t for _, t, _ in syn])
    gate = None if why else lift.get("low")
    return {**out, "labels": labels, "models": models, "lift": lift, "gate": gate,
            **({"undecided": why} if why else {})}


def _interval(b: np.ndarray) -> dict:
    if np.isnan(b).any():
        return {"low": None, "high": None}
    lo, hi = np.quantile(b, [(1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2])
    return {"low": _r(lo), "high": _r(hi)}


def _spread(xs: list) -> dict:
    if any(x is None for x in xs) or not xs:
        return {"mean": None, "min": None, "max": None, "runs": [None if x is None else _r(x) for x in xs]}
    return {"mean": _r(np.mean(xs)), "min": _r(min(xs)), "max": _r(max(xs)), "runs": [_r(x) for x in xs]}


def _mean(xs: list):
    return None if any(x is None for x in xs) or not xs else _r(np.mean(xs))
