"""Faithful? Per field, how far the synthetic distribution is from the real one, and whether a classifier can
tell real from synthetic texts (docs/EVAL.md, "Faithful").

categorical: shares and TVD; numeric: two-sample KS (scipy.stats.ks_2samp); text: KS of lengths in words,
vocabulary overlap and the discriminator: TF-IDF of word 1-2-grams and char_wb 2-4-grams, a logistic
regression, 5-fold ROC AUC (a text's fold drawn by md5 of the seed and the text) on a balanced sample drawn
by md5, with the features that give either side away. Per value of each categorical field both sides have:
rows, length KS and AUC where the data allows.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from typing import Sequence

import numpy as np

from .. import ir
from ..quality.tokens import words
from ..validate.targets import target_shares
from .sides import key, rounded as _r

SAMPLE = 2000  # rows of each side the discriminator sees at most
STRATUM_SAMPLE = 500
STRATUM_MIN = 50  # rows of each side a stratum needs for its own figures
FOLDS = 5
TELLS = 10


def kind_of(f: ir.Field) -> str | None:
    if f.categorical or f.type.kind in ("enum", "bool"):
        return "categorical"
    if f.type.kind in ("int", "float"):
        return "numeric"
    if f.type.kind == "text":
        return "text"
    return None


def tvd(syn: Sequence, real: Sequence) -> dict:
    a, b = Counter(key(v) for v in syn if v is not None), Counter(key(v) for v in real if v is not None)
    na, nb = sum(a.values()), sum(b.values())
    values = sorted(set(a) | set(b))
    shares = {v: {"synthetic": _r(a[v] / na if na else 0), "real": _r(b[v] / nb if nb else 0)} for v in values}
    d = 0.5 * sum(abs((a[v] / na if na else 0) - (b[v] / nb if nb else 0)) for v in values)
    return {"kind": "categorical", "tvd": _r(d), "shares": shares}


def completed(counts, target) -> dict | None:
    """Complete mode: a stratum field's shares over every row of a completed dataset (counts: key(value) -> rows)
    against its target shares (validate.targets); None without the dataset's rows or a target."""
    if not counts or target is None:
        return None
    want = {key(v): s for v, s in target.items()}
    n = sum(counts.values())
    values = [*want, *sorted(v for v in counts if v not in want)]
    d = 0.5 * sum(abs(counts.get(v, 0) / n - want.get(v, 0.0)) for v in values)
    return {"rows": n, "tvd": _r(d),
            "shares": {v: {"dataset": _r(counts.get(v, 0) / n), "target": _r(want.get(v, 0.0))} for v in values}}


def ks(syn: Sequence, real: Sequence) -> dict:
    from scipy.stats import ks_2samp

    a, b = _numbers(syn), _numbers(real)
    bad = {"synthetic": _non_finite(syn), "real": _non_finite(real)}
    extra = {"non_finite": bad} if any(bad.values()) else {}  # NaN or infinity: a finding, left out of the figure
    if not a or not b:
        return {"ks": None, "p_value": None, **extra}
    res = ks_2samp(a, b)
    return {"ks": _r(res.statistic), "p_value": _r(res.pvalue), **extra}


def _numbers(col: Sequence) -> list[float]:
    return [float(v) for v in col if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]


def _non_finite(col: Sequence) -> int:
    return sum(1 for v in col if isinstance(v, float) and not math.isfinite(v))


def text_figures(syn: Sequence, real: Sequence, seed: int) -> dict:
    sw = [words(t) for t in syn if isinstance(t, str)]
    rw = [words(t) for t in real if isinstance(t, str)]
    vs, vr = set().union(*sw) if sw else set(), set().union(*rw) if rw else set()
    both = len(vs & vr)
    out = {"kind": "text", "length_ks": ks([len(w) for w in sw], [len(w) for w in rw])["ks"],
           "mean_words": {"synthetic": _r(np.mean([len(w) for w in sw])) if sw else None,
                          "real": _r(np.mean([len(w) for w in rw])) if rw else None},
           "vocab": {"synthetic": len(vs), "real": len(vr),
                     "vocab_jaccard": _r(both / len(vs | vr)) if vs | vr else None,
                     "real_vocab_covered": _r(both / len(vr)) if vr else None}}
    out.update(discriminator(syn, real, seed, SAMPLE, tells=True))
    return out


def sample(n: int, k: int, seed: int, salt: str) -> list[int]:
    """k of range(n): the indices with the lowest md5("SEED:SALT:ROW"), in index order."""
    if k >= n:
        return list(range(n))
    keyed = sorted(range(n), key=lambda i: hashlib.md5(f"{seed}:{salt}:{i + 1}".encode()).hexdigest())
    return sorted(keyed[:k])


def _counts(texts: list[str]):
    """Word 1-2-gram and char_wb 2-4-gram counts of every text, counted once (a fold's model gives no weight to
    an n-gram its training rows lack, so one vocabulary serves every fold), with the features' names."""
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    word = CountVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b", dtype=np.float64)
    char = CountVectorizer(analyzer="char_wb", ngram_range=(2, 4), dtype=np.float64)
    x = sparse.hstack([word.fit_transform(texts), char.fit_transform(texts)]).tocsr()
    names = [f"word__{n}" for n in word.get_feature_names_out()] + [f"char__{n}" for n in char.get_feature_names_out()]
    return x, np.array(names, dtype=object)


def discriminator(syn: Sequence, real: Sequence, seed: int, cap: int, tells: bool = False) -> dict:
    """ROC AUC of a cross-validated classifier telling synthetic (1) from real (0) texts on a balanced sample (0.5:
    indistinguishable), with its 95% interval."""
    from .useful import Fitted

    s = [t for t in syn if isinstance(t, str)]
    r = [t for t in real if isinstance(t, str)]
    n = min(len(s), len(r), cap)
    if n < FOLDS:
        return {"auc": None, "sample": n}
    texts = [s[i] for i in sample(len(s), n, seed, "disc:synthetic")] + [r[i] for i in sample(len(r), n, seed, "disc:real")]
    y = np.array([1] * n + [0] * n)
    try:
        x, names = _counts(texts)
    except ValueError:  # not one character n-gram in the sample (every text empty)
        return {"auc": None, "sample": n}
    # a text's fold comes from the text itself, so a text on both sides is in one fold: otherwise its twin,
    # learnt with the other label, would give it away
    fold = np.array([int(hashlib.md5(f"{seed}:fold:{t}".encode("utf-8")).hexdigest()[:8], 16) % FOLDS for t in texts])
    auc = _cv_auc(x, y, fold, seed)
    if auc is None:
        return {"auc": None, "sample": n}
    out: dict = {"auc": _r(auc), "auc_interval": auc_interval(auc, n, n), "sample": n}
    if tells:
        fitted = Fitted(x, y, seed)
        if fitted.constant is not None:
            return out
        coef, names = fitted.model.coef_[0], names[fitted.columns]
        order = np.lexsort((names, -coef))
        out["tells_synthetic"] = [_tell(names[i], coef[i]) for i in order[:TELLS] if coef[i] > 0]
        out["tells_real"] = [_tell(names[i], coef[i]) for i in order[::-1][:TELLS] if coef[i] < 0]
    return out


def _cv_auc(x, y: np.ndarray, fold: np.ndarray, seed: int):
    """ROC AUC within each fold of a model fitted on the other folds, averaged (weighted by the fold's pairs): a
    fold's real/synthetic mix shifts its model's intercept, which pooling the folds' scores would read as signal;
    a rank within one fold does not depend on it. None when no fold has both sides."""
    from sklearn.metrics import roc_auc_score

    from .useful import Fitted

    aucs, weights = [], []
    for k in range(FOLDS):
        train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        if len(set(y[test])) < 2 or len(set(y[train])) < 2:
            continue
        p = Fitted(x[train], y[train], seed).predict_proba(x[test])[:, 1]
        aucs.append(roc_auc_score(y[test], p))
        weights.append(int(y[test].sum()) * int((1 - y[test]).sum()))
    return float(np.average(aucs, weights=weights)) if aucs else None


def auc_interval(auc: float, n_pos: int, n_neg: int, z: float = 1.96) -> list[float]:
    """95% interval of an AUC from its standard error (Hanley & McNeil 1982, Radiology 143:29-36), clipped to 0..1:
    what chance alone moves the AUC by on samples of this size."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    se = float(np.sqrt(max(var, 0.0)))
    return [_r(max(0.0, auc - z * se)), _r(min(1.0, auc + z * se))]


def _tell(name: str, c: float) -> dict:
    kind, _, feature = name.partition("__")  # char_wb pads words with spaces: shown as ␣ so " ab" and "ab " differ
    return {"feature": feature.replace(" ", "␣") if kind == "char" else feature, "kind": kind, "weight": _r(c)}


def faithful(spec: ir.Spec, syn, real, seed: int, strata_only: tuple[str, ...] = ()) -> dict:
    """syn, real: sides.Side. Figures per field both sides have, then per stratum. `strata_only`: categorical fields
    compared within each stratum only (complete mode: the synthetic rows fill what each stratum of the real file
    lacks, so their shares differ from the real file's by construction and a TVD would read as a failure)."""
    fields = {}
    common = [f for f in spec.fields if f.name in syn.columns and f.name in real.columns]
    for f in common:
        k = kind_of(f)
        a, b = syn.column(f.name), real.column(f.name)
        if k == "categorical" and f.name in strata_only:
            fields[f.name] = {"kind": "categorical", "tvd": None,
                              "by_design": "complete mode: the synthetic rows fill what each stratum of the real "
                                           "file lacks, so their shares differ from the real file's by design; "
                                           "the completed dataset is compared with its targets (completed), "
                                           "and synthetic rows with real ones within each stratum",
                              "completed": completed(syn.whole.get(f.name), target_shares(spec, f.name))}
        elif k == "categorical":
            fields[f.name] = tvd(a, b)
        elif k == "numeric":
            fields[f.name] = {"kind": "numeric", **ks(a, b)}
        elif k == "text":
            fields[f.name] = text_figures(a, b, seed)
    texts = [f.name for f in common if kind_of(f) == "text"]
    strata = []
    for f in common:
        if kind_of(f) != "categorical":
            continue
        a, b = syn.column(f.name), real.column(f.name)
        for v in sorted({key(x) for x in a + b if x is not None}):
            si = [i for i, x in enumerate(a) if x is not None and key(x) == v]
            ri = [i for i, x in enumerate(b) if x is not None and key(x) == v]
            enough = len(si) >= STRATUM_MIN and len(ri) >= STRATUM_MIN
            per = {}
            for t in texts:
                st, rt = syn.column(t), real.column(t)
                sub_s, sub_r = [st[i] for i in si], [rt[i] for i in ri]
                disc = discriminator(sub_s, sub_r, seed, STRATUM_SAMPLE) if enough else {}
                per[t] = {"length_ks": ks([len(words(x)) for x in sub_s if isinstance(x, str)],
                                          [len(words(x)) for x in sub_r if isinstance(x, str)])["ks"] if enough else None,
                          "auc": disc.get("auc"), "auc_interval": disc.get("auc_interval")}
            strata.append({"field": f.name, "value": v, "synthetic_rows": len(si), "real_rows": len(ri), "texts": per})
    return {"fields": fields, "strata": strata}
