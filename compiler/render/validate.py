"""A ValidationReport as rich tables: the checks, the examples of failed ones, the marginals."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from ..validate.models import CheckResult, MarginalResult, ValidationReport, number_text, worst_first

_WIDTH = 60  # longest value shown in an example; text fields can be paragraphs


def render(report: ValidationReport, console, show_sql: bool = False) -> None:
    """Prints the report on a rich console; `show_sql` adds each failed check's SQL (to rerun it)."""
    where = f" in {report.source}" if report.source else ""
    console.print(Text(f"{report.rows} row{'s' * (report.rows != 1)}{where}", style="bold"))
    console.print(_checks_table(report))
    for c in report.failed:
        _failure(c, console, show_sql)
    for m in report.marginals:
        console.print(_marginal_table(m))
    for name, f in report.findings.items():  # a completed dataset: real rows are findings, never failures
        n = f["count"]
        console.print(Text(f"finding on real rows: {name}: {n} real row{'s' * (n != 1)} "
                           f"break{'s' * (n == 1)} it", style="yellow"))
        for e in f.get("examples", [])[:3]:
            console.print(Text("  " + _example(e), style="dim"))
    failed = len(report.failed)
    total = len(report.checks)
    if failed:
        console.print(Text(f"{failed} of {total} check{'s' * (total != 1)} failed", style="bold red"))
    else:
        console.print(Text(f"{'all ' * (total > 1)}{total} check{'s' * (total != 1)} passed", style="bold green"))


def _checks_table(report: ValidationReport) -> Table:
    t = Table(title="checks", title_justify="left", show_edge=False)
    t.add_column("")
    t.add_column("check")
    t.add_column("kind")
    t.add_column("violations", justify="right")
    t.add_column("measured")
    typed_ok = [c for c in report.checks if c.kind == "type" and c.passed]
    for c in report.checks:
        if c in typed_ok:
            if c is typed_ok[0]:  # one line for the fields whose values all fit: a wide spec has many
                n = len(typed_ok)
                t.add_row(Text("ok", style="green"), f"type: {n} field{'s' * (n != 1)}", "type", "0", "")
            continue
        mark = Text("ok", style="green") if c.passed else Text("FAIL", style="bold red")
        violations = "-" if c.violations is None else str(c.violations)
        t.add_row(mark, c.name, c.kind, violations, Text(_measured(c)))  # Text: no rich markup in values
    return t


def _measured(c: CheckResult) -> str:
    if c.groups is not None:
        return f"{c.groups - c.violations} of {c.groups} group{'s' * (c.groups != 1)} pass"
    if c.values:
        return ", ".join(f"{k} = {_num(v)}" for k, v in c.values.items())
    return ""


def _failure(c: CheckResult, console, show_sql: bool) -> None:
    head = Text(f"{c.name}: ", style="bold red")
    head.append(c.detail or _summary(c), style="default")
    console.print(head)
    for e in c.examples:
        console.print(Text("  " + _example(e), style="dim"))
    if show_sql and c.sql:
        console.print(Text("  " + c.sql.replace("\n", "\n  "), style="cyan"))


def _summary(c: CheckResult) -> str:
    if c.kind in ("row", "type"):
        return f"{c.violations} row{'s break' if c.violations != 1 else ' breaks'} it"
    if c.groups is not None:
        return f"fails in {c.violations} of {c.groups} group{'s' * (c.groups != 1)}"
    if c.examples and "copies_row" in c.examples[0]:  # near_unique(...)
        return f"{c.violations} row{'s are' if c.violations != 1 else ' is'} a near-copy of an earlier one"
    if c.examples:  # unique(...)
        return f"{c.violations} row{'s repeat' if c.violations != 1 else ' repeats'} an earlier one"
    return "does not hold"


def _example(e: dict) -> str:
    if "_id" in e and isinstance(e.get("values"), dict):  # a finding on a real row
        problem = f" ({e['problem']})" if "problem" in e else ""
        return f"{e['_id']}: " + ", ".join(f"{k} = {_short(v)}" for k, v in e["values"].items()) + problem
    if "row" in e and "values" in e:
        problem = f" ({e['problem']})" if "problem" in e else ""
        return f"row {e['row']}: " + ", ".join(f"{k} = {_short(v)}" for k, v in e["values"].items()) + problem
    return ", ".join(f"{k} = {_short(v)}" for k, v in e.items())


def _marginal_table(m: MarginalResult) -> Table:
    t = Table(title=f"{m.field}  (tvd {m.tvd:.3f})", title_justify="left", show_edge=False)
    t.add_column("value")
    t.add_column("target", justify="right")
    t.add_column("actual", justify="right")
    t.add_column("rows", justify="right")
    shown, more = worst_first(list(m.values), lambda v: abs(v.actual - v.target))
    for v in shown:
        off = abs(v.actual - v.target)
        style = "red" if off >= 0.05 else "yellow" if off >= 0.02 else ""
        t.add_row(v.key, f"{v.target:.1%}", Text(f"{v.actual:.1%}", style=style), str(v.count))
    if more:
        t.add_row(Text(f"and {more:,} more values, each closer to its target (--json lists all)", style="dim"),
                  "", "", "")
    return t


def _num(v) -> str:
    if isinstance(v, float):
        return number_text(v)
    return _short(v)


def _short(v) -> str:
    text = repr(v) if isinstance(v, str) else "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
    return text if len(text) <= _WIDTH else text[:_WIDTH - 1] + "…"
