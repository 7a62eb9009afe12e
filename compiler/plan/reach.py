"""Dataset constraints that the rounded plan already decides: `tvd(f) <= X` compares the finished dataset's
shares of `f` with its targets, and a build keeps exactly the planned rows of every value, so when whole rows
cannot come within X of the targets at this N (a third of 20 rows is 6 or 7, never 6.67) the constraint fails
whatever the model writes. Found at plan time (and by `synthc check`), before anything is spent (SDS035)."""

from __future__ import annotations

from typing import Iterator

from .. import ir
from .model import Marginal, PlanProblem

_EPS = 1e-9


def unreachable(spec: ir.Spec, marginals: list[Marginal]) -> list[PlanProblem]:
    """SDS035 for each `tvd(f) <= X` (or `<`) of a dataset constraint that the planned rows of `f` break."""
    planned = {m.field: m for m in marginals}
    n = spec.dataset.rows
    out = []
    for c in spec.constraints:
        if c.kind != "dataset" or getattr(c, "per", ()):  # a bound judged per group is not the dataset's
            continue
        for name, strict, limit in _tvd_bounds(c.expr):
            m = planned.get(name)
            if m is None or not m.values or n <= 0:
                continue
            tvd = 0.5 * sum(abs(v.planned_rows / n - v.target_share) for v in m.values)
            if tvd < limit - _EPS or (not strict and tvd <= limit + _EPS):
                continue
            rows = ", ".join(f"{v.value} {v.planned_rows}" for v in m.values if v.target_share or v.planned_rows)
            out.append(PlanProblem(
                code="SDS035", subjects=(f"constraint:{c.name}", f"field:{name}"),
                message=f"constraint `{c.name}` cannot hold at {n:,} rows: the planned rows of `{name}` are "
                        f"tvd {_pct(tvd)} from its targets, above {_pct(limit)}",
                hint=f"the plan gives {rows} rows (one row is {_pct(1 / n)}); raise `rows`, or loosen the bound "
                     f"to tvd({name}) <= {_pct(tvd, up=True)}"))
    return out


def _tvd_bounds(e: ir.Expr) -> Iterator[tuple[str, bool, float]]:
    """(field, strict, limit) of every `tvd(FIELD) <= LIMIT` conjunct (either way round) of a constraint."""
    if e.kind != "op":
        return
    if e.op == "and":
        for a in e.args:
            yield from _tvd_bounds(a)
        return
    flipped = {">": "<", ">=": "<="}
    if e.op in ("<", "<="):
        left, right, op = e.args[0], e.args[1], e.op
    elif e.op in flipped:
        left, right, op = e.args[1], e.args[0], flipped[e.op]
    else:
        return
    if left.kind == "call" and left.fn == "tvd" and left.args and left.args[0].kind == "ref" \
            and right.kind == "lit" and isinstance(right.value, (int, float)) and not isinstance(right.value, bool):
        yield left.args[0].field, op == "<", float(right.value)


def _pct(x: float, up: bool = False) -> str:
    """A share as a percentage with one decimal; `up` rounds up so that the bound it suggests holds."""
    import math

    v = math.ceil(x * 1000 - 1e-6) / 10 if up else round(x * 100, 1)
    return f"{v:g}%"
