"""Evaluates IR row expressions on one row in Python.

Used where a pass must know a constraint's truth without a database: the checker (can a constraint ever
hold?) and the planner (which strata does a constraint between sampled fields forbid?). DuckDB remains the
judge of real rows; `validate` compiles the same trees to SQL, and the two agree on every function listed here.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Mapping

from .ir import Expr, Value

AGGREGATES = frozenset({"unique", "distinct_ratio", "mean", "median", "quantile", "min", "max", "tvd", "drift",
                        "share", "count", "distinct_n", "compression_ratio", "self_similarity", "near_unique",
                        "shortcut_lift", "max_similarity_to_real", "tstr_lift"})


class Unknown(Exception):
    """The expression reads a field the row does not have (e.g. generated text at planning time)."""


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def _words(s: str) -> int:
    return len(s.split())


_ROW_FUNCTIONS = {
    "length": lambda x: len(x),
    "word_count": lambda s: _words(s),
    "lower": lambda s: s.lower(),
    "upper": lambda s: s.upper(),
    "trim": lambda s: s.strip(),
    "contains": lambda s, t: t in s,
    "starts_with": lambda s, t: s.startswith(t),
    "ends_with": lambda s, t: s.endswith(t),
    "matches": lambda s, p: _regex(p).search(s) is not None,
    "abs": lambda x: abs(x),
}


# What evaluating a well-typed expression can raise besides Unknown: a value the operation cannot take.
EVAL_ERRORS = (TypeError, ValueError, KeyError, ZeroDivisionError, OverflowError)
NO_VALUE = object()


def value_of(expr: Expr, row: Mapping[str, Value], default=None):
    """The expression's value on `row`, or `default` when it has none (a field not known yet, or an error)."""
    try:
        return evaluate(expr, row)
    except (Unknown, *EVAL_ERRORS):
        return default


def evaluate(expr: Expr, row: Mapping[str, Value]) -> Value:
    """The value of a row-level expression on `row`; raises Unknown when a field it reads is absent."""
    k = expr.kind
    if k == "lit":
        return _finite(expr.value)
    if k == "ref":
        try:
            return row[expr.field]
        except KeyError:
            raise Unknown(expr.field) from None
    if k == "op":
        return _op(expr, row)
    if k == "in":
        x = evaluate(expr.args[0], row)
        found = any(x == evaluate(a, row) for a in expr.args[1:])
        return found != expr.negated
    if k == "member":
        obj = evaluate(expr.args[0], row)
        if not isinstance(obj, dict) or expr.field not in obj:
            raise Unknown(expr.field)
        return obj[expr.field]
    if k == "element":
        x, items = (evaluate(a, row) for a in expr.args)
        return (x in items) != expr.negated
    if k == "range":
        x, lo, hi = (evaluate(a, row) for a in expr.args)
        return (lo <= x <= hi) != expr.negated
    if k == "if":
        cond, then, other = expr.args
        return evaluate(then, row) if evaluate(cond, row) else evaluate(other, row)
    if k == "call":
        if expr.fn in AGGREGATES:
            raise Unknown(expr.fn)
        fn = _ROW_FUNCTIONS[expr.fn]
        return fn(*(evaluate(a, row) for a in expr.args))
    if k == "list":
        return [evaluate(a, row) for a in expr.args]
    raise ValueError(f"unknown expression kind {k}")


def _op(expr: Expr, row: Mapping[str, Value]) -> Value:
    op = expr.op
    if op == "not":
        return not evaluate(expr.args[0], row)
    if op == "neg":
        return -evaluate(expr.args[0], row)
    if op == "and":
        return bool(evaluate(expr.args[0], row)) and bool(evaluate(expr.args[1], row))
    if op == "or":
        return bool(evaluate(expr.args[0], row)) or bool(evaluate(expr.args[1], row))
    if op == "=>":
        return (not evaluate(expr.args[0], row)) or bool(evaluate(expr.args[1], row))
    a, b = (evaluate(x, row) for x in expr.args)
    if op == "+":
        return _finite(a + b)
    if op == "-":
        return _finite(a - b)
    if op == "*":
        return _finite(a * b)
    if op == "/":
        if b == 0:
            raise ZeroDivisionError("division by zero")  # no value, as in SQL (`a / nullif(b, 0)` is NULL)
        return _finite(a / b)
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    raise ValueError(f"unknown operator {op}")


MAX_INT = 2**63 - 1  # an int field is a BIGINT in DuckDB


def _finite(v):
    """A number a dataset can hold: never NaN or infinity (JSON has neither), no int beyond BIGINT."""
    if isinstance(v, float) and not math.isfinite(v):
        raise OverflowError("the result is not a finite number")
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_INT:
        raise OverflowError("the result is beyond a 64-bit integer")
    return v


def holds(expr: Expr, row: Mapping[str, Value]) -> bool | None:
    """True or False for a row constraint on `row`, or None when the row lacks a field it reads."""
    try:
        return bool(evaluate(expr, row))
    except Unknown:
        return None
