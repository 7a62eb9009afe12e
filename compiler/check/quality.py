"""Type rules of the content-quality aggregates (LANGUAGE.md, "Content quality"): distinct_n, compression_ratio,
self_similarity, near_unique and shortcut_lift. Misuse is SDS070 (wrong argument kind or literal out of range)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import ast, ir

if TYPE_CHECKING:
    from .exprs import ExprChecker, Scope

from ..quality import QUALITY
from .types import BOOL, ERROR, NUMBER, literal_value


def check_quality(x: "ExprChecker", node: ast.Call, inner: "Scope"):
    fn = node.fn
    text_arg = node.args[1] if fn == "shortcut_lift" else node.args[0]
    args = []
    for arg in node.args:
        if arg is not text_arg and fn != "shortcut_lift":
            continue  # the literal second argument, checked below
        e, t = x.check(arg, inner)
        if e is None:
            return None, ERROR
        args.append((e, t, arg))
    text = args[-1] if fn == "shortcut_lift" else args[0]
    if text[0].kind != "ref" or text[1].kind != "string" or text[1].values is not None:
        t = text[1]
        found = (f"`{t.field}` (a categorical field)" if t.field and t.values is not None else
                 t.describe() if text[0].kind == "ref" else f"an expression ({t.describe()})")
        return x.error("SDS070", f"`{fn}` measures a text field, found {found}", text[2].span,
                       f"name a text field, e.g. {fn}(body{', 2' if fn == 'distinct_n' else ''})")
    out = [text[0]]
    if fn == "shortcut_lift":
        e, t, arg = args[0]
        if e.kind != "ref" or t.values is None:
            return x.error("SDS070", f"the label of `shortcut_lift` must be a categorical field, found {t.describe()}",
                           arg.span, "name a category, enum or bool field, e.g. shortcut_lift(sentiment, body)")
        out = [e, text[0]]
    elif fn in ("distinct_n", "near_unique"):
        lit = node.args[1]
        ok = isinstance(lit, ast.Lit) and lit.kind in ("number", "percent")
        v = literal_value(lit) if ok else None
        if fn == "distinct_n" and not (ok and isinstance(v, int) and 1 <= v <= 3):
            return x.error("SDS070", "the n of `distinct_n` is a whole number from 1 to 3", lit.span,
                           "e.g. distinct_n(body, 2) for distinct bigrams")
        if fn == "near_unique" and not (ok and 0 < v < 1):
            return x.error("SDS070", "the threshold of `near_unique` is a number between 0 and 1 (exclusive)",
                           lit.span, "a Jaccard resemblance of word 3-shingles, e.g. near_unique(body, 0.8)")
        out.append(ir.Expr(kind="lit", type="number", value=v))
    result = BOOL if fn == "near_unique" else NUMBER
    return ir.Expr(kind="call", type=result.kind, fn=fn, args=tuple(out)), result
