"""The content section of a build's report: what the generated texts say, measured for every build.

content(spec, con, table) -> dict  report.json["content"] (report_version 2), from the rows of a DuckDB table
content_md(content) -> list[str]   the report.md section

For each generated text field: distinct-1/2/3, compression ratio and self-similarity over its rows, the same per
value of each categorical field a prompt reads (the WEAKEST strata shown: highest self-similarity first), and
its near-duplicate pairs at NEAR resemblance. For each categorical a prompt reads and each generated text field:
shortcut_lift and the top log-odds words per value. Formulas: LANGUAGE.md, "Content quality". Every figure of a
text field is measured on the same rows: all its rows up to sample.SAMPLE, else the seeded sample
(`rows_measured` of `rows` says which), so the section costs the same at any size.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .. import ir
from ..markdown import bar
from .checks import pair_examples
from . import sample
from .tokens import shingles_of, words

NEAR = 0.8
PAIRS = 5
STRATA = 3
_SHOWN = 80


def _figures(texts: Sequence, split: Sequence[list[str]], sets: Sequence[frozenset]) -> dict[str, Any]:
    """The diversity figures of texts given with their words and shingle sets (each text split once)."""
    from .diversity import compression_ratio, distinct_n_words, self_similarity_sets

    out = {f"distinct_{n}": _r(distinct_n_words(split, n)) for n in (1, 2, 3)}
    out["compression_ratio"] = _r(compression_ratio(texts))
    out["self_similarity"] = _r(self_similarity_sets(sets))
    return out


def _r(v):
    return None if v is None else round(float(v), 4)


def content(spec: ir.Spec, con, table: str = "data") -> dict:
    from .neardup import near_duplicate_rejects
    from .shortcuts import shortcut_lift, top_words

    fields = {f.name: f for f in spec.fields}
    texts = [f.name for f in spec.fields if f.role == "generated" and f.type.kind == "text"]
    labels = list(dict.fromkeys(n for p in spec.prompts for n in p.inputs
                                if n in fields and fields[n].categorical))
    seed = spec.dataset.seed
    out: dict[str, Any] = {"near_duplicate_threshold": NEAR, "sample_size": sample.SAMPLE, "texts": {},
                           "shortcuts": {lab: {} for lab in labels}}
    for t in texts:
        rows, total = sample.sampled(con, table, [t, *labels], seed, present=[t])
        column = [r[0] if isinstance(r[0], str) else None for r in rows]
        split = [words(x) for x in column]
        sets = [shingles_of(w) for w in split]
        strata = _weakest(labels, rows, column, split, sets)
        pairs = near_duplicate_rejects(column, NEAR, seed)
        out["texts"][t] = {"rows": total, "rows_measured": len(rows), "overall": _figures(column, split, sets),
                           "weakest_strata": strata, "near_duplicates": len(pairs),
                           "near_duplicate_pairs": pair_examples(column, pairs[:PAIRS], _SHOWN)}
        for i, lab in enumerate(labels, 1):
            values = [r[i] for r in rows]
            out["shortcuts"][lab][t] = {"lift": _r(shortcut_lift(values, column, seed)),
                                        "top_words": {v: [{"word": w, "z": z} for w, z in ws]
                                                      for v, ws in top_words(values, column).items()}}
    return out


def _weakest(labels: list[str], rows: list[tuple], column: list, split: list, sets: list) -> list[dict]:
    """The STRATA strata (a value of a label: rows[i][1 + label's index]) with the highest self-similarity, then
    the lowest distinct-2, with their figures. Every stratum is ranked from one pass of the sparse products
    (similarity.nearest_within); only the ones shown are measured in full."""
    import numpy as np

    from .diversity import distinct_n_words
    from .similarity import nearest_within

    best = nearest_within(sets, [[r[i] for r in rows] for i in range(1, len(labels) + 1)])
    ranked = []
    for i, lab in enumerate(labels, 1):
        for v in dict.fromkeys(r[i] for r in rows):
            at = [k for k, r in enumerate(rows) if r[i] == v]
            worded = [k for k in at if sets[k]]
            sim = _r(float(np.mean(best[i - 1][worded]))) if len(worded) >= 2 else None
            ranked.append((-(sim or 0), _r(distinct_n_words([split[k] for k in at], 2)) or 0, lab, str(v), v, at))
    ranked.sort(key=lambda s: s[:4])
    return [{"field": lab, "value": v, "rows": len(at),
             **_figures([column[k] for k in at], [split[k] for k in at], [sets[k] for k in at])}
            for _, _, lab, _, v, at in ranked[:STRATA]]


def _bar(v, scale: float = 1.0) -> str:
    b = bar(v, scale) if isinstance(v, (int, float)) else ""
    return f"`{b}`" if b else ""


def content_md(c: dict | None) -> list[str]:
    if not c or not (c.get("texts") or c.get("shortcuts")):
        return []
    out = ["## Content", ""]
    for t, f in c["texts"].items():
        o = f["overall"]
        out += [f"### `{t}`", ""]
        if f.get("rows_measured", 0) < f.get("rows", 0):
            out += [f"Measured on a seeded sample of {f['rows_measured']:,} of its {f['rows']:,} rows "
                    "(LANGUAGE.md, \"Content quality\"); near-duplicates are counted within the sample.", ""]
        out += ["| figure | overall | |", "| --- | ---: | --- |"]
        for k in ("distinct_1", "distinct_2", "distinct_3", "self_similarity"):
            out.append(f"| {k} | {_n(o[k])} | {_bar(o[k])} |")
        out += [f"| compression_ratio | {_n(o['compression_ratio'])} | {_bar(o['compression_ratio'], 5.0)} |", ""]
        if f["weakest_strata"]:
            out += ["Weakest strata (most self-similar first):", "",
                    "| stratum | rows | distinct_2 | self_similarity | compression_ratio |", "| --- | ---: | ---: | ---: | ---: |"]
            out += [f"| {s['field']} = {s['value']} | {s['rows']} | {_n(s['distinct_2'])} | {_n(s['self_similarity'])} "
                    f"| {_n(s['compression_ratio'])} |" for s in f["weakest_strata"]]
            out.append("")
        out.append(f"Near-duplicates (word 3-shingle Jaccard above {c['near_duplicate_threshold']}): "
                   f"{f['near_duplicates']} row{'s' * (f['near_duplicates'] != 1)}.")
        out += [f"- row {p['row']} ≈ row {p['copies_row']} ({p['similarity']:.2f}): {p['text']!r}"
                for p in f["near_duplicate_pairs"]]
        out.append("")
    if c["shortcuts"]:
        out += ["### Label shortcuts", "",
                "Surface-form lift (0: no better than the majority baseline, 1: the form gives the label away) "
                "and the words most tied to each value (log-odds z).", ""]
        for lab, per in c["shortcuts"].items():
            for t, s in per.items():
                out.append(f"- `{lab}` from `{t}`: lift {_n(s['lift'])} {_bar(max(s['lift'] or 0, 0))}")
                for v, ws in s["top_words"].items():
                    if ws:
                        out.append(f"  - {v}: " + ", ".join(f"{w['word']} ({w['z']:.1f})" for w in ws))
        out.append("")
    return out


def _n(v) -> str:
    return "–" if v is None else f"{v:.3f}"
