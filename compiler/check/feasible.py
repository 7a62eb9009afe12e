"""Whole-spec checks that need every field: dependency cycles, and constraints that no row could satisfy."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from .. import ir
from ..diagnostics import Diagnostic
from ..evaluate import EVAL_ERRORS, Unknown, evaluate
from ..limits import MAX_DERIVED_DEPTH, MAX_FEASIBILITY_EVALS
from .exprs import _show

if TYPE_CHECKING:
    from . import Checker

MAX_COMBINATIONS = 200_000
MAX_INT_VALUES = 2_000


def check_cycles(checker: "Checker", fields: list[ir.Field]) -> None:
    """Fields that need each other's values (given, derived, or a prompt reading a field another writes). A
    depth-first walk with its own stack: a chain of thousands of fields needs no deep recursion."""
    deps = {f.name: f.depends_on for f in fields}
    state: dict[str, int] = {}
    reported: set[frozenset] = set()
    for f in fields:
        if state.get(f.name) is not None:
            continue
        state[f.name] = 1
        path, stack = [f.name], [iter(deps.get(f.name, ()))]
        while stack:
            d = next(stack[-1], None)
            if d is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(d) == 1:
                cycle = path[path.index(d):] + [d]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    span = checker.spans.get(f"field:{cycle[0]}")
                    checker.report(Diagnostic(
                        "SDS017", "fields depend on each other in a cycle: " + " -> ".join(cycle), span,
                        "a prompt cannot read a field whose own prompt reads this one; break the loop"))
            elif state.get(d) is None and d in deps:
                state[d] = 1
                path.append(d)
                stack.append(iter(deps[d]))


def check_derived_depth(checker: "Checker", fields: list[ir.Field]) -> None:
    """A derived field computed from a chain of more than MAX_DERIVED_DEPTH derived fields (SDS096): each
    link nests every later pass's expression one level deeper (its SQL, its checks). Longest chains are
    counted in one pass over the fields in an order where inputs come first (no recursion); a spec with a
    cycle (SDS017) is left to that error."""
    derived = [f for f in fields if f.role == "derived" and f.expr is not None]
    level = ir.derived_levels(derived)
    if level is None:
        return  # a cycle: SDS017 says so
    depth = {name: n + 1 for name, n in level.items()}  # fields in the chain, this one included
    for f in derived:  # declaration order: the first field past the limit
        if depth[f.name] > MAX_DERIVED_DEPTH:
            checker.report(Diagnostic(
                "SDS096", f"`{f.name}` is computed from a chain of {depth[f.name]:,} derived fields; the limit is "
                          f"{MAX_DERIVED_DEPTH}", checker.spans.get(f"field:{f.name}"),
                "compute it from sampled fields in fewer steps (a derived field may read many fields at once)"))
            return


def _domain(f: ir.Field) -> tuple | None:
    """The finite set of values a field can take, if it has one small enough to enumerate."""
    t = f.type
    if f.role == "sampled" and f.dist is not None and f.dist.kind == "shares":
        return tuple(s.value for s in f.dist.shares)
    if f.role == "sampled" and f.given is not None and all(c.dist.kind == "shares" for c in f.given.cases):
        return tuple(dict.fromkeys(s.value for c in f.given.cases for s in c.dist.shares))
    if t.kind in ("category", "enum") and t.values:
        return t.values
    if t.kind == "bool":
        return (True, False)
    if t.kind == "int" and t.low is not None and t.high - t.low < MAX_INT_VALUES:
        return tuple(range(int(t.low), int(t.high) + 1))
    return None


def check_constraints(checker: "Checker", fields: list[ir.Field], constraints: list[ir.Constraint]) -> None:
    """A row constraint over fields with finite domains that no combination satisfies is an error;
    one that every combination satisfies is a warning (it checks nothing)."""
    by_name = {f.name: f for f in fields}
    for c in constraints:
        if c.kind != "row" or not c.fields:
            continue
        domains = {}
        for name in c.fields:
            f = by_name.get(name)
            dom = _domain(f) if f is not None and f.role != "derived" else None
            if dom is None:
                break
            domains[name] = dom
        else:
            size = 1
            for d in domains.values():
                size *= len(d)
            if size > MAX_COMBINATIONS or size * _nodes(c.expr) > MAX_FEASIBILITY_EVALS:
                continue  # best effort: no verdict rather than minutes of enumeration
            names = list(domains)
            results = set()
            for combo in itertools.product(*(domains[n] for n in names)):
                try:
                    results.add(bool(evaluate(c.expr, dict(zip(names, combo)))))
                except (Unknown, *EVAL_ERRORS):
                    results.add(None)
                if len(results) > 1:
                    break
            span = checker.spans.get(f"constraint:{c.name}")
            described = ", ".join(f"{n} ({_describe(by_name[n])})" for n in names)
            if results == {False}:
                checker.report(Diagnostic("SDS018", f"constraint `{c.name}` can never hold: no value of {described} "
                                                    "satisfies it", span,
                                          "check the comparison against the field's values or range"))
            elif results == {True}:
                checker.report(Diagnostic("SDS103", f"constraint `{c.name}` always holds for every value of {described}",
                                          span, "it rejects nothing; check the comparison", severity="warning"))


def _nodes(e: ir.Expr) -> int:
    return 1 + sum(_nodes(a) for a in e.args)


def _describe(f: ir.Field) -> str:
    t = f.type
    if t.kind == "int" and t.low is not None and (f.dist is None or f.dist.kind != "shares"):
        return f"{t.low}..{t.high}"
    dom = _domain(f) or ()
    shown = ", ".join(_show(v) for v in dom[:6])
    return shown + (", ..." if len(dom) > 6 else "")
