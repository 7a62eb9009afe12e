"""What `synthc eval` shows on the terminal: the three answers in a few lines, then the files it wrote."""

from __future__ import annotations


def render(ev: dict, written, console) -> None:
    from rich.text import Text

    for name, x in ev["faithful"]["fields"].items():
        if x["kind"] == "categorical":
            line = f"TVD {_n(x['tvd'])}" + (" (complete mode: compared within each stratum)" if x.get("by_design") else "")
        elif x["kind"] == "numeric":
            line = f"KS {_n(x['ks'])}"
        else:
            line = (f"length KS {_n(x['length_ks'])}, vocabulary jaccard {_n(x['vocab']['vocab_jaccard'])}, "
                    f"discriminator AUC {_n(x.get('auc'))}" +
                    (f" (chance: {x['auc_interval'][0]:.2f}..{x['auc_interval'][1]:.2f})" if x.get("auc_interval") else ""))
        console.print(Text(f"faithful  {name}: {line}"))
    for t, p in ev["private"]["texts"].items():
        console.print(Text(f"private   {t}: nearest real similarity max {_n(p['max'])}, median {_n(p['median'])}; "
                           f"{p['above']} above {ev['private']['thresholds'][t]}"))
    u = ev["useful"]
    if u.get("skipped"):
        console.print(Text(f"useful    not measured: {u['skipped']}"))
    else:
        m = u["models"]
        console.print(Text(f"useful    {u['label']} from {u['text']}: macro-F1 synthetic {_n(m['synthetic']['macro_f1']['mean'])}, "
                           f"real {_n(m['real']['macro_f1']['mean'])}, real+synthetic "
                           f"{_n(m['real+synthetic']['macro_f1']['mean'])}; lift {_s(u['lift']['mean'])} "
                           f"(95% interval {_s(u['lift'].get('low'))}..{_s(u['lift'].get('high'))})"))
        if u.get("undecided"):
            console.print(Text(f"useful    tstr_lift undecided: {u['undecided']}"))
        if (u.get("contamination") or {}).get("rows"):
            console.print(Text(f"useful    contamination: {u['contamination']['rows']} synthetic rows copy held-out "
                               "rows (left out of training)"))
    for c in ev["constraints"]:
        console.print(Text(f"{'passed' if c['passed'] else 'FAILED'}    {c['name']}: {c['expr']} "
                           f"({_n(c['value'])})", style="green" if c["passed"] else "bold red"))
    console.print(Text("wrote " + ", ".join(str(p) for p in written)))


def _n(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def _s(v) -> str:
    return "–" if v is None else f"{v:+.3f}"
