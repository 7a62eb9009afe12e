"""`synthc plan SPEC`: the plan as a rich summary (strata, calls, tokens, cost, marginals, warnings)."""

from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from ..plan.model import CEILING_FACTOR, CEILING_SLACK
from ..plan.model import Plan, value_label

SHOWN_STRATA = 20


def _usd(x: float | None) -> str:
    if x is None:
        return "unknown"
    return f"${x:,.4f}" if x < 1 else f"${x:,.2f}"


# the calls table's columns; on a terminal too narrow for all of them (80 columns), the token columns move to a
# second table so that model, rows per call and cost are never cut off
_CALLS = ("prompt", "model", "rows", "rows/call", "calls", "cost")
_TOKENS = ("prompt", "lower bound", "prompt tok", "completion tok")
_ALL = ("prompt", "model", "rows", "rows/call", "calls", "lower bound", "prompt tok", "completion tok", "cost")


def _calls_rows(plan: Plan) -> list[dict]:
    rows = [{"prompt": p.prompt + _role(p), "model": p.model,
             "rows": f"{p.rows:,}", "rows/call": str(p.rows_per_call), "calls": f"{p.calls:,}",
             "lower bound": f"{p.lower_bound_calls:,}", "prompt tok": f"{p.prompt_tokens_est:,}",
             "completion tok": f"{p.completion_tokens_est:,}", "cost": _usd(p.cost_est_usd)} for p in plan.prompts]
    if len(plan.prompts) > 1:
        rows.append({"prompt": "total", "model": "", "rows": "", "rows/call": "", "calls": f"{plan.calls:,}",
                     "lower bound": f"{plan.lower_bound_calls:,}", "prompt tok": f"{plan.prompt_tokens_est:,}",
                     "completion tok": f"{plan.completion_tokens_est:,}", "cost": _usd(plan.cost_est_usd),
                     "_total": True})
    return rows


def _role(p) -> str:
    """` (judge, after review)`: what the line's calls are and whose outputs they wait for."""
    notes = (["judge"] if p.judge else []) + ([f"after {', '.join(p.after)}"] if p.after else [])
    return f" ({', '.join(notes)})" if notes else ""


def _table(title: str, columns, rows: list[dict]) -> Table:
    t = Table(title=title, title_justify="left")
    for col in columns:
        # only the prompt column may wrap: a model name, a count or a cost cut short is misread
        t.add_column(col, justify="left" if col in ("prompt", "model") else "right",
                     no_wrap=col != "prompt", overflow="fold")
    for r in rows:
        t.add_row(*(r[c] for c in columns), style="bold" if r.get("_total") else None)
    return t


def _fits(console: Console, table: Table) -> bool:
    return Measurement.get(console, console.options.update_width(10_000), table).maximum <= console.width


def _calls_tables(plan: Plan, console: Console) -> list[Table]:
    """One table when it fits the console's width, else two: calls and cost, then tokens."""
    rows = _calls_rows(plan)
    whole = _table("Calls (round 1)", _ALL, rows)
    if _fits(console, whole):
        return [whole]
    return [_table("Calls (round 1)", _CALLS, rows), _table("Tokens (round 1)", _TOKENS, rows)]


def _strata_table(console: Console, title: str, names: list[str], numbers: tuple[str, ...],
                  rows: list[tuple[list[str], list[str], object]], narrow: tuple[str, ...]) -> Table:
    """A column per stratum field and per figure when that fits the console; else (80 columns and many fields)
    one line per stratum without borders: the figures named in `narrow`, then the stratum's values joined, so
    that no value is cut short. rows: (values, figures, style)."""
    def build(wide: bool) -> Table:
        cols = [i for i, n in enumerate(numbers) if wide or n in narrow]
        t = Table(title=title, title_justify="left", **({} if wide else {"box": None, "pad_edge": False}))
        for n in names if wide else ():
            t.add_column(n, no_wrap=True)
        for i in cols:
            t.add_column(numbers[i], justify="right", no_wrap=True)
        if not wide:
            t.add_column(", ".join(names) or "stratum", overflow="fold")
        for values, figures, style in rows:
            shown = [figures[i] for i in cols]
            t.add_row(*(values + shown if wide else shown + [", ".join(v for v in values if v)]), style=style)
        return t

    wide = build(True)
    return wide if _fits(console, wide) else build(False)


def render(plan: Plan, console: Console) -> None:
    head = Text()
    head.append(f"{plan.dataset}", style="bold")
    if plan.real is not None:
        r = plan.real
        head.append(f": {r.real_rows + r.synthetic_rows:,} rows = {r.real_rows:,} real (from {r.path}) + "
                    f"{r.synthetic_rows:,} synthetic (+{plan.spare_rows:,} spare), seed {plan.seed}, "
                    f"model {plan.profile.name}")
    else:
        head.append(f": {plan.rows:,} rows (+{plan.spare_rows:,} spare), seed {plan.seed}, model {plan.profile.name}")
    console.print(head)
    for p in plan.problems:
        console.print(Text(f"error[{p.code}]: {p.message}", style="bold red"))
        if p.hint:
            console.print(Text(f"  help: {p.hint}", style="green"))
    if not plan.ok:
        return

    if plan.prompts:
        for table in _calls_tables(plan, console):
            console.print(table)

    if plan.real is not None:
        console.print(_real_table(plan, console))
    names = list(plan.strata[0].values) if plan.strata else []
    order = {id(s): i for i, s in enumerate(plan.strata)}
    biggest = sorted(plan.strata, key=lambda s: (-s.rows, order[id(s)]))[:SHOWN_STRATA]  # largest first
    strata = _strata_table(console, f"Strata ({len(plan.strata):,})", names, ("rows", "spare", "target"),
                           [([value_label(s.values[n]) if n in s.values else "" for n in names],
                             [f"{s.rows:,}", f"{s.spare:,}", f"{s.expected:,.1f}"], None) for s in biggest],
                           narrow=("rows",))
    if len(plan.strata) > SHOWN_STRATA:
        strata.caption = f"the {SHOWN_STRATA} largest of {len(plan.strata):,} strata, largest first"
    if len(strata.columns) < len(names) + 3:  # the narrow form: the other figures are in --json
        strata.caption = (strata.caption + "; " if strata.caption else "") + "spare rows and targets: --json"
    if plan.real is None:
        console.print(strata)

    if plan.marginals:
        margins = Table(title="Marginals", title_justify="left")
        for col, just in (("field", "left"), ("value", "left"), ("target", "right"), ("planned", "right"),
                          ("target rows", "right")):
            margins.add_column(col, justify=just)
        total_rows = plan.real.target_rows if plan.real is not None else plan.rows
        for m in plan.marginals:
            for i, v in enumerate(m.values):
                margins.add_row(m.field if i == 0 else "", value_label(v.value), f"{100 * v.target_share:.1f}%",
                                f"{v.planned_rows:,}", f"{total_rows * v.target_share:,.1f}")
        console.print(margins)

    total = Text("estimated: ", style="bold")
    total.append(f"{plan.calls:,} calls, {plan.prompt_tokens_est:,} prompt + {plan.completion_tokens_est:,} "
                 f"completion tokens, cost {_usd(plan.cost_est_usd)}")
    if plan.judge_calls:
        total.append(f"; of the calls, {plan.judge_calls:,} judge calls")
    console.print(total)
    if plan.prompts:
        console.print(Text(f"a build makes at most {plan.max_calls:,} calls ({CEILING_FACTOR} x round 1 + {CEILING_SLACK}) unless --max-calls or "
                           "--max-cost says otherwise"))
    for w in plan.warnings:
        console.print(Text(f"warning: {w}", style="yellow"))


def _real_table(plan: Plan, console: Console) -> Table:
    """Complete mode: per stratum, the real rows, the target, the synthetic rows and their calls and cost."""
    from ..plan.complete import stratum_costs

    r = plan.real
    index = {s.key: i for i, s in enumerate(plan.strata)}
    costs = stratum_costs(plan.strata, plan.prompts)
    order = {id(s): i for i, s in enumerate(r.strata)}
    shown = sorted(r.strata, key=lambda s: (-abs(s.target - s.real), order[id(s)]))[:SHOWN_STRATA]  # furthest first
    rows = []
    for s in shown:
        calls, cost = costs.get(index[s.key], (0, 0.0)) if s.key in index else (0, 0.0)
        rows.append(([value_label(s.values[n]) if n in s.values else "" for n in r.fields],
                     [f"{s.real:,}", f"{s.kept:,}", f"{s.target:,}",
                      f"{s.synthetic:,}" + (" (over-filled)" if s.overfilled else ""), f"{calls:,}", _usd(cost)], None))
    rows.append(([""] * len(r.fields), [f"{sum(s.real for s in r.strata):,}", f"{r.real_rows:,}", f"{r.target_rows:,}",
                                        f"{r.synthetic_rows:,}", f"{plan.calls:,}", _usd(plan.cost_est_usd)], "bold"))
    table = _strata_table(console, f"Real and synthetic rows per stratum ({len(r.strata):,})", list(r.fields),
                          ("real", "kept", "target", "synthetic", "calls", "cost"), rows,
                          narrow=("kept", "target", "synthetic"))
    if len(r.strata) > SHOWN_STRATA:
        table.caption = f"the {SHOWN_STRATA} strata furthest from their targets, of {len(r.strata):,}, furthest first"
    table.caption = (table.caption + "; " if table.caption else "") + \
        f"{r.usable:,} usable of {r.file_rows:,} real rows" + (f", {100 * r.holdout:.0f}% held out" if r.holdout else "")
    return table
