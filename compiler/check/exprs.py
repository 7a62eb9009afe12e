"""Expressions: name resolution, type rules and lowering to IR `Expr`, with `def` predicates inlined.

A checked expression carries a `T`: its type and, where it is finite and known, the set of values it can take
(a category field, an enum, a bool). That set is what lets `sentiment == "negatve"` be an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import ast, ir
from ..diagnostics import Diagnostic, Span, did_you_mean
from ..evaluate import AGGREGATES
from .regex import regex_problem
from .judges import FORMS
from .quality import QUALITY, check_quality
from .evaluation import check_eval
from .types import BOOL, ERROR, NUMBER, STRING, T, literal_type, literal_value, t_of
from ..evaluation import EVAL

if TYPE_CHECKING:
    from . import Checker
    from .modules import ModuleInfo


# Limits that a real spec never reaches (LANGUAGE.md, "Expressions"): past them, checking would exhaust
# Python's recursion or the machine's memory instead of saying what is wrong.
MAX_DEF_DEPTH = 32  # predicates calling predicates
MAX_EXPANDED_NODES = 200_000  # nodes of one expression once every `def` call in it is expanded

ROW_FUNCTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    # name: (argument kinds, result kind); "text|list" accepts either
    "length": (("string|list",), "number"),
    "word_count": (("string",), "number"),
    "lower": (("string",), "string"),
    "upper": (("string",), "string"),
    "trim": (("string",), "string"),
    "contains": (("string", "string"), "bool"),
    "starts_with": (("string", "string"), "bool"),
    "ends_with": (("string", "string"), "bool"),
    "matches": (("string", "string"), "bool"),
    "abs": (("number",), "number"),
}
AGGREGATE_ARITY = {"unique": (1, 8), "distinct_ratio": (1, 1), "mean": (1, 1), "median": (1, 1), "min": (1, 1),
                   "max": (1, 1), "quantile": (2, 2), "tvd": (1, 1), "drift": (1, 1), "share": (1, 1),
                   "count": (0, 0), "distinct_n": (2, 2), "compression_ratio": (1, 1), "self_similarity": (1, 1),
                   "near_unique": (2, 2), "shortcut_lift": (2, 2),
                   "max_similarity_to_real": (1, 1), "tstr_lift": (2, 2)}
ALL_FUNCTIONS = sorted(set(ROW_FUNCTIONS) | set(AGGREGATE_ARITY))


@dataclass
class Scope:
    """Where an expression is checked: its module, the `def` parameters bound, and what it may use."""

    module: "ModuleInfo"
    params: dict[str, tuple[ast.Expr, "Scope"]]  # a def's parameters: the argument and the caller's scope
    aggregates: bool  # dataset-level context: aggregates allowed at the top
    in_aggregate: bool = False
    def_stack: tuple[str, ...] = ()


class ExprChecker:
    def __init__(self, checker: "Checker"):
        self.c = checker
        self._guards: list[set[str]] = []  # fields read by the conditions of the `if`s being checked
        # nodes of the top-level expression being checked, `def` bodies once per call (MAX_EXPANDED_NODES)
        self._depth = self._work = 0
        self._too_big = False

    def error(self, code: str, message: str, span: Span, hint: str | None = None) -> tuple[None, T]:
        self.c.report(Diagnostic(code, message, span, hint))
        return None, ERROR

    def check_args(self, node: ast.Call, scope: Scope) -> list[tuple[ir.Expr, T, ast.Expr]] | None:
        """(IR, type, node) of each argument of a call; None when one has an error (already reported)."""
        out = []
        for arg in node.args:
            e, t = self.check(arg, scope)
            if e is None:
                return None
            out.append((e, t, arg))
        return out

    # -- entry point
    def check(self, node: ast.Expr, scope: Scope) -> tuple[ir.Expr | None, T]:
        if self._depth == 0:  # a top-level expression: its own budget
            self._work, self._too_big = 0, False
        self._work += 1
        if self._work > MAX_EXPANDED_NODES:
            if not self._too_big:
                self._too_big = True
                return self.error("SDS032", f"this expression grows beyond {MAX_EXPANDED_NODES:,} nodes once "
                                            "predicates are expanded", node.span,
                                  "a `def` that calls another twice doubles at every level: call it once, or "
                                  "move the shared part into a derived field")
            return None, ERROR
        self._depth += 1
        try:
            return getattr(self, "_" + type(node).__name__)(node, scope)
        finally:
            self._depth -= 1

    def _Lit(self, node: ast.Lit, scope: Scope):
        t = literal_type(node)
        return ir.Expr(kind="lit", type=t.kind, value=literal_value(node)), t

    def _Ref(self, node: ast.Ref, scope: Scope):
        if node.name in scope.params:
            # arguments are checked where the parameter is used, so `def ok(f) = tvd(f) < 2%` sees `f`
            # inside its aggregate
            arg, caller = scope.params[node.name]
            return self.check(arg, Scope(caller.module, caller.params, scope.aggregates, scope.in_aggregate,
                                         caller.def_stack))
        found = self.c.lookup(scope.module, node.name)
        if found is None:
            values = [n for n, (k, _) in scope.module.scope.items()
                      if isinstance(self.c.decl(k), (ast.Field, ast.Fragment))]
            hint = did_you_mean(node.name, values + list(scope.params))
            return self.error("SDS010", f"undefined name `{node.name}`", node.span, hint)
        key, decl = found
        if isinstance(decl, ast.Field):
            final = self.c.final_name(key, node.span)
            if final is None:
                return None, ERROR
            t = self.c.field_t(final)
            if t.kind == "error":
                return None, ERROR  # already reported where the field is declared
            if scope.aggregates and not scope.in_aggregate:
                return self.error("SDS028", f"field `{node.name}` is used outside an aggregate in a dataset-level constraint",
                                  node.span, "wrap it in an aggregate such as mean(...), or split the constraint in two")
            return ir.Expr(kind="ref", type=t.kind, field=final), T(t.kind, t.values, final, t.integral, t.typ)
        if isinstance(decl, ast.Fragment):
            text = self.c.fragment_text(key)
            if text is None:
                return None, ERROR
            return ir.Expr(kind="lit", type="string", value=text), STRING
        if isinstance(decl, ast.Judge):
            return self.error("SDS072", f"judge `{node.name}` is read only by a judge constraint, alone", node.span,
                              FORMS)
        what = {ast.Prompt: "a prompt", ast.Constraint: "a constraint", ast.Def: "a predicate"}[type(decl)]
        hint = f"call it with arguments: {node.name}(...)" if isinstance(decl, ast.Def) else None
        return self.error("SDS012", f"`{node.name}` is {what}, not a value", node.span, hint)

    def _Unary(self, node: ast.Unary, scope: Scope):
        e, t = self.check(node.operand, scope)
        if e is None:
            return None, ERROR
        if node.op == "not":
            if t.kind != "bool":
                return self.error("SDS012", f"`not` needs a boolean, found {t.describe()}", node.operand.span)
            return ir.Expr(kind="op", type="bool", op="not", args=(e,)), BOOL
        if t.kind != "number":
            return self.error("SDS012", f"`-` needs a number, found {t.describe()}", node.operand.span)
        return ir.Expr(kind="op", type="number", op="neg", args=(e,)), T("number", integral=t.integral)

    def _BinOp(self, node: ast.BinOp, scope: Scope):
        left, lt = self.check(node.left, scope)
        right, rt = self.check(node.right, scope)
        if left is None or right is None:
            return None, ERROR
        op = node.op
        if op in ("and", "or", "=>"):
            for side, t in ((node.left, lt), (node.right, rt)):
                if t.kind != "bool":
                    return self.error("SDS012", f"`{op}` needs booleans on both sides, found {t.describe()}", side.span)
            return ir.Expr(kind="op", type="bool", op=op, args=(left, right)), BOOL
        if op in ("==", "!="):
            if not self._comparable(node, lt, rt, node.left, node.right):
                return None, ERROR
            return ir.Expr(kind="op", type="bool", op=op, args=(left, right)), BOOL
        if op in ("<", "<=", ">", ">="):
            for side, t in ((node.left, lt), (node.right, rt)):
                if t.kind not in ("number", "date"):
                    return self.error("SDS012", f"`{op}` compares numbers or dates, found {t.describe()}", side.span,
                                      "compare text with ==, contains(...) or matches(...)" if t.kind == "string" else None)
            if lt.kind != rt.kind:
                return self.error("SDS012", f"cannot compare {lt.describe()} with {rt.describe()}", node.span)
            return ir.Expr(kind="op", type="bool", op=op, args=(left, right)), BOOL
        # arithmetic
        if op == "+" and lt.kind == "string" and rt.kind == "string":
            return ir.Expr(kind="op", type="string", op="+", args=(left, right)), STRING
        for side, t in ((node.left, lt), (node.right, rt)):
            if t.kind != "number":
                return self.error("SDS012", f"`{op}` needs numbers, found {t.describe()}", side.span)
        if op == "/":
            self._divisor(node.right, rt)
        integral = lt.integral and rt.integral and op != "/"
        return ir.Expr(kind="op", type="number", op=op, args=(left, right)), T("number", integral=integral)

    def _divisor(self, node: ast.Expr, t: T) -> None:
        """SDS155 when the divisor's values, as far as the checker sees them (a finite domain, or a field's
        declared range), include 0: such a row gets no value (LANGUAGE.md, "Operators")."""
        if t.field is not None and any(t.field in g for g in self._guards):
            return
        zero = t.values is not None and 0 in t.values
        if not zero and t.values is None and t.field is not None and isinstance(node, ast.Ref):
            typed = self.c.field_type(t.field)
            typ = typed[0] if typed else None
            zero = typ is not None and typ.kind in ("int", "float") and typ.low is not None \
                and typ.low <= 0 <= typ.high
        if zero:
            who = f"`{t.field}`" if t.field else "the divisor"
            self.c.report(Diagnostic("SDS155", f"{who} can be 0 here: a row where it is gets no value", node.span,
                                     "keep the divisor away from 0 (its range, or `if d == 0 then ... else`)",
                                     severity="warning"))

    def _comparable(self, node, lt: T, rt: T, lnode, rnode) -> bool:
        if lt.kind == "error" or rt.kind == "error":
            return False
        if lt.kind != rt.kind:
            field_side, other, other_node = (lt, rt, rnode) if lt.field else (rt, lt, lnode)
            self.error("SDS012", f"cannot compare {field_side.describe()} with {other.describe()}",
                       other_node.span if field_side.field else node.span,
                       _value_hint(field_side))
            return False
        return self._values_exist(lt, rt, lnode, rnode)

    def _values_exist(self, lt: T, rt: T, lnode, rnode) -> bool:
        for fld, lit, lit_node in ((lt, rt, rnode), (rt, lt, lnode)):
            if fld.field and fld.values is not None and isinstance(lit_node, ast.Lit):
                v = literal_value(lit_node)
                if v not in fld.values:
                    hint = did_you_mean(str(v), [str(x) for x in fld.values]) if isinstance(v, str) else None
                    self.error("SDS011", f"{_show(v)} is not a value of `{fld.field}`", lit_node.span,
                               hint or _value_hint(fld))
                    return False
        return True

    def _Dot(self, node: ast.Dot, scope: Scope):
        obj, ot = self.check(node.obj, scope)
        if obj is None:
            return None, ERROR
        if ot.kind != "object" or ot.typ is None:
            return self.error("SDS012", f"`.{node.name}` reads a member of an object, found {ot.describe()}",
                              node.obj.span)
        members = {m.name: m for m in ot.typ.members}
        if node.name not in members:
            owner = f"`{ot.field}`" if ot.field else "the object"
            hint = did_you_mean(node.name, list(members)) or f"{owner} has {', '.join(f'`{m}`' for m in members)}"
            return self.error("SDS050", f"{owner} has no member `{node.name}`", node.name_span, hint)
        path = f"{ot.field}.{node.name}" if ot.field else node.name
        t = t_of(members[node.name].type, path)
        return ir.Expr(kind="member", type=t.kind, field=node.name, args=(obj,)), t

    def _element(self, node: ast.InList, value: ir.Expr, vt: T, scope: Scope):
        """`x in LIST`: `x` is an item of a list-valued expression (a list field, a list member)."""
        items, lt = self.check(node.items, scope)
        if value is None or items is None:
            return None, ERROR
        if lt.kind != "list" or lt.typ is None or lt.typ.item is None:
            return self.error("SDS012", f"`in` takes a list `[a, b]`, a list field or a range `a..b`, found "
                                        f"{lt.describe()}", node.items.span)
        item = t_of(lt.typ.item, f"{lt.field}[]" if lt.field else None)
        if item.kind != vt.kind:
            kinds = {"string": "text", "number": "numbers", "bool": "booleans", "date": "dates", "list": "lists",
                     "object": "objects"}
            return self.error("SDS012", f"cannot look for {vt.describe()} in {lt.describe()}: its items are "
                                        f"{kinds.get(item.kind, item.kind)}", node.value.span)
        if item.values is not None and isinstance(node.value, ast.Lit):
            v = literal_value(node.value)
            if v not in item.values:
                hint = did_you_mean(str(v), [str(x) for x in item.values]) if isinstance(v, str) else None
                shown = ", ".join(_show(x) for x in item.values[:12])
                return self.error("SDS011", f"{_show(v)} is not a value of the items of `{lt.field or 'the list'}`",
                                  node.value.span, hint or f"its items take {shown}")
        return ir.Expr(kind="element", type="bool", negated=node.negated, args=(value, items)), BOOL

    def _InList(self, node: ast.InList, scope: Scope):
        value, vt = self.check(node.value, scope)
        if not isinstance(node.items, ast.ListLit):
            return self._element(node, value, vt, scope)
        items = []
        for item in node.items.items:
            e, t = self.check(item, scope)
            if e is None or value is None:
                continue
            if not self._comparable(node, vt, t, node.value, item):
                return None, ERROR
            items.append(e)
        if value is None or len(items) != len(node.items.items):
            return None, ERROR
        return ir.Expr(kind="in", type="bool", negated=node.negated, args=(value, *items)), BOOL

    def _InRange(self, node: ast.InRange, scope: Scope):
        parts = [self.check(x, scope) for x in (node.value, node.low, node.high)]
        if any(e is None for e, _ in parts):
            return None, ERROR
        kinds = {t.kind for _, t in parts}
        if len(kinds) != 1 or kinds - {"number", "date"}:
            return self.error("SDS012", "a range compares numbers or dates of one kind", node.span)
        return ir.Expr(kind="range", type="bool", negated=node.negated, args=tuple(e for e, _ in parts)), BOOL

    def _If(self, node: ast.If, scope: Scope):
        cond, ct = self.check(node.cond, scope)
        # a branch of `if d == 0 then ... else x / d` may divide by d: the condition guards it (SDS155)
        self._guards.append(cond.refs() if cond is not None else set())
        try:
            then, tt = self.check(node.then, scope)
            other, ot = self.check(node.otherwise, scope)
        finally:
            self._guards.pop()
        if cond is None or then is None or other is None:
            return None, ERROR
        if ct.kind != "bool":
            return self.error("SDS012", f"the condition of `if` must be a boolean, found {ct.describe()}", node.cond.span)
        if tt.kind != ot.kind:
            return self.error("SDS012", f"the branches of `if` differ: {tt.describe()} and {ot.describe()}", node.span)
        values = tuple(dict.fromkeys((tt.values or ()) + (ot.values or ()))) if tt.values and ot.values else None
        return ir.Expr(kind="if", type=tt.kind, args=(cond, then, other)), T(tt.kind, values,
                                                                                integral=tt.integral and ot.integral)

    def _ListLit(self, node: ast.ListLit, scope: Scope):
        return self.error("SDS012", "a list is only allowed after `in`", node.span)

    def _ObjectLit(self, node: ast.ObjectLit, scope: Scope):
        return self.error("SDS012", "an object is only allowed as a prompt example", node.span)

    def _Call(self, node: ast.Call, scope: Scope):
        found = self.c.lookup(scope.module, node.fn)
        if found is not None and isinstance(found[1], ast.Def):
            return self._inline(node, found, scope)
        if node.fn in ROW_FUNCTIONS:
            return self._row_call(node, scope)
        if node.fn in AGGREGATE_ARITY:
            return self._aggregate(node, scope)
        defs = [n for n, (k, _) in scope.module.scope.items() if isinstance(self.c.decl(k), ast.Def)]
        hint = did_you_mean(node.fn, ALL_FUNCTIONS + defs)
        return self.error("SDS010", f"unknown function `{node.fn}`", node.fn_span, hint)

    def _row_call(self, node: ast.Call, scope: Scope):
        kinds, result = ROW_FUNCTIONS[node.fn]
        if len(node.args) != len(kinds):
            return self.error("SDS019", f"`{node.fn}` takes {len(kinds)} argument{'s' * (len(kinds) != 1)}, "
                                        f"got {len(node.args)}", node.span)
        args = []
        for arg, want in zip(node.args, kinds):
            e, t = self.check(arg, scope)
            if e is None:
                return None, ERROR
            if t.kind not in want.split("|"):
                return self.error("SDS012", f"`{node.fn}` needs {want.replace('|', ' or ').replace('string', 'text')}, "
                                            f"found {t.describe()}", arg.span)
            args.append(e)
        if node.fn == "matches":
            pattern = node.args[1]
            if not (isinstance(pattern, ast.Lit) and pattern.kind == "string"):
                return self.error("SDS019", "the pattern of `matches` must be a string literal", pattern.span)
            problem = regex_problem(pattern.value)
            if problem is not None:
                return self.error(problem.code, problem.message, pattern.span, problem.hint)
        integral = result == "number"
        return ir.Expr(kind="call", type=result, fn=node.fn, args=tuple(args)), T(result, integral=integral)

    def _aggregate(self, node: ast.Call, scope: Scope):
        if not scope.aggregates:
            return self.error("SDS028", f"`{node.fn}` is an aggregate; it cannot appear in a row-level expression",
                              node.fn_span, "dataset-level constraints are comparisons of aggregates, e.g. mean(rating) >= 3")
        if scope.in_aggregate:
            return self.error("SDS028", f"aggregate `{node.fn}` inside another aggregate", node.fn_span)
        lo, hi = AGGREGATE_ARITY[node.fn]
        if not lo <= len(node.args) <= hi:
            want = f"{lo}" if lo == hi else f"{lo} to {hi}"
            return self.error("SDS019", f"`{node.fn}` takes {want} argument{'s' * (hi != 1)}, got {len(node.args)}",
                              node.span)
        inner = Scope(scope.module, scope.params, scope.aggregates, True, scope.def_stack)
        if node.fn in QUALITY:
            return check_quality(self, node, inner)
        if node.fn in EVAL:
            return check_eval(self, node, inner)
        if node.fn == "quantile":
            q = node.args[1]
            if not (isinstance(q, ast.Lit) and q.kind in ("number", "percent") and 0 <= q.value <= 1):
                return self.error("SDS019", "the second argument of `quantile` is a number from 0 to 1", q.span)
        args = self.check_args(node, inner)
        if args is None:
            return None, ERROR
        if node.fn in ("mean", "median", "min", "max", "quantile") and args[0][1].kind != "number":
            return self.error("SDS012", f"`{node.fn}` needs a number, found {args[0][1].describe()}", node.args[0].span)
        if node.fn == "share" and args[0][1].kind != "bool":
            return self.error("SDS012", f"`share` needs a condition, found {args[0][1].describe()}", node.args[0].span)
        if node.fn in ("tvd", "drift"):
            e, t, arg = args[0]
            if e.kind != "ref" or not self.c.has_target(e.field):
                return self.error("SDS019", f"`{node.fn}` compares a sampled categorical field with its target",
                                  arg.span, "name a field with shares, e.g. tvd(sentiment)")
        return ir.Expr(kind="call", type="bool" if node.fn == "unique" else "number", fn=node.fn,
                       args=tuple(e for e, _, _ in args)), (BOOL if node.fn == "unique" else NUMBER)

    def _inline(self, node: ast.Call, found, scope: Scope):
        key, d = found
        qualified = f"{key.module}:{key.name}"
        if qualified in scope.def_stack:
            chain = " -> ".join(s.split(":", 1)[1] for s in scope.def_stack + (qualified,))
            return self.error("SDS017", f"predicate `{node.fn}` calls itself: {chain}", node.fn_span)
        if len(scope.def_stack) >= MAX_DEF_DEPTH:
            return self.error("SDS032", f"predicates call each other more than {MAX_DEF_DEPTH} deep here",
                              node.fn_span, "call fewer predicates in a chain: inline a few of them")
        if len(node.args) != len(d.params):
            return self.error("SDS019", f"`{node.fn}` takes {len(d.params)} argument{'s' * (len(d.params) != 1)}, "
                                        f"got {len(node.args)}", node.span)
        bound = {name: (arg, scope) for name, arg in zip(d.params, node.args)}
        body_scope = Scope(self.c.modules[key.module], bound, scope.aggregates, scope.in_aggregate,
                           scope.def_stack + (qualified,))
        return self.check(d.expr, body_scope)


def _show(v) -> str:
    return f'"{v}"' if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)


def _value_hint(t: T) -> str | None:
    if t.values is None or not t.field:
        return None
    shown = ", ".join(_show(v) for v in t.values[:12])
    more = f" and {len(t.values) - 12} more" if len(t.values) > 12 else ""
    return f"`{t.field}` takes {shown}{more}"


def aggregates_in(e: ir.Expr) -> bool:
    return (e.kind == "call" and e.fn in AGGREGATES) or any(aggregates_in(a) for a in e.args)
