"""The types of checked expressions: a `T` is a type and, where it is finite and known, the values an
expression can take (a category field, an enum, a bool). Shared by the expression checker (exprs.py), the
aggregate rules it calls (quality.py, evaluation.py) and the checker of fields (the package's __init__)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .. import ast, ir
from ..evaluate import MAX_INT


@dataclass(frozen=True)
class T:
    """kind: string | number | bool | date | list | object | any | error."""

    kind: str
    values: tuple | None = None  # a finite domain, when known
    field: str | None = None  # the field this value reads directly, for messages
    integral: bool = False
    typ: "ir.Type | None" = None  # the declared type of a list or an object: its items and members

    def describe(self) -> str:
        who = f"`{self.field}` " if self.field else ""
        kind = {"string": "text", "number": "a number", "bool": "a boolean", "date": "a date",
                "list": "a list", "object": "an object"}.get(self.kind, self.kind)
        return f"{who}({kind})" if who else kind


ERROR = T("error")
BOOL = T("bool", (True, False))
NUMBER = T("number")
STRING = T("string")

def literal_value(lit: ast.Lit):
    """A literal's value as it appears in data and IR: int for whole numbers, float otherwise."""
    if lit.kind in ("number", "percent"):
        v: Fraction = lit.value
        # a whole number beyond 64 bits is a float: DuckDB, where every expression is checked, has no bigger int
        return int(v) if v.denominator == 1 and lit.kind == "number" and abs(v) <= MAX_INT else float(v)
    return lit.value


def literal_type(lit: ast.Lit) -> T:
    if lit.kind in ("number", "percent"):
        v = literal_value(lit)
        return T("number", (v,), integral=isinstance(v, int))
    if lit.kind == "bool":
        return T("bool", (lit.value,))
    return T("date" if lit.kind == "date" else "string", (lit.value,))


def t_of(typ: ir.Type, name: str) -> T:
    """The T of a value of the declared type `typ`, read under the name `name`."""
    k = typ.kind
    if k in ("category", "enum"):
        values = typ.values
        kinds = {type(v) for v in values or ()}
        if kinds and kinds <= {int, float}:
            return T("number", values, name, kinds == {int})
        return T("string", values, name)
    if k == "bool":
        return T("bool", (True, False), name)
    if k in ("int", "float"):
        return T("number", None, name, k == "int")
    if k == "date":
        return T("date", None, name)
    if k == "text":
        return T("string", None, name)
    return T(k, None, name, typ=typ)

