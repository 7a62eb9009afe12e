"""Useful? Train on synthetic, test on real (docs/EVAL.md, "Useful").

A classifier of a label from a text (TF-IDF of word 1-2-grams, weights learnt on the training rows, and a
logistic regression, saga) is trained on (a) the synthetic rows, (b) the real training rows, (c) both, and each
is tested on the same held-out real rows. Repetition k trains on the rows of each training set with
int(md5("SEED:tstr:k:SIDE:ROW")[:8], 16) < 0.8 * 2^32; the test set never changes. The lift is
macro-F1(c) - macro-F1(b), per repetition; tstr_lift is its mean.
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


def _kept(seed: int, k: int, side: str, rows: Sequence[int]) -> list[bool]:
    limit = int(KEEP * 2**32)
    return [int(hashlib.md5(f"{seed}:tstr:{k}:{side}:{r}".encode()).hexdigest()[:8], 16) < limit for r in rows]


def _pairs(labels: Sequence, texts: Sequence, rows: Sequence[int]) -> list[tuple[str, str, int]]:
    return [(key(y), t, r) for y, t, r in zip(labels, texts, rows) if y is not None and isinstance(t, str)]


def fit_tfidf_lr(train, labels, seed: int):
    """TF-IDF weights learnt on the training rows' n-gram counts and a logistic regression on them: counts (rows
    of one vocabulary) -> the fitted (tfidf, model). saga: stochastic, linear in the rows, at most SAGA_EPOCHS
    passes, so a fit whose classes overlap (real and synthetic alike, random labels) stays bounded."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    tfidf = TfidfTransformer(sublinear_tf=True).fit(train)
    model = LogisticRegression(solver="saga", tol=1e-3, max_iter=SAGA_EPOCHS, random_state=seed & 0xFFFFFFFF)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a bounded fit is the contract (docs/EVAL.md)
        return tfidf, model.fit(tfidf.transform(train), labels)


def useful(syn_labels, syn_texts, syn_rows, real_labels, real_texts, real_rows, held: Sequence[bool], seed: int,
           seeds: int = DEFAULT_SEEDS) -> dict:
    """The three models' macro-F1 and per-class F1 on the held-out real rows, and the lift of (c) over (b)."""
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.metrics import f1_score

    syn = _pairs(syn_labels, syn_texts, syn_rows)
    real = [(key(y), t, r, h) for y, t, r, h in zip(real_labels, real_texts, real_rows, held)
            if y is not None and isinstance(t, str)]
    test = [(y, t) for y, t, _, h in real if h]
    train_real = [(y, t, r) for y, t, r, h in real if not h]
    out: dict = {"seeds": seeds, "test_rows": len(test), "train_rows": {"real": len(train_real), "synthetic": len(syn)}}
    if not test or len({y for y, _ in test}) < 2:
        return {**out, "skipped": "the held-out real rows have fewer than 2 labels"}
    labels = sorted({y for y, _ in test})
    ty = [y for y, _ in test]
    # every text is tokenised once; a word no training row has gets no weight, so one vocabulary serves all models
    counts = CountVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b", dtype=np.float64).fit_transform(
        [t for _, t, _ in syn] + [t for _, t, _ in train_real] + [t for _, t in test]).tocsr()
    ns, nr = len(syn), len(train_real)
    sc, rc, tc = counts[:ns], counts[ns:ns + nr], counts[ns + nr:]
    runs: dict[str, list[tuple[Optional[float], list]]] = {m: [] for m in MODELS}
    for k in range(seeds):
        ks = np.flatnonzero(_kept(seed, k, "synthetic", [r for *_, r in syn]))
        kr = np.flatnonzero(_kept(seed, k, "real", [r for *_, r in train_real]))
        sy, ry = [syn[i][0] for i in ks], [train_real[i][0] for i in kr]
        for name, x, y in (("synthetic", sc[ks], sy), ("real", rc[kr], ry),
                           ("real+synthetic", sparse.vstack([rc[kr], sc[ks]]).tocsr(), ry + sy)):
            if len(set(y)) < 2:
                runs[name].append((None, [None] * len(labels)))
                continue
            tfidf, model = fit_tfidf_lr(x, y, seed + k)
            p = model.predict(tfidf.transform(tc))
            per = f1_score(ty, p, labels=labels, average=None, zero_division=0)
            runs[name].append((float(np.mean(per)), [float(v) for v in per]))
    models = {}
    for name in MODELS:
        macro = [m for m, _ in runs[name]]
        per_class = {v: _mean([per[i] for _, per in runs[name]]) for i, v in enumerate(labels)}
        models[name] = {"macro_f1": _spread(macro), "per_class_f1": per_class}
    lift = [None if c is None or b is None else c - b
            for (c, _), (b, _) in zip(runs["real+synthetic"], runs["real"])]
    return {**out, "labels": labels, "models": models, "lift": _spread(lift)}


def _spread(xs: list) -> dict:
    if any(x is None for x in xs) or not xs:
        return {"mean": None, "min": None, "max": None, "runs": [None if x is None else _r(x) for x in xs]}
    return {"mean": _r(np.mean(xs)), "min": _r(min(xs)), "max": _r(max(xs)), "runs": [_r(x) for x in xs]}


def _mean(xs: list):
    return None if any(x is None for x in xs) or not xs else _r(np.mean(xs))
