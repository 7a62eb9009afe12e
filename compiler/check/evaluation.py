"""Type rules of the evaluation aggregates (LANGUAGE.md, "Evaluating against real data"): max_similarity_to_real
and tstr_lift need the spec's reference (SDS160) and read fields it maps, a text and a categorical label
(SDS161). Checked from the root's reference declaration, so a missing mapping is found with the constraint.
They take no `per` (SDS162), and a bound that can never or always hold is a warning (SDS163)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import ast, ir

from .types import ERROR, NUMBER

# SDS162: why each evaluation aggregate takes no `per`
EVAL_PER_HINTS = {
    "tstr_lift": "the lift compares classifiers of the label over all of it: a group of rows has too few held-out "
                 "rows to test, and `per label` leaves one label per group; drop `per`",
    "max_similarity_to_real": "the bound is on every synthetic text already, whatever its group: drop `per`",
}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


def eval_bound_warnings(e: ir.Expr) -> list[tuple[str, str]]:
    """SDS163: comparisons of an evaluation aggregate with a number that can never or always hold (a lift lies in
    -1..1, a similarity in 0..1), or that ask for copies of real rows. (message, hint) each."""
    out = []
    for node in e.walk():
        if node.kind != "op" or node.op not in _FLIP or len(node.args) != 2:
            continue
        a, b = node.args
        op = node.op
        if a.kind == "lit" and b.kind == "call":
            a, b, op = b, a, _FLIP[op]
        if a.kind != "call" or a.fn not in ("tstr_lift", "max_similarity_to_real") or b.kind != "lit" \
                or isinstance(b.value, bool) or not isinstance(b.value, (int, float)):
            continue
        x = float(b.value)
        text = f"{a.fn}(...) {op} {b.value:g}"
        lo, hi = (-1.0, 1.0) if a.fn == "tstr_lift" else (0.0, 1.0)
        never = (op == ">=" and x > hi) or (op == ">" and x >= hi) or (op == "<=" and x < lo) or (op == "<" and x <= lo)
        always = (op == ">=" and x <= lo) or (op == ">" and x < lo) or (op == "<=" and x >= hi) or (op == "<" and x > hi)
        what = "a lift (a difference of two macro-F1 scores) lies in -1..1" if a.fn == "tstr_lift" \
            else "a similarity lies in 0..1"
        if never:
            out.append((f"`{text}` can never hold: {what}",
                        "e.g. tstr_lift(label, text) >= 0" if a.fn == "tstr_lift" else "e.g. max_similarity_to_real(text) <= 0.8"))
        elif always:
            out.append((f"`{text}` always holds: {what}, so it decides nothing",
                        "e.g. tstr_lift(label, text) >= 0" if a.fn == "tstr_lift" else "e.g. max_similarity_to_real(text) <= 0.8"))
        elif a.fn == "max_similarity_to_real" and op in (">", ">="):
            out.append((f"`{text}` holds only when some synthetic text nearly copies a real one",
                        "bound copying from above: max_similarity_to_real(text) <= 0.8"))
    return out


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
