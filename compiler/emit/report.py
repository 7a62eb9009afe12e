"""report.json (for scripts) and report.md (for a pull request): checks with their SQL, target vs actual for
every marginal as tables with bar charts, rejected-row examples, calls, tokens, cost and cache hits.

Both are functions of the dataset, the checks and the run's counters: no clock, no paths, no secrets. The
counters of this run (`calls`, `cache_hits`, tokens and cost) are the only part that differs between a first
build and a rebuild from the cache; `*_full_rebuild` counts every answer the dataset needed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from ..evaluation.report import eval_md
from ..markdown import bar, cell
from ..plan.model import value_label
from ..quality.report import content_md
from ..validate.models import ValidationReport, number_text, worst_first

REPORT_VERSION = 4  # 2: the content section (quality.report); 3: judges; 4: eval (a spec with a reference)
JUDGE_STRATA = 10  # strata shown per judge in report.md (report.json has them all)
JUDGE_CHART_STRATA = 30  # strata charted per judge in report.html


def weakest_strata(by_stratum: list[dict]) -> list[dict]:
    """A judge's strata, the lowest pass rate first (ties in the report's order)."""
    return sorted(by_stratum, key=lambda s: s["pass_rate"] if s["pass_rate"] is not None else 2.0)


@dataclass(frozen=True)
class RunFacts:
    """What the run did, for the report. cost: None when the model's prices are unknown."""

    model: str
    endpoint: str
    rounds: int
    calls: int
    cache_hits: int
    carried_calls: int
    rows_carried: int
    failed_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Optional[float]
    full_prompt_tokens: int
    full_completion_tokens: int
    full_cost_usd: Optional[float]
    acceptance_rate: Optional[float]
    max_calls: Optional[int] = None  # the most calls this build was allowed (--max-calls or the plan's ceiling)
    rows_by_position: int = 0  # rows matched to their request by position: their ids were not copied
    profile: Optional[str] = None  # the model profile that sized the plan
    earlier_calls: int = 0  # cache hits an interrupted run of this build paid for (no lock lists them)
    earlier_cost_usd: Optional[float] = 0.0
    batch_calls: int = 0  # cache hits a Batch API output gave (`ingest`): neither new calls nor an interrupted run's


def _usd(x: Optional[float]) -> Optional[float]:
    return None if x is None else round(x, 6)


def report_json(dataset: str, checks: ValidationReport, run: RunFacts, rejected: dict,
                judges: Optional[dict] = None, evaluation: Optional[dict] = None) -> dict:
    """`evaluation`: the figures against the reference's real rows (evaluation.report), for a spec with one."""
    v = checks.to_json_dict()
    out = {
        "report_version": REPORT_VERSION,
        "dataset": dataset,
        "passed": checks.passed,
        "rows": checks.rows,
        "model": run.model,
        "endpoint": run.endpoint,
        "rounds": run.rounds,
        "calls": run.calls,
        "calls_full_rebuild": run.calls + run.cache_hits + run.carried_calls,
        "cache_hits": run.cache_hits,
        "rows_carried": run.rows_carried,
        "failed_calls": run.failed_calls,
        "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens,
        "cost_usd": _usd(run.cost_usd),
        "prompt_tokens_full_rebuild": run.full_prompt_tokens,
        "completion_tokens_full_rebuild": run.full_completion_tokens,
        "cost_usd_full_rebuild": _usd(run.full_cost_usd),
        "acceptance_rate": run.acceptance_rate,
        "max_calls": run.max_calls,
        "profile": run.profile,
        "rows_matched_by_position": run.rows_by_position,
        "calls_interrupted_runs": run.earlier_calls,
        "cost_usd_interrupted_runs": _usd(run.earlier_cost_usd),
        "calls_batch": run.batch_calls,
        "checks": v["checks"],
        "marginals": v["marginals"],
        "tvd": v["tvd"],
        "rejected": rejected,
        "content": checks.content,
        "judges": judges or {},
    }
    if evaluation is not None:
        out["eval"] = evaluation
    return out


def planned_shares(plan) -> dict:
    """report.json `planned`: per marginal field, each value's share of the rows the plan asked for (plan.Plan)."""
    out = {}
    for m in plan.marginals:
        total = sum(v.planned_rows for v in m.values)
        out[m.field] = {value_label(v.value): (round(v.planned_rows / total, 6) if total else None) for v in m.values}
    return out


def json_bytes(report: dict) -> bytes:
    return (json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


# ---- markdown ---------------------------------------------------------------------------------------------


def _num(v: Any) -> str:
    if isinstance(v, float):
        return number_text(v)
    return cell(v, 40)


def _fence(text: str, lang: str = "") -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}{lang}\n{text}\n{ticks}"


def _int(n: int) -> str:
    return f"{n:,}"


def _cost(x: Optional[float]) -> str:
    return "unknown" if x is None else f"${x:,.4f}"


def report_md(report: dict) -> str:
    r = report
    checks = r["checks"]
    failed = [c for c in checks if not c["passed"]]
    out = [f"# {r['dataset']}", ""]
    verdict = (f"✅ **{'all ' * (len(checks) > 1)}{len(checks)} check{'s' * (len(checks) != 1)} passed**" if not failed
               else f"❌ **{len(failed)} of {len(checks)} checks failed**")
    out += [f"{verdict} · {_int(r['rows'])} rows · {r['rounds']} round{'s' * (r['rounds'] != 1)} · "
            f"{_int(r['calls'])} calls made (a full rebuild: {_int(r['calls_full_rebuild'])}) · model `{cell(r['model'], 60)}`",
            ""]
    out += _checks_md(checks)
    out += _real_md(r.get("real"), r.get("findings") or {})
    out += _nearest_md(r.get("examples_nearest") or [])
    out += _marginals_md(r["marginals"], r["tvd"])
    out += content_md(r.get("content"))
    out += _judges_md(r.get("judges"))
    out += eval_md(r.get("eval"))
    out += _rejected_md(r["rejected"], r.get("acceptance_rate"))
    out += _calls_md(r)
    return "\n".join(out).rstrip("\n") + "\n"


def _checks_md(checks: list[dict]) -> list[str]:
    out = ["## Checks", "", "| | check | kind | violations | measured |", "| :-: | --- | --- | --: | --- |"]
    for c in checks:
        mark = "✅" if c["passed"] else "❌"
        violations = "–" if c["violations"] is None else _int(c["violations"])
        measured = ", ".join(f"`{cell(k, 60)}` = {_num(v)}" for k, v in (c.get("values") or {}).items())
        if c.get("groups") is not None:  # a `per` constraint: its groups' figures are in report.json
            g = c["groups"]
            measured = f"{_int(g - (c['violations'] or 0))} of {_int(g)} group{'s' * (g != 1)} pass"
        out.append(f"| {mark} | {cell(c['name'])} | {c['kind']} | {violations} | {measured} |")
    out.append("")
    for c in checks:
        if c["passed"]:
            continue
        out.append(f"**{cell(c['name'])}**: {cell(c['detail'], 300) if c.get('detail') else _failure(c)}")
        out.append("")
        for e in c.get("examples") or []:
            out.append(f"- {_example(e)}")
        if c.get("examples"):
            out.append("")
    sqls = [c for c in checks if c.get("sql")]
    if sqls:
        out += ["<details><summary>The SQL of each check (DuckDB, on the table <code>data</code>)</summary>", ""]
        for c in sqls:
            out += [f"**{cell(c['name'])}**", "", _fence(c["sql"], "sql"), ""]
        out += ["</details>", ""]
    return out


def _failure(c: dict) -> str:
    n = c["violations"]
    if c["kind"] in ("row", "type"):
        return f"{_int(n)} row{'s break' if n != 1 else ' breaks'} it"
    if c.get("groups") is not None:
        return f"fails in {_int(n)} of {_int(c['groups'])} group{'s' * (c['groups'] != 1)}"
    if c.get("examples"):  # unique(...)
        return f"{_int(n)} row{'s repeat' if n != 1 else ' repeats'} an earlier one"
    measured = ", ".join(f"`{cell(k, 60)}` = {_num(v)}" for k, v in (c.get("values") or {}).items())
    return f"does not hold ({measured})" if measured else "does not hold"


def _example(e: dict) -> str:
    if "values" in e and isinstance(e["values"], dict):
        head = f"row {e['row']}: " if "row" in e else f"`{cell(e['_id'], 40)}`: " if "_id" in e else ""
        problem = f" ({cell(e['problem'], 120)})" if e.get("problem") else ""
        return head + ", ".join(f"{cell(k, 40)} = {cell(v)}" for k, v in e["values"].items()) + problem
    return ", ".join(f"{cell(k, 40)} = {cell(v)}" for k, v in e.items())


def _real_md(real: Optional[dict], findings: dict) -> list[str]:
    """Complete mode: real and synthetic rows per stratum, and the real rows that break a row rule (findings)."""
    if not real:
        return []
    out = ["## Real and synthetic rows", "",
           f"`{cell(real['path'], 100)}` (sha256 `{real['sha256'][:12]}`): {_int(real['usable'])} usable of "
           f"{_int(real['file_rows'])} real rows" + (f", {100 * real['holdout']:.0f}% held out" if real['holdout'] else "")
           + f"; the dataset holds {_int(real['rows_real'])} real and {_int(real['rows_synthetic'])} synthetic rows.",
           "", "| stratum | target | real in the file | real kept | synthetic | total |",
           "| --- | --: | --: | --: | --: | --: |"]
    for s in real["strata"]:
        label = ", ".join(f"{k}={cell(v, 40)}" for k, v in s["values"].items()) or "all rows"
        over = " (over-filled)" if s["real"] > s["target"] else ""
        out.append(f"| {label} | {_int(s['target'])} | {_int(s['real'])}{over} | {_int(s['rows_real'])} | "
                   f"{_int(s['rows_synthetic'])} | {_int(s['rows_real'] + s['rows_synthetic'])} |")
    out.append("")
    if findings:
        out += ["### Findings on real rows", "",
                "Real rows are never rejected; these break a row rule of the spec (the synthetic rows meet it).", "",
                "| check | real rows |", "| --- | --: |"]
        out += [f"| {cell(n)} | {_int(f['count'])} |" for n, f in findings.items()]
        out.append("")
        for n, f in findings.items():
            out.append(f"**{cell(n)}**" + (f": {cell(f['detail'], 200)}" if f.get("detail") else ""))
            out.append("")
            out += [f"- {_example(e)}" for e in f["examples"]]
            out.append("")
    return out


def _nearest_md(nearest: list[dict]) -> list[str]:
    """Calls that showed real rows of the nearest stratum, their own having too few (plan.fewshot)."""
    if not nearest:
        return []
    out = ["## Real examples from the nearest stratum", ""]
    for e in nearest:
        out.append(f"- prompt `{cell(e['prompt'], 40)}`: calls of {cell(_label(e['stratum']), 80)} show real rows "
                   f"of the nearest stratum, {cell(_label(e['from']), 80)} ({_int(e['calls'])} round-1 "
                   f"call{'s' * (e['calls'] != 1)})")
    return out + [""]


def _label(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "all rows"


def _marginals_md(marginals: dict, tvd: dict) -> list[str]:
    if not marginals:
        return []
    out = ["## Targets vs actual", ""]
    for field, values in marginals.items():
        scale = max([max(v["target"], v["actual"]) for v in values.values()] or [0])
        out += [f"### {cell(field)} · tvd {tvd.get(field, 0):.3f}", "",
                "| value | target | actual | Δ | rows | actual share |", "| --- | --: | --: | --: | --: | --- |"]
        shown, more = worst_first(list(values.items()), lambda kv: abs(kv[1]["actual"] - kv[1]["target"]))
        for value, v in shown:
            delta = 100 * (v["actual"] - v["target"])
            shown = "0.0" if abs(delta) < 0.05 else f"{delta:+.1f}"
            chart = bar(v["actual"], scale)
            out.append(f"| {cell(value)} | {100 * v['target']:.1f}% | {100 * v['actual']:.1f}% | {shown} pp | "
                       f"{_int(v.get('count', 0))} | {f'`{chart}`' if chart else ''} |")
        if more:
            out.append(f"| and {_int(more)} more values, each closer to its target (report.json lists all) | | | | | |")
        out.append("")
    return out


def _pct(rate: Optional[float]) -> str:
    return "–" if rate is None else f"{100 * rate:.1f}%"


def _judges_md(judges: Optional[dict]) -> list[str]:
    """Each judge's pass rate, overall and per stratum (docs/BUILD.md, "Judges")."""
    if not judges:
        return []
    out = ["## Judges", "",
           "Rows a model judged after they were written; a row whose verdict failed a judge constraint was rejected "
           "and written again.", "",
           "| judge | model | constraints | judged | passed | pass rate |", "| --- | --- | --- | --: | --: | --: |"]
    for name, j in judges.items():
        out.append(f"| {cell(name)} | `{cell(j.get('model') or '', 60)}` | {cell(', '.join(j['constraints']))} | "
                   f"{_int(j['judged'])} | {_int(j['passed'])} | {_pct(j['pass_rate'])} |")
    out.append("")
    for name, j in judges.items():
        for field, values in (j.get("by_value") or {}).items():
            out += [f"### {cell(name)} by {cell(field)}", "", "| value | judged | passed | pass rate | |",
                    "| --- | --: | --: | --: | --- |"]
            for value, v in values.items():
                chart = bar(v["pass_rate"] or 0.0, 1.0)
                out.append(f"| {cell(value)} | {_int(v['judged'])} | {_int(v['passed'])} | {_pct(v['pass_rate'])} | "
                           f"{f'`{chart}`' if chart else ''} |")
            out.append("")
        fields = list(dict.fromkeys(k for s in j["by_stratum"] for k in s["values"]))
        if not fields or fields == list(j.get("by_value") or {}):  # one stratum field: its table said it all
            continue
        weakest = weakest_strata(j["by_stratum"])
        shown = weakest[:JUDGE_STRATA]
        title = (f"### {cell(name)} per stratum" if len(shown) == len(weakest) else
                 f"### {cell(name)}: the {len(shown)} strata with the lowest pass rate, of {len(weakest):,}")
        out += [title, "",
                "| " + " | ".join(cell(f) for f in fields) + " | judged | passed | pass rate | |",
                "| " + " | ".join("---" for _ in fields) + " | --: | --: | --: | --- |"]
        for s in shown:  # the lowest pass rate first, as the title says (ties in the report's order)
            chart = bar(s["pass_rate"] or 0.0, 1.0)
            out.append("| " + " | ".join(cell(s["values"].get(f, "")) for f in fields) +
                       f" | {_int(s['judged'])} | {_int(s['passed'])} | {_pct(s['pass_rate'])} | "
                       f"{f'`{chart}`' if chart else ''} |")
        out.append("")
    return out


def _rejected_md(rejected: dict, rate: Optional[float]) -> list[str]:
    out = ["## Rejected rows", ""]
    if not rejected:
        return out + ["No generated row was rejected.", ""]
    if rate is not None:
        out += [f"{100 * rate:.1f}% of the rows judged were accepted; rejected rows were replaced in later rounds "
                f"(a row can break several constraints).", ""]
    out += ["| constraint | rows rejected |", "| --- | --: |"]
    for name, r in rejected.items():
        out.append(f"| {cell(name)} | {_int(r['count'])} |")
    out += ["", "<details><summary>Examples</summary>", ""]
    for name, r in rejected.items():
        out.append(f"**{cell(name)}**")
        out.append("")
        for e in r["examples"]:
            if "values" in e:
                out.append(f"- `{cell(e['_id'], 40)}`: " + ", ".join(f"{cell(k, 40)} = {cell(v)}"
                                                                     for k, v in e["values"].items()))
            else:
                out.append(f"- `{cell(e.get('_id', ''), 40)}`: {cell(e.get('reason', ''), 200)}")
        out.append("")
    out += ["</details>", ""]
    return out


def _calls_md(r: dict) -> list[str]:
    return ["## Calls", "",
            "| | this run | the whole dataset |", "| --- | --: | --: |",
            f"| calls | {_int(r['calls'])} | {_int(r['calls_full_rebuild'])} |",
            f"| answers from the cache | {_int(r['cache_hits'])} | |",
            *([f"| of those, paid by an interrupted run of this build | {_int(r['calls_interrupted_runs'])} "
               f"({_cost(r.get('cost_usd_interrupted_runs'))}) | |"] if r.get("calls_interrupted_runs") else []),
            *([f"| of those, answered by a Batch API batch (`ingest`) | {_int(r['calls_batch'])} | |"]
              if r.get("calls_batch") else []),
            f"| row answers carried from earlier builds | {_int(r.get('rows_carried', 0))} | |",
            f"| failed calls | {_int(r['failed_calls'])} | |",
            f"| prompt tokens | {_int(r['prompt_tokens'])} | {_int(r['prompt_tokens_full_rebuild'])} |",
            f"| completion tokens | {_int(r['completion_tokens'])} | {_int(r['completion_tokens_full_rebuild'])} |",
            f"| cost | {_cost(r['cost_usd'])} | {_cost(r['cost_usd_full_rebuild'])} |",
            f"| rounds | {r['rounds']} | |",
            *([f"| most calls allowed | {_int(r['max_calls'])} | |"] if r.get("max_calls") is not None else []),
            *([f"| rows matched by position (ids not copied) | {_int(r['rows_matched_by_position'])} | |"]
              if r.get("rows_matched_by_position") else []),
            ""]
