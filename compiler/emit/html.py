"""report.html and eval.html: one self-contained page each (inline CSS, inline SVG charts, a few lines of inline
script for the row browser's filters; nothing fetched), rendered from the same dict as report.json / eval.json
and report.md / eval.md, so the three cannot disagree.

report_html(report, rows) -> str     report.json's dict and the dataset's rows (the row browser, text lengths)
eval_html(ev) -> str                 eval.json's dict
plan_html(figures) -> str            `synthc plan --json`'s object (a notebook's view of a plan)

`standalone=False` gives the body alone (a notebook cell). Like the markdown, a function of its inputs: no clock,
no paths but those the dict holds, and its order is the files' (keys sorted), whatever the dict's own.
"""

from __future__ import annotations

import html
import json
from typing import Any, Mapping, Optional, Sequence

from .. import ir
from ..evaluation import EVAL_VERSION
from .charts import bars, histogram
from .report import JUDGE_CHART_STRATA, weakest_strata

ROWS_SHOWN = 2000  # rows in the row browser (the dataset file has them all)
_TEXT = 300  # characters of a text cell
_FILTERS = 6  # stratum filters at most (the categorical fields with the fewest values first)
_FILTER_VALUES = 50  # a categorical field with more values gets no filter

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;padding:1em 2em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ddd;padding:.25em .5em;vertical-align:top}
th{background:#f6f6f6;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1a7f37}.fail{color:#cf222e}.chart svg{max-width:100%;height:auto}.muted{color:#666}
.browser{max-height:32em;overflow:auto;border:1px solid #ddd}.browser table{margin:0}
.browser td{max-width:40em}code{background:#f3f3f3;padding:0 .2em}
"""

_SCRIPT = """
(function () {
  var selects = Array.prototype.slice.call(document.querySelectorAll("select[data-filter]"));
  var rows = Array.prototype.slice.call(document.querySelectorAll("#rows tbody tr"));
  var count = document.getElementById("rows-shown");
  function apply() {
    var shown = 0;
    rows.forEach(function (tr) {
      var keep = selects.every(function (s) {
        return s.value === "" || tr.getAttribute("data-" + s.getAttribute("data-filter")) === s.value;
      });
      tr.hidden = !keep;
      if (keep) { shown += 1; }
    });
    if (count) { count.textContent = String(shown); }
  }
  selects.forEach(function (s) { s.addEventListener("change", apply); });
  apply();
})();
"""


def canonical(figures: Mapping) -> dict:
    """The figures as report.json / eval.json hold them (keys sorted): the page rendered from the build's own dict
    and the one rendered from the file read back are the same bytes."""
    return json.loads(json.dumps(figures, sort_keys=True, ensure_ascii=False))


def _e(v: Any, limit: Optional[int] = None) -> str:
    text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text)


def _n(v, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return _e(v)
    return f"{v:,}" if isinstance(v, int) else f"{v:.{digits}f}"


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _mark(passed: bool) -> str:
    return '<span class="pass">pass</span>' if passed else '<span class="fail">fail</span>'


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], attrs: str = "") -> str:
    """`head` and cells are HTML already; a cell starting with `\\x00n` is right-aligned (a number)."""
    def td(c: str) -> str:
        return f'<td class="n">{c[2:]}</td>' if c.startswith("\x00n") else f"<td>{c}</td>"

    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(td(c) for c in r) + "</tr>" for r in rows)
    return f"<table{attrs}><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _num(v, digits: int = 3) -> str:
    return "\x00n" + _n(v, digits)


def _chart(svg: str) -> str:
    return f'<div class="chart">{svg}</div>'


def _page(title: str, body: str, script: bool = False) -> str:
    js = f"<script>{_SCRIPT}</script>" if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n<body>\n{body}\n{js}</body></html>\n")


# ---- report.html ---------------------------------------------------------------------------------------------


def report_page(spec: ir.Spec, report: Mapping, rows: Sequence[Mapping]) -> str:
    """report.html of a build: the generated texts' lengths charted, the rows filtered by the fields prompts read."""
    texts = [f.name for f in spec.fields if f.role == "generated" and f.type.kind == "text"]
    read = {n for p in spec.prompts for n in p.inputs}
    strata = [f.name for f in spec.fields if f.categorical and (f.name in read or not read)]
    columns = ["_id", "_origin", *(f.name for f in spec.fields)]
    return report_html(report, rows, text_fields=texts, strata_fields=strata, columns=columns)


def report_html(report: Mapping, rows: Sequence[Mapping], *, standalone: bool = True,
                text_fields: Sequence[str] = (), strata_fields: Sequence[str] = (),
                columns: Sequence[str] = ()) -> str:
    """The build's report as a page. `text_fields`: the generated texts (length charts); `strata_fields`: the
    categorical fields to filter the row browser by; `columns`: the row browser's columns in order (both: the
    rows' own keys when not given)."""
    r = canonical(report)
    checks = r["checks"]
    failed = [c for c in checks if not c["passed"]]
    verdict = (f'<span class="pass">all {len(checks)} checks passed</span>' if not failed
               else f'<span class="fail">{len(failed)} of {len(checks)} checks failed</span>')
    parts = [f"<h1>{_e(r['dataset'])}</h1>",
             f"<p>{verdict} · {r['rows']:,} rows · {r['rounds']} round{'s' * (r['rounds'] != 1)} · {r['calls']:,} calls made "
             f"(a full rebuild: {r['calls_full_rebuild']:,}) · model <code>{_e(r['model'])}</code></p>"]
    parts += _checks(checks)
    parts += _marginals(r["marginals"], r["tvd"], r.get("planned") or {})
    parts += _judges(r.get("judges") or {})
    parts += _lengths(rows, text_fields)
    if r.get("eval"):
        parts += _eval_sections(r["eval"], level=2)
    parts += _browser(rows, strata_fields, columns)
    parts += _rejected(r["rejected"], r.get("acceptance_rate"))
    parts += _calls(r)
    body = "\n".join(parts)
    return _page(f"{r['dataset']}: report", body, script=bool(rows)) if standalone else body


def _checks(checks: list[dict]) -> list[str]:
    rows = []
    for c in checks:
        mark = _mark(c["passed"])
        measured = ", ".join(f"<code>{_e(k)}</code> = {_n(v, 4)}" for k, v in (c.get("values") or {}).items())
        rows.append([mark, _e(c["name"]), _e(c["kind"]), _num(c.get("violations")), measured,
                     _e(c.get("detail") or "", 300)])
    return ["<h2>Checks</h2>", _table(["", "check", "kind", "violations", "measured", "detail"], rows)]


def _marginals(marginals: dict, tvd: dict, planned: dict) -> list[str]:
    if not marginals:
        return []
    out = ["<h2>Targets vs actual</h2>"]
    for name, values in marginals.items():
        labels = list(values)
        series = {"target": [v["target"] for v in values.values()]}
        if name in planned:
            series["planned"] = [planned[name].get(k) for k in labels]
        series["built"] = [v["actual"] for v in values.values()]
        out.append(f"<h3>{_e(name)} · tvd {tvd.get(name, 0):.3f}</h3>")
        out.append(_chart(bars(f"{name}: share of rows", labels, series)))
        out.append(_table(["value", "target", "built", "rows"],
                          [[_e(k), "\x00n" + _pct(v["target"]), "\x00n" + _pct(v["actual"]), _num(v.get("count", 0))]
                           for k, v in values.items()]))
    return out


def _judges(judges: dict) -> list[str]:
    if not judges:
        return []
    out = ["<h2>Judges</h2>",
           _table(["judge", "model", "judged", "passed", "pass rate"],
                  [[_e(n), f"<code>{_e(j.get('model') or '')}</code>", _num(j["judged"]), _num(j["passed"]),
                    "\x00n" + _pct(j["pass_rate"])] for n, j in judges.items()])]
    for name, j in judges.items():
        every = j.get("by_stratum") or []
        if not every:
            continue
        # a chart of every stratum took 38 s of matplotlib at 4,000 strata: the weakest are the ones to look at
        strata = every if len(every) <= JUDGE_CHART_STRATA else weakest_strata(every)[:JUDGE_CHART_STRATA]
        title = (f"{name}: pass rate per stratum" if len(strata) == len(every) else
                 f"{name}: the {len(strata)} strata with the lowest pass rate, of {len(every):,}")
        labels = [", ".join(f"{k}={v}" for k, v in s["values"].items()) or "all rows" for s in strata]
        out.append(_chart(bars(title, labels,
                               {"pass rate": [s["pass_rate"] for s in strata]}, xlabel="pass rate", xmax=1.0)))
    return out


def _lengths(rows: Sequence[Mapping], text_fields: Sequence[str]) -> list[str]:
    out = []
    for t in text_fields:
        words = [len(str(r[t]).split()) for r in rows if r.get(t) is not None]
        if not words:
            continue
        lo, hi = min(words), max(words)
        step = max(1, -(-(hi - lo + 1) // 20))
        edges = list(range(lo, hi + step + 1, step))
        counts = [sum(1 for w in words if a <= w < b) for a, b in zip(edges, edges[1:])]
        out.append(_chart(histogram(f"{t}: words per row", edges, counts, xlabel="words")))
    return ["<h2>Text lengths</h2>", *out] if out else []


def _browser(rows: Sequence[Mapping], strata_fields: Sequence[str], order: Sequence[str]) -> list[str]:
    """Every row (up to ROWS_SHOWN) with filters by stratum value and origin."""
    if not rows:
        return []
    shown = rows[:ROWS_SHOWN]
    have = set(k for r in shown for k in r)
    columns = [c for c in order if c in have] + sorted(have - set(order))
    candidates = list(strata_fields) or [c for c in columns if not c.startswith("_")
                                         and all(isinstance(r.get(c), (str, bool, type(None))) for r in shown)]
    values = {c: sorted({_key(r.get(c)) for r in shown}) for c in candidates}
    filters = sorted((c for c in candidates if 1 < len(values[c]) <= _FILTER_VALUES),
                     key=lambda c: (len(values[c]), candidates.index(c)))[:_FILTERS]
    filters = [c for c in candidates if c in filters]
    if "_origin" in columns:
        filters.append("_origin")
        values["_origin"] = sorted({_key(r.get("_origin")) for r in shown})
    selects = "".join(
        f'<label>{_e(c)} <select data-filter="f{i}"><option value="">all</option>'
        + "".join(f'<option value="{_e(v)}">{_e(v)}</option>' for v in values[c]) + "</select></label> "
        for i, c in enumerate(filters))
    trs = []
    for r in shown:
        attrs = "".join(f' data-f{i}="{_e(_key(r.get(c)))}"' for i, c in enumerate(filters))
        tds = "".join(f"<td>{_e(r.get(c), _TEXT) if r.get(c) is not None else ''}</td>" for c in columns)
        trs.append(f"<tr{attrs}>{tds}</tr>")
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    more = (f" (the first {ROWS_SHOWN:,} of {len(rows):,}: the dataset file has them all)"
            if len(rows) > ROWS_SHOWN else "")
    return ["<h2>Rows</h2>", f"<p>{selects}</p>",
            f'<p class="muted"><span id="rows-shown">{len(shown)}</span> rows shown{_e(more)}</p>',
            f'<div class="browser"><table id="rows"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(trs)}</tbody></table></div>"]


def _key(v) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def _rejected(rejected: dict, rate: Optional[float]) -> list[str]:
    out = ["<h2>Rejected rows</h2>"]
    if not rejected:
        return out + ["<p>No generated row was rejected.</p>"]
    if rate is not None:
        out.append(f"<p>{_pct(rate)} of the rows judged were accepted; rejected rows were replaced in later rounds.</p>")
    rows = []
    for name, r in rejected.items():
        for e in r["examples"]:
            what = (", ".join(f"{_e(k)} = {_e(v, 200)}" for k, v in e["values"].items()) if "values" in e
                    else _e(e.get("reason", ""), 300))
            rows.append([_e(name), _num(r["count"]), f"<code>{_e(e.get('_id', ''))}</code>", what])
    return out + [_table(["reason", "rows rejected", "row", "what it held"], rows, ' id="rejected"')]


def _calls(r: Mapping) -> list[str]:
    cost = lambda x: "unknown" if x is None else f"${x:,.4f}"  # noqa: E731
    return ["<h2>Calls</h2>", _table(["", "this run", "the whole dataset"], [
        ["calls", _num(r["calls"]), _num(r["calls_full_rebuild"])],
        ["answers from the cache", _num(r["cache_hits"]), ""],
        ["row answers carried from earlier builds", _num(r.get("rows_carried", 0)), ""],
        ["failed calls", _num(r["failed_calls"]), ""],
        ["prompt tokens", _num(r["prompt_tokens"]), _num(r["prompt_tokens_full_rebuild"])],
        ["completion tokens", _num(r["completion_tokens"]), _num(r["completion_tokens_full_rebuild"])],
        ["cost", "\x00n" + cost(r["cost_usd"]), "\x00n" + cost(r["cost_usd_full_rebuild"])],
        ["rounds", _num(r["rounds"]), ""]])]


# ---- the evaluation (eval.html, and report.html's section) ------------------------------------------------------


def eval_html(ev: Mapping, *, standalone: bool = True) -> str:
    """eval.json as a page: the constraints, then faithful, private and useful with their charts."""
    ev = canonical(ev)
    parts = [f"<h1>{_e(ev['dataset'])}: evaluation</h1>",
             f'<p class="muted">eval_version {ev.get("eval_version", EVAL_VERSION)}</p>']
    if ev.get("constraints"):
        parts.append(_table(["constraint", "value", ""], [
            [f"<code>{_e(c['name'])}</code>: <code>{_e(c['expr'])}</code>", _num(c["value"], 4),
             _mark(c["passed"])]
            for c in ev["constraints"]]))
    parts += _eval_sections(ev, level=1)
    body = "\n".join(parts)
    return _page(f"{ev['dataset']}: evaluation", body) if standalone else body


def _eval_sections(ev: Mapping, level: int) -> list[str]:
    h = f"h{level + 1}"
    d, r = ev["data"], ev["real"]
    out = [f"<{h}>Against real data</{h}>",
           f"<p>{d['rows']:,} synthetic rows against {r['rows']:,} real rows; {r['held_out']:,} held out for "
           f"testing ({r['split']} holdout {_pct(r['holdout'])}).</p>"]
    fields = ev["faithful"]["fields"]
    rows = []
    for name, x in fields.items():
        dist = x.get("tvd") if x["kind"] == "categorical" else x.get("ks") if x["kind"] == "numeric" else x.get("length_ks")
        rows.append([f"<code>{_e(name)}</code>", _e(x["kind"]), _num(dist), _num(x.get("auc")),
                     _num((x.get("vocab") or {}).get("vocab_jaccard"))])
    out += ["<h3>Faithful</h3>", _table(["field", "kind", "distance", "discriminator AUC", "vocabulary jaccard"], rows)]
    out.append("<h3>Private</h3>")
    for t, p in ev["private"]["texts"].items():
        thr = ev["private"]["thresholds"].get(t)
        n = len(p["histogram"])
        out.append(_chart(histogram(f"{t}: similarity to the nearest real text", [i / n for i in range(n + 1)],
                                    p["histogram"], xlabel=ev["private"]["measure"], marker=thr,
                                    marker_label=f"threshold {thr}")))
        out.append(f"<p>mean {_n(p['mean'])}, median {_n(p['median'])}, 95th percentile {_n(p['p95'])}, max "
                   f"{_n(p['max'])}; <b>{p['above']:,}</b> above {thr}.</p>")
        out.append(_table(["row", "synthetic text", "real row", "real text", "similarity"],
                          [[_num(c["row"]), _e(c["text"], _TEXT), _num(c["real_row"]), _e(c["real_text"], _TEXT),
                            _num(c["similarity"], 2)] for c in p["closest"]], ' class="closest"'))
    out += _useful(ev["useful"])
    return out


def _useful(u: Mapping) -> list[str]:
    out = ["<h3>Useful</h3>"]
    if u.get("skipped"):
        return out + [f"<p>Not measured: {_e(u['skipped'])}.</p>"]
    models = u["models"]
    out.append(f"<p>Train on synthetic, test on real: <code>{_e(u['label'])}</code> from <code>{_e(u['text'])}</code>, "
               f"{u['test_rows']:,} held-out real rows, {u['seeds']} repetitions. Lift of real+synthetic over real: "
               f"<b>{_n(u['lift']['mean'])}</b> (min {_n(u['lift']['min'])}, max {_n(u['lift']['max'])}).</p>")
    out.append(_chart(bars("macro-F1 by training data (min to max over repetitions)", list(models),
                           {"macro-F1": [m["macro_f1"]["mean"] for m in models.values()]},
                           spread={"macro-F1": [(m["macro_f1"]["min"] or 0.0, m["macro_f1"]["max"] or 0.0)
                                                for m in models.values()]},
                           xlabel="macro-F1", xmax=1.0)))
    out.append(_chart(bars("F1 per class", list(u["labels"]),
                           {m: [x["per_class_f1"].get(v) for v in u["labels"]] for m, x in models.items()},
                           xlabel="F1", xmax=1.0)))
    return out


# ---- a plan (notebooks) --------------------------------------------------------------------------------------


def plan_html(figures: Mapping) -> str:
    """`synthc plan --json`'s figures as a table, with the marginals charted."""
    keys = [k for k in ("rows", "calls", "judge_calls", "max_calls", "prompt_tokens_est", "completion_tokens_est",
                        "cost_est_usd") if k in figures]
    parts = [f"<h3>plan: {_e(figures.get('dataset', ''))}</h3>",
             _table(["figure", "value"], [[_e(k), _num(figures[k], 4)] for k in keys])]
    for name, values in (figures.get("marginals") or {}).items():
        parts.append(_table([_e(name), "target share", "planned rows"],
                            [[_e(v), "\x00n" + _pct(x.get("target_share")), _num(x.get("planned_rows"))]
                             for v, x in values.items()]))
    return "\n".join(parts)
