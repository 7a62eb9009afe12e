"""`synthc plan SPEC`: the plan as a rich summary (strata, calls, tokens, cost, marginals, warnings)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..plan.batch import CEILING_FACTOR, CEILING_SLACK
from ..plan.model import Plan, value_label

SHOWN_STRATA = 20


def _usd(x: float | None) -> str:
    if x is None:
        return "unknown"
    return f"${x:,.4f}" if x < 1 else f"${x:,.2f}"


def render(plan: Plan, console: Console) -> None:
    head = Text()
    head.append(f"{plan.dataset}", style="bold")
    head.append(f": {plan.rows:,} rows (+{plan.spare_rows:,} spare), seed {plan.seed}, model {plan.profile.name}")
    console.print(head)
    for p in plan.problems:
        console.print(Text(f"error[{p.code}]: {p.message}", style="bold red"))
        if p.hint:
            console.print(Text(f"  help: {p.hint}", style="green"))
    if not plan.ok:
        return

    calls = Table(title="Calls (round 1)", title_justify="left")
    for col, just in (("prompt", "left"), ("model", "left"), ("rows", "right"), ("rows/call", "right"),
                      ("calls", "right"), ("lower bound", "right"), ("prompt tok", "right"),
                      ("completion tok", "right"), ("cost", "right")):
        calls.add_column(col, justify=just)
    for p in plan.prompts:
        calls.add_row(p.prompt + (f" (after {', '.join(p.after)})" if p.after else ""), p.model, f"{p.rows:,}",
                      str(p.rows_per_call), f"{p.calls:,}", f"{p.lower_bound_calls:,}", f"{p.prompt_tokens_est:,}",
                      f"{p.completion_tokens_est:,}", _usd(p.cost_est_usd))
    if len(plan.prompts) > 1:
        calls.add_row("total", "", "", "", f"{plan.calls:,}", f"{plan.lower_bound_calls:,}",
                      f"{plan.prompt_tokens_est:,}", f"{plan.completion_tokens_est:,}", _usd(plan.cost_est_usd),
                      style="bold")
    if plan.prompts:
        console.print(calls)

    strata = Table(title=f"Strata ({len(plan.strata):,})", title_justify="left")
    names = list(plan.strata[0].values) if plan.strata else []
    for n in names:
        strata.add_column(n)
    for col in ("rows", "spare", "target"):
        strata.add_column(col, justify="right")
    biggest = sorted(plan.strata, key=lambda s: -s.rows)[:SHOWN_STRATA]
    for s in sorted(biggest, key=plan.strata.index):
        strata.add_row(*(value_label(s.values[n]) if n in s.values else "" for n in names), f"{s.rows:,}", f"{s.spare:,}", f"{s.expected:,.1f}")
    if len(plan.strata) > SHOWN_STRATA:
        strata.caption = f"the {SHOWN_STRATA} largest of {len(plan.strata):,} strata"
    console.print(strata)

    if plan.marginals:
        margins = Table(title="Marginals", title_justify="left")
        for col, just in (("field", "left"), ("value", "left"), ("target", "right"), ("planned", "right"),
                          ("target rows", "right")):
            margins.add_column(col, justify=just)
        for m in plan.marginals:
            for i, v in enumerate(m.values):
                margins.add_row(m.field if i == 0 else "", value_label(v.value), f"{100 * v.target_share:.1f}%",
                                f"{v.planned_rows:,}", f"{plan.rows * v.target_share:,.1f}")
        console.print(margins)

    total = Text("estimated: ", style="bold")
    total.append(f"{plan.calls:,} calls, {plan.prompt_tokens_est:,} prompt + {plan.completion_tokens_est:,} "
                 f"completion tokens, cost {_usd(plan.cost_est_usd)}")
    console.print(total)
    if plan.prompts:
        console.print(Text(f"a build makes at most {plan.max_calls:,} calls ({CEILING_FACTOR} x round 1 + {CEILING_SLACK}) unless --max-calls or "
                           "--max-cost says otherwise"))
    for w in plan.warnings:
        console.print(Text(f"warning: {w}", style="yellow"))
