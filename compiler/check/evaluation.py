"""Type rules of the evaluation aggregates (LANGUAGE.md, "Evaluating against real data"): max_similarity_to_real
and tstr_lift need the spec's reference (SDS160) and read fields it maps, a text and a categorical label
(SDS161). Checked from the root's reference declaration, so a missing mapping is found with the constraint."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import ast, ir

from .types import ERROR, NUMBER

if TYPE_CHECKING:
    from .exprs import ExprChecker, Scope


def check_eval(x: "ExprChecker", node: ast.Call, inner: "Scope"):
    refs = [d for d in x.c.root.ast.decls if isinstance(d, ast.Reference)]
    if not refs:
        return x.error("SDS160", f"`{node.fn}` compares the data with real rows, and the spec has no reference",
                       node.fn_span, 'declare the real data: reference real from "data/rows.jsonl" { column -> field }')
    mapped = {m.field for m in refs[0].maps}
    checked = x.check_args(node, inner)
    if checked is None:
        return None, ERROR
    *label, text = checked
    e, t, arg = text
    if e.kind != "ref" or t.kind != "string" or t.values is not None:
        return x.error("SDS161", f"`{node.fn}` measures a text field, found {t.describe()}", arg.span,
                       f"name a text field the reference maps, e.g. {node.fn}({'label, ' * bool(label)}body)")
    if label:
        le, lt, larg = label[0]
        if le.kind != "ref" or lt.values is None:
            return x.error("SDS161", f"the label of `tstr_lift` must be a categorical field, found {lt.describe()}",
                           larg.span, "name a category, enum or bool field, e.g. tstr_lift(sentiment, body)")
    for e, _, arg in checked:
        if e.field not in mapped:
            return x.error("SDS161", f"`{e.field}` is not mapped by reference `{refs[0].name}`, so there are no real "
                                     "values to compare", arg.span,
                           f"map its column: COLUMN -> {e.field} in reference {refs[0].name}")
    return ir.Expr(kind="call", type="number", fn=node.fn, args=tuple(e for e, _, _ in checked)), NUMBER
