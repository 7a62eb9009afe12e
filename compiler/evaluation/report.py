"""eval.json and eval.md: the three answers of one evaluation (docs/EVAL.md, "Files").

evaluation(spec, syn, real, ...) -> dict    the figures (eval.json; report.json["eval"] in a build)
eval_md(ev) -> list[str]                    the markdown section (eval.md; the same section in report.md)
"""

from __future__ import annotations

from typing import Optional

from .. import ir
from ..markdown import bar, cell
from . import EVAL_VERSION
from .checks import RealData, similarity_bound
from .faithful import faithful, kind_of
from .private import BINS, DEFAULT_THRESHOLD, private
from .sides import Side


def bounds(spec: ir.Spec) -> dict[str, tuple[float, bool]]:
    """text field -> (x, strict) of the tightest `max_similarity_to_real(t) <= x` (or `< x`): the threshold eval
    reports (the build repairs each one: generate/repair.py)."""
    out: dict[str, tuple[float, bool]] = {}
    for c in spec.constraints:
        b = similarity_bound(c)
        if b is not None and (b[0] not in out or b[1] < out[b[0]][0]):
            out[b[0]] = b[1:]
    return out


def default_task(spec: ir.Spec, syn: Side, real: Side) -> tuple[Optional[str], Optional[str]]:
    """The label and text of the usefulness test when the command line names none (docs/EVAL.md)."""
    for c in spec.constraints:
        for call in _calls(c.expr, "tstr_lift"):
            return call.args[0].field, call.args[1].field
    both = [f for f in spec.fields if f.name in syn.columns and f.name in real.columns]
    read = {n for p in spec.prompts for n in p.inputs}
    cats = [f.name for f in both if kind_of(f) == "categorical"]
    texts = [f.name for f in both if kind_of(f) == "text"]
    label = next((n for n in cats if n in read), cats[0] if cats else None)
    gen = [n for n in texts if spec.field(n).role == "generated"]
    return label, (gen or texts or [None])[0]


def _calls(e: ir.Expr, fn: str) -> list[ir.Expr]:
    out = [e] if e.kind == "call" and e.fn == fn else []
    for a in e.args:
        out += _calls(a, fn)
    return out


def evaluation(spec: ir.Spec, syn: Side, real: RealData, label: Optional[str] = None,
               text: Optional[str] = None) -> dict:
    seed = spec.dataset.seed
    r = real.side
    dl, dt = default_task(spec, syn, r)
    label, text = label or dl, text or dt
    limits = bounds(spec)
    texts = [f.name for f in spec.fields if kind_of(f) == "text" and f.name in syn.columns and f.name in r.columns]
    priv = {t: private(syn.column(t), syn.rows, real.texts(t), r.rows, limits.get(t, (DEFAULT_THRESHOLD,))[0])
            for t in texts}
    if label and text:
        use = {"label": label, "text": text,
               **real.useful(syn.column(label), syn.column(text), list(syn.rows), label, text)}
    else:
        use = {"label": label, "text": text, "skipped": "no categorical label and text field on both sides"}
    return {"eval_version": EVAL_VERSION, "dataset": spec.dataset.name, "seed": seed,
            "data": {"path": syn.path, "rows": len(syn), "real_rows_skipped": syn.skipped},
            "real": {"path": r.path, "rows": len(r), "sha256": real.sha256, "held_out": sum(real.split.held),
                     "holdout": real.split.share, "split": "declared" if real.split.declared else "default"},
            "faithful": faithful(spec, syn, r, seed),
            "private": {"measure": "jaccard of word 3-shingles, nearest real text", "texts": priv,
                        "thresholds": {t: limits.get(t, (DEFAULT_THRESHOLD,))[0] for t in texts}},
            "useful": use}


# ---- markdown ------------------------------------------------------------------------------------------


def eval_md(ev: Optional[dict], level: int = 2) -> list[str]:
    if not ev:
        return []
    h = "#" * level
    r, d = ev["real"], ev["data"]
    out = [f"{h} Against real data", "",
           f"{d['rows']:,} synthetic rows ({d['real_rows_skipped']:,} real rows of the data left out) against "
           f"{r['rows']:,} real rows; {r['held_out']:,} held out for testing "
           f"({'the spec' if r['split'] == 'declared' else 'default'} holdout {r['holdout']:.0%}"
           f"{'' if r['split'] == 'declared' else ': these rows may have been shown as examples'}).", ""]
    f = ev["faithful"]["fields"]
    out += [f"{h}# Faithful", "", "| field | kind | distance | discriminator AUC | vocabulary jaccard |",
            "| --- | --- | ---: | ---: | ---: |"]
    for name, x in f.items():
        dist = x.get("tvd") if x["kind"] == "categorical" else x.get("ks") if x["kind"] == "numeric" else x.get("length_ks")
        what = "TVD" if x["kind"] == "categorical" else "KS" if x["kind"] == "numeric" else "KS of lengths"
        out.append(f"| `{name}` | {x['kind']} | {_n(dist)} ({what}) | {_n(x.get('auc'))} | "
                   f"{_n((x.get('vocab') or {}).get('vocab_jaccard'))} |")
    out.append("")
    out.append("AUC 0.5: a classifier cannot tell synthetic from real texts; 1: every synthetic text gives itself away.")
    out.append("")
    for name, x in f.items():
        if x.get("tells_synthetic"):
            out.append(f"- `{name}`, what gives synthetic rows away: " +
                       ", ".join(f"`{cell(t['feature'], 30)}` ({t['kind']})" for t in x["tells_synthetic"]))
        if x.get("tells_real"):
            out.append(f"- `{name}`, what gives real rows away: " +
                       ", ".join(f"`{cell(t['feature'], 30)}` ({t['kind']})" for t in x["tells_real"]))
    strata = ev["faithful"]["strata"]
    if strata:
        names = sorted({t for s in strata for t in s["texts"]})
        out += ["", "Per stratum (figures where both sides have at least 50 rows):", "",
                "| stratum | synthetic | real | " + " | ".join(f"`{t}` length KS | `{t}` AUC" for t in names) + " |",
                "| --- | ---: | ---: |" + " ---: | ---: |" * len(names)]
        for s in strata:
            out.append(f"| {s['field']} = {cell(s['value'], 40)} | {s['synthetic_rows']:,} | {s['real_rows']:,} | " +
                       " | ".join(f"{_n(s['texts'][t]['length_ks'])} | {_n(s['texts'][t]['auc'])}" for t in names) + " |")
    out += ["", f"{h}# Private", "", f"Similarity of each synthetic text to its nearest real text "
                                     f"({ev['private']['measure']}).", ""]
    for t, p in ev["private"]["texts"].items():
        thr = ev["private"]["thresholds"][t]
        out += [f"`{t}`: mean {_n(p['mean'])}, median {_n(p['median'])}, 95th percentile {_n(p['p95'])}, "
                f"max {_n(p['max'])}; **{p['above']:,}** above {thr} ({_pct(p['share_above'])}).", "",
                "| similarity | texts | |", "| --- | ---: | --- |"]
        top = max(p["histogram"]) if p["histogram"] else 0
        for i, n in enumerate(p["histogram"]):
            lo, hi = i / BINS, (i + 1) / BINS
            out.append(f"| {lo:.1f}–{hi:.1f} | {n:,} | {_bar(bar(n, top))} |")
        out += ["", "Closest pairs:", ""]
        out += [f"- row {c['row']} ≈ real row {c['real_row']} ({c['similarity']:.2f}): {cell(c['text'])!s} ≈ "
                f"{cell(c['real_text'])}" for c in p["closest"]]
        out.append("")
    u = ev["useful"]
    out += [f"{h}# Useful", ""]
    if u.get("skipped"):
        out += [f"Not measured: {u['skipped']}.", ""]
        return out
    out += [f"Train on synthetic, test on real: `{u['label']}` from `{u['text']}` (TF-IDF + logistic regression), "
            f"{u['test_rows']:,} held-out real rows, {u['seeds']} repetitions; trained on "
            f"{u['train_rows']['synthetic']:,} synthetic and {u['train_rows']['real']:,} real rows.", "",
            "| trained on | macro-F1 | min | max |", "| --- | ---: | ---: | ---: |"]
    for m, x in u["models"].items():
        out.append(f"| {m} | {_n(x['macro_f1']['mean'])} | {_n(x['macro_f1']['min'])} | {_n(x['macro_f1']['max'])} |")
    lift = u["lift"]
    out += ["", f"**Lift of real+synthetic over real: {_signed(lift['mean'])}** (min {_signed(lift['min'])}, "
                f"max {_signed(lift['max'])}).", "", "Per-class F1:", "",
            "| class | " + " | ".join(u["models"]) + " |", "| --- |" + " --- |" * len(u["models"])]
    for v in u["labels"]:
        out.append(f"| {cell(v, 40)} | " + " | ".join(
            f"{_n(x['per_class_f1'][v])} {_bar(bar(x['per_class_f1'][v] or 0, 1.0))}" for x in u["models"].values()) + " |")
    out.append("")
    return out


def _bar(b: str) -> str:
    return f"`{b}`" if b else ""


def _n(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def _signed(v) -> str:
    return "–" if v is None else f"{v:+.3f}"


def _pct(v) -> str:
    return "–" if v is None else f"{v:.1%}"
