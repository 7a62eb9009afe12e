"""The surface syntax of a .sds file as frozen dataclasses, each node with its source span.

Only `syntax.py` builds these and only `check/` and `fmt.py` read them; later passes read the IR.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Union

from .diagnostics import Span


# ---- expressions ------------------------------------------------------------


@dataclass(frozen=True)
class Lit:
    """A literal. kind: string, number, percent, date, bool. `value` is str, Fraction, str (ISO date) or bool."""

    kind: str
    value: object
    span: Span
    long: bool = False  # a string written with triple quotes


@dataclass(frozen=True)
class Ref:
    name: str
    span: Span


@dataclass(frozen=True)
class Call:
    fn: str
    args: tuple["Expr", ...]
    span: Span
    fn_span: Span


@dataclass(frozen=True)
class BinOp:
    """Arithmetic, comparison and logic: + - * / == != < <= > >= and or =>."""

    op: str
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True)
class Unary:
    """`not x` or `-x`."""

    op: str
    operand: "Expr"
    span: Span


@dataclass(frozen=True)
class Dot:
    """`obj.name`: a member of an object."""

    obj: "Expr"
    name: str
    span: Span
    name_span: Span


@dataclass(frozen=True)
class InList:
    value: "Expr"
    items: "Expr"
    negated: bool
    span: Span


@dataclass(frozen=True)
class InRange:
    value: "Expr"
    low: "Expr"
    high: "Expr"
    negated: bool
    span: Span


@dataclass(frozen=True)
class If:
    cond: "Expr"
    then: "Expr"
    otherwise: "Expr"
    span: Span


@dataclass(frozen=True)
class ListLit:
    items: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True)
class ObjectLit:
    entries: tuple[tuple[str, "Expr"], ...]
    span: Span


Expr = Union[Lit, Ref, Call, Dot, BinOp, Unary, InList, InRange, If, ListLit, ObjectLit]


# ---- settings, types, distributions ----------------------------------------


@dataclass(frozen=True)
class RangeLit:
    """`lo..hi` with literal bounds (numbers or dates)."""

    low: Lit
    high: Lit
    span: Span


@dataclass(frozen=True)
class Setting:
    key: str
    value: Union[Expr, RangeLit]
    span: Span
    key_span: Span


@dataclass(frozen=True)
class TypeExpr:
    """kind: category, bool, int, float, date, text, enum, list, object."""

    kind: str
    span: Span
    values: tuple[Lit, ...] | None = None
    range: RangeLit | None = None
    item: "TypeExpr | None" = None
    members: tuple["Member", ...] = ()


@dataclass(frozen=True)
class Member:
    name: str
    type: TypeExpr
    attrs: tuple[Setting, ...]
    span: Span


@dataclass(frozen=True)
class Share:
    """A probability as written: `40%`, `0.4` or `2/5`; `value` is exact."""

    value: Fraction
    text: str
    span: Span


@dataclass(frozen=True)
class ShareEntry:
    key: Lit
    share: Share
    span: Span


@dataclass(frozen=True)
class ShareTable:
    entries: tuple[ShareEntry, ...]
    span: Span


@dataclass(frozen=True)
class ShareDist:
    """`~ 80%`: the probability of true for a bool."""

    share: Share
    span: Span


@dataclass(frozen=True)
class DistArg:
    name: str
    value: Lit
    span: Span


@dataclass(frozen=True)
class NamedDist:
    """`uniform`, or `normal(mean = 40, sd = 12)` when args is not None."""

    name: str
    args: tuple[DistArg, ...] | None
    span: Span


Dist = Union[ShareTable, ShareDist, NamedDist]


@dataclass(frozen=True)
class Case:
    key: Lit
    dist: Dist
    span: Span


@dataclass(frozen=True)
class Given:
    field: str
    field_span: Span
    cases: tuple[Case, ...]
    span: Span


# ---- declarations -----------------------------------------------------------


@dataclass(frozen=True)
class ImportName:
    name: str
    alias: str | None
    span: Span


@dataclass(frozen=True)
class Import:
    """`from std.people import age_band` (std) or `from "./common.sds" import tone` (file)."""

    module: str
    is_file: bool
    names: tuple[ImportName, ...] | None  # None: `import *`
    span: Span
    module_span: Span


@dataclass(frozen=True)
class Dataset:
    name: str
    settings: tuple[Setting, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Field:
    name: str
    span: Span
    name_span: Span
    type: TypeExpr | None = None  # None for a derived field
    dist: Dist | Given | None = None
    source: str | None = None  # the prompt that writes a generated field
    source_span: Span | None = None
    expr: Expr | None = None  # a derived field's expression
    attrs: tuple[Setting, ...] = ()


@dataclass(frozen=True)
class JointEntry:
    keys: tuple[Lit, ...]
    share: Share
    span: Span


@dataclass(frozen=True)
class Joint:
    fields: tuple[str, ...]
    field_spans: tuple[Span, ...]
    entries: tuple[JointEntry, ...]
    span: Span


@dataclass(frozen=True)
class Fragment:
    name: str
    expr: Expr
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Prompt:
    name: str
    settings: tuple[Setting, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Judge:
    """`judge NAME { question = "..." answer = yes_no | LOW..HIGH ... }`: a question a model answers per row."""

    name: str
    settings: tuple[Setting, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Constraint:
    name: str
    expr: Expr
    span: Span
    name_span: Span
    per: tuple[Ref, ...] = ()  # `per A, B`: judged per group of rows sharing these fields' values


@dataclass(frozen=True)
class Def:
    name: str
    params: tuple[str, ...]
    expr: Expr
    span: Span
    name_span: Span


@dataclass(frozen=True)
class ColumnMap:
    """`COLUMN -> FIELD` in a reference block."""

    column: str
    field: str
    span: Span
    column_span: Span
    field_span: Span


@dataclass(frozen=True)
class Reference:
    """`reference NAME from "PATH" { COLUMN -> FIELD ... settings }`: a file of real rows."""

    name: str
    path: str
    maps: tuple[ColumnMap, ...]
    settings: tuple[Setting, ...]
    span: Span
    name_span: Span
    path_span: Span
    entries: tuple[Union[ColumnMap, Setting], ...] = ()  # maps and settings in written order (for fmt)


Decl = Union[Import, Dataset, Field, Joint, Fragment, Prompt, Judge, Constraint, Def, Reference]


@dataclass(frozen=True)
class Comment:
    text: str
    span: Span


@dataclass(frozen=True)
class Module:
    path: str
    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...] = field(default=())
