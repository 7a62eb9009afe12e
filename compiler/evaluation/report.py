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
from .private import BINS, DEFAULT_THRESHOLD, MEASURE, private
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


def default_task(spec: ir.Spec, syn: Side, real: Side) -> tuple[Optional[str], Optional[str], str]:
    """The label and text of the usefulness test when the command line names none, and why that text
    (docs/EVAL.md): a `tstr_lift`'s, else the text field both sides have with the most words per real row."""
    for c in spec.constraints:
        for call in _calls(c.expr, "tstr_lift"):
            return call.args[0].field, call.args[1].field, "named by a tstr_lift constraint"
    both = [f for f in spec.fields if f.name in syn.columns and f.name in real.columns]
    read = {n for p in spec.prompts for n in p.inputs}
    cats = [f.name for f in both if kind_of(f) == "categorical"]
    texts = [f.name for f in both if kind_of(f) == "text"]
    label = next((n for n in cats if n in read), cats[0] if cats else None)
    if not texts:
        return label, None, "no text field on both sides"
    per_row = {n: mean_words(real.column(n)) for n in texts}
    text = max(texts, key=lambda n: (per_row[n], -texts.index(n)))  # the first on a tie
    return label, text, f"the text field with the most words per real row ({per_row[text]:.1f})"


def mean_words(col) -> float:
    from ..quality.tokens import words

    got = [len(words(t)) for t in col if isinstance(t, str)]
    return sum(got) / len(got) if got else 0.0


def _calls(e: ir.Expr, fn: str) -> list[ir.Expr]:
    out = [e] if e.kind == "call" and e.fn == fn else []
    for a in e.args:
        out += _calls(a, fn)
    return out


def evaluation(spec: ir.Spec, syn: Side, real: RealData, label: Optional[str] = None,
               text: Optional[str] = None) -> dict:
    seed = spec.dataset.seed
    r = real.side
    dl, dt, why = default_task(spec, syn, r)
    why = "--text" if text else why
    label, text = label or dl, text or dt
    limits = bounds(spec)
    complete = spec.reference is not None and spec.reference.complete
    texts = [f.name for f in spec.fields if kind_of(f) == "text" and f.name in syn.columns and f.name in r.columns]
    priv = {t: private(syn.column(t), syn.rows, real.texts(t), limits.get(t, (DEFAULT_THRESHOLD,))[0])
            for t in texts}
    if label and text:
        use = {"label": label, "text": text, "text_chosen": why,
               **real.useful(syn.column(label), syn.column(text), list(syn.rows), label, text)}
    else:
        use = {"label": label, "text": text, "text_chosen": why, "gate": None,
               "skipped": "no categorical label and text field on both sides"}
    differs = real.differs()
    warnings = [f"--real: {differs}"] if differs else []
    fai = faithful(spec, syn, r, seed, strata_only=_completed(spec) if complete else ())
    for name, x in fai["fields"].items():
        for side, n in (x.get("non_finite") or {}).items():
            if n:
                warnings.append(f"`{name}`: {n:,} {side} values are NaN or infinite; they are left out of its figures")
    if use.get("undecided"):
        warnings.append(f"usefulness: {use['undecided']}")
    if (use.get("contamination") or {}).get("rows"):
        c = use["contamination"]
        warnings.append(f"contamination: {c['rows']:,} synthetic rows are near-copies (above {c['threshold']}) of "
                        "held-out real rows; they are left out of the usefulness training")
    return {"eval_version": EVAL_VERSION, "dataset": spec.dataset.name, "seed": seed,
            "data": {"path": syn.path, "rows": len(syn), "real_rows_skipped": syn.skipped},
            "real": {"path": r.path, "rows": r.source.rows if r.sampled else len(r),
                     "sample": len(r) if r.sampled else None, "sha256": real.sha256, "held_out": sum(real.split.held),
                     "holdout": real.split.share, "split": "declared" if real.split.declared else "default",
                     "reference_sha256": spec.reference.sha256 if spec.reference is not None else None,
                     "is_reference": differs is None, "note": differs},
            "faithful": fai,
            "private": {"measure": MEASURE, "texts": priv,
                        "thresholds": {t: limits.get(t, (DEFAULT_THRESHOLD,))[0] for t in texts}},
            "useful": use, "warnings": warnings}


def _completed(spec: ir.Spec) -> tuple[str, ...]:
    """Complete mode: the stratum fields, whose synthetic shares differ from the real file's by design."""
    return tuple(spec.reference.strata_fields)


# ---- markdown ------------------------------------------------------------------------------------------


def eval_md(ev: Optional[dict], level: int = 2) -> list[str]:
    if not ev:
        return []
    h = "#" * level
    r, d = ev["real"], ev["data"]
    out = [f"{h} Against real data", "",
           f"{d['rows']:,} synthetic rows ({d['real_rows_skipped']:,} real rows of the data left out) against "
           f"{r['rows']:,} real rows{_sample(r)}; {r['held_out']:,} held out for testing "
           f"({'the spec' if r['split'] == 'declared' else 'default'} holdout {r['holdout']:.0%}"
           f"{'' if r['split'] == 'declared' else ': these rows may have been shown as examples'}).", ""]
    out += [f"> **Warning:** {w}" for w in ev.get("warnings", ())] + ([""] if ev.get("warnings") else [])
    f = ev["faithful"]["fields"]
    out += [f"{h}# Faithful", "", "| field | kind | distance | discriminator AUC | vocabulary jaccard |",
            "| --- | --- | ---: | ---: | ---: |"]
    for name, x in f.items():
        dist = x.get("tvd") if x["kind"] == "categorical" else x.get("ks") if x["kind"] == "numeric" else x.get("length_ks")
        what = "TVD" if x["kind"] == "categorical" else "KS" if x["kind"] == "numeric" else "KS of lengths"
        auc = _auc(x)
        out.append(f"| `{name}` | {x['kind']} | {_n(dist)} ({what}) | {auc} | "
                   f"{_n((x.get('vocab') or {}).get('vocab_jaccard'))} |")
    out.append("")
    out.append("AUC 0.5: a classifier cannot tell synthetic from real texts; 1: every synthetic text gives itself away. "
               "In brackets: the 95% interval chance alone allows at this sample size (Hanley & McNeil): an AUC "
               "whose interval holds 0.5 is not evidence of a difference.")
    for name, x in f.items():
        if x.get("by_design"):
            out.append(f"- `{name}`: no TVD: {x['by_design']}.")
        if x.get("completed"):
            c = x["completed"]
            out.append(f"- `{name}`, the completed dataset ({c['rows']:,} rows, real and synthetic) against its "
                       f"targets: TVD {_n(c['tvd'])} (" + ", ".join(
                           f"{cell(v, 30)} {s['dataset']:.1%} for {s['target']:.1%}" for v, s in c["shares"].items()) + ").")
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
                       " | ".join(f"{_n(s['texts'][t]['length_ks'])} | {_auc(s['texts'][t])}" for t in names) + " |")
    out += ["", f"{h}# Private", "", f"Similarity of each synthetic text to its nearest real text "
                                     f"({ev['private']['measure']}).", ""]
    for t, p in ev["private"]["texts"].items():
        thr = ev["private"]["thresholds"][t]
        out += [f"`{t}`: mean {_n(p['mean'])}, median {_n(p['median'])}, 95th percentile {_n(p['p95'])}, "
                f"max {_n(p['max'])}; **{p['above']:,}** above {thr} ({_pct(p['share_above'])})." +
                (f" Exact from {p['exact_from']} up; a similarity under it is the best among the candidates the "
                 "index of this large real file checked (a lower bound)." if p.get("exact_from") is not None else ""),
                "",
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
    out += [f"Train on synthetic, test on real: `{u['label']}` from `{u['text']}` ({u.get('text_chosen', '')}; "
            f"TF-IDF + logistic regression, each model on its own rows), "
            f"{u['test_rows']:,} held-out real rows, {u['seeds']} repetitions; trained on "
            f"{u['train_rows']['synthetic']:,} synthetic and {u['train_rows']['real']:,} real rows.", "",
            "| trained on | macro-F1 | 95% interval | min | max |", "| --- | ---: | ---: | ---: | ---: |"]
    for m, x in u["models"].items():
        f1 = x["macro_f1"]
        out.append(f"| {m} | {_n(f1['mean'])} | {_n(f1.get('low'))} – {_n(f1.get('high'))} | {_n(f1['min'])} | "
                   f"{_n(f1['max'])} |")
    lift = u["lift"]
    gate = (f"`tstr_lift` (the interval's lower bound): {_signed(u['gate'])}" if u.get("gate") is not None
            else f"`tstr_lift` has no value, so a `tstr_lift` constraint fails: {u.get('undecided')}")
    c = u.get("contamination") or {}
    out += ["", f"**Lift of real+synthetic over real: {_signed(lift['mean'])}**, 95% interval "
                f"{_signed(lift.get('low'))} to {_signed(lift.get('high'))} (paired bootstrap over the test rows; "
                f"min {_signed(lift['min'])}, max {_signed(lift['max'])} over the repetitions). {gate}.", ""]
    if c:
        out += [f"Contamination: **{c['rows']:,}** synthetic rows are near-copies (above {c['threshold']}) of held-out "
                "test rows and were left out of the training." + (" For example:" if c["examples"] else ""), ""]
        out += [f"- row {e['row']} ≈ held-out real row {e['real_row']} ({e['similarity']:.2f}): {cell(e['text'])}"
                for e in c["examples"]] + ([""] if c["examples"] else [])
    out += ["Per-class F1:", "",
            "| class | " + " | ".join(u["models"]) + " |", "| --- |" + " --- |" * len(u["models"])]
    for v in u["labels"]:
        out.append(f"| {cell(v, 40)} | " + " | ".join(
            f"{_n(x['per_class_f1'][v])} {_bar(bar(x['per_class_f1'][v] or 0, 1.0))}" for x in u["models"].values()) + " |")
    out.append("")
    return out


def _auc(x: dict) -> str:
    """An AUC with its 95% interval, when it has one."""
    iv = x.get("auc_interval")
    return _n(x.get("auc")) + (f" [{iv[0]:.2f}, {iv[1]:.2f}]" if iv else "")


def _sample(r: dict) -> str:
    if not r.get("sample"):
        return ""
    return (f" (a file this large is read by a sample of {r['sample']:,} rows, chosen by content, for the faithful "
            "and useful figures; the private figures read every row)")


def _bar(b: str) -> str:
    return f"`{b}`" if b else ""


def _n(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def _signed(v) -> str:
    return "–" if v is None else f"{v:+.3f}"


def _pct(v) -> str:
    return "–" if v is None else f"{v:.1%}"
