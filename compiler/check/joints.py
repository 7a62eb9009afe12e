"""Joint tables: `joint a, b { ("x", "y"): 20% ... }` over sampled categorical fields."""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from .. import ast, ir
from ..diagnostics import Diagnostic, did_you_mean
from ..limits import MAX_JOINT_CELLS
from ..syntax import joint_cells_diagnostic
from .exprs import _show, literal_value

if TYPE_CHECKING:
    from . import Checker


def check_joint(c: "Checker", j: ast.Joint) -> ir.Joint | None:
    """A joint table: sampled categorical fields, cells of the right width and values, shares adding to 100%,
    and agreement with any shares the fields declare themselves."""
    if len(j.entries) > MAX_JOINT_CELLS:
        c.report(joint_cells_diagnostic(len(j.entries), j.entries[MAX_JOINT_CELLS].span))
        return None
    fields = []
    ok = True
    for name, span in zip(j.fields, j.field_spans):
        f = c._fields.get(name)
        if name not in c.field_names:
            c.report(Diagnostic("SDS010", f"undefined field `{name}`", span, did_you_mean(name, c.field_names)))
            ok = False
        elif f is None:
            ok = False
        elif f.role != "sampled" or f.given is not None or f.type.kind not in ("category", "bool"):
            c.report(Diagnostic("SDS025", f"`{name}` cannot be in a joint table: it must be a sampled category "
                                          "or bool without `given`", span))
            ok = False
        elif name in fields:
            c.report(Diagnostic("SDS025", f"`{name}` appears twice in the joint table", span))
            ok = False
        else:
            fields.append(name)
    if not ok:
        return None
    domains = [set(c._fields[n].type.values or (True, False)) for n in fields]  # sets: linear in the cells
    cells = []
    seen = set()
    total = Fraction(0)
    for entry in j.entries:
        if len(entry.keys) != len(fields):
            c.report(Diagnostic("SDS025", f"a cell of this table has {len(entry.keys)} values, "
                                          f"one for each of {len(fields)} fields expected", entry.span))
            ok = False
            continue
        values = tuple(literal_value(k) for k in entry.keys)
        for v, k, dom, name in zip(values, entry.keys, domains, fields):
            if v not in dom:
                c.report(Diagnostic("SDS011", f"{_show(v)} is not a value of `{name}`", k.span,
                                 did_you_mean(str(v), sorted(str(x) for x in dom))))
                ok = False
        if values in seen:
            c.report(Diagnostic("SDS005", "this cell is listed twice", entry.span))
            ok = False
        seen.add(values)
        total += entry.share.value
        cells.append(ir.JointCell(values=values, share=float(entry.share.value)))
    if ok and total != 1:
        c.report(Diagnostic("SDS013", f"the shares of the joint table add up to {float(total * 100):g}%, not 100%",
                            j.span, "cells not listed get 0%"))
        ok = False
    if ok:
        ok = _matches_marginals(c, j, fields, cells)
    return ir.Joint(fields=tuple(fields), cells=tuple(cells)) if ok else None


def _matches_marginals(c: "Checker", j: ast.Joint, fields: list[str], cells: list[ir.JointCell]) -> bool:
    """Where a field of the table declares its own shares, the table must sum to them."""
    for i, name in enumerate(fields):
        f = c._fields[name]
        if f.dist is None:
            continue
        margin: dict = {}
        for cell in cells:
            margin[cell.values[i]] = margin.get(cell.values[i], 0) + cell.share
        for s in f.dist.shares:
            if abs(margin.get(s.value, 0) - s.share) > 1e-9:
                c.report(Diagnostic(
                 "SDS025", f"the joint table gives `{name}` = {_show(s.value)} {margin.get(s.value, 0) * 100:g}%, "
                           f"but `{name}` declares {s.share * 100:g}%", j.span,
                 f"make them agree, or drop the shares from `{name}` and let the joint table set them"))
                return False
    return True
