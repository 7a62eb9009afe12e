"""Per-row type checks: every value of every spec field against its declared type, compiled to DuckDB.

One check per field present in DATA, named `type:FIELD`. A row breaks it when its value is missing (NULL: no
field is nullable, see LANGUAGE.md "Fields and types"), is not of the field's type (a number in a text field,
2.5 in an int field, a value that does not parse as a date), lies outside the field's domain (a category or
enum value not listed) or range (`int in 1..5`, `date in ...`), or, for a derived field, differs from its
expression. Lists check every item against the item type; objects check that every member is there and of its
type, recursively. Each row gets the FIRST problem found, in that order, as a number into `Rule.reasons`, so a
check's count is a count of rows and its detail splits them by problem.

Scalars are checked on the typed column of `data` (load.py), and, where load.py had to cast a column (CSV text,
a JSON column of mixed types), on the value as the file held it too: the staged table `source`, read in step
with `data` by a POSITIONAL JOIN. Lists and objects are checked as JSON (`to_json` of a STRUCT or LIST column,
or the text of a CSV cell), which reads the same whatever types DuckDB inferred for them.

Every field of a spec is checked in ONE scan (checks.type_checks); member names and values are parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..ir import Field, Spec, Type
from .load import SOURCE, TABLE, Loaded, coerce, sql_type
from .sql import _Compiler, ident, sds_literal

DATA_ALIAS, SOURCE_ALIAS = "d", "s"
_TOLERANCE = 1e-9  # relative: a derived float read back from a file may differ in its last bits
_NUMBER_JSON = ("BIGINT", "UBIGINT", "DOUBLE")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Rule:
    """One field's type check: `case` is a SQL CASE giving, per row, the number (1-based) of the first problem
    in `reasons`, or NULL when the value fits; `params` are its parameters in order."""

    field: str
    case: str
    params: list
    reasons: list[str]
    value_sql: str  # the value to show in an example: the file's own when it was cast
    json_value: bool = False  # value_sql gives JSON text (lists, objects)


class _Rules:
    """Collects the (reason, condition) pairs of one field, in the order they are tried."""

    def __init__(self):
        self.pairs: list[tuple[str, str, list]] = []

    def add(self, reason: str, cond: str, params: list | None = None) -> None:
        self.pairs.append((reason, cond, list(params or [])))


def field_rules(spec: Spec, loaded: Loaded) -> list[Rule]:
    """The type check of each spec field that DATA has, in declaration order."""
    joined = bool(loaded.casts)
    out = []
    for f in spec.fields:
        if f.name not in loaded.columns:
            continue  # the schema check reports it
        rules = _Rules()
        col = f"{DATA_ALIAS}.{ident(f.name)}"
        src = f"{SOURCE_ALIAS}.{ident(f.name)}" if joined and f.name in loaded.casts else None
        have = loaded.source_types.get(f.name, loaded.columns[f.name])
        shown = src or col
        if sql_type(f.type) is None:  # list, object: checked as JSON
            x = _as_json(col, loaded.columns[f.name])
            if loaded.columns[f.name] == "VARCHAR":
                rules.add("missing", f"{col} IS NULL")
                rules.add(f"not {_a(f.type)}", f"{x} IS NULL")  # not JSON at all
            _json_rules(rules, x, f.type)
            shown = col if loaded.columns[f.name] == "VARCHAR" else f"CAST({x} AS VARCHAR)"
        else:
            _scalar_rules(rules, col, src, have, f.type, loaded.columns[f.name])
        if f.role == "derived" and f.expr is not None and all(d in loaded.columns for d in f.expr.refs()):
            _derivation(rules, col, f, spec)
        whens, params = [], []
        for i, (_, cond, p) in enumerate(rules.pairs, 1):
            whens.append(f"WHEN {cond} THEN {i}")
            params += p
        case = "CASE " + " ".join(whens) + " END"
        out.append(Rule(f.name, case, params, [r for r, _, _ in rules.pairs], shown, sql_type(f.type) is None))
    return out


def from_clause(loaded: Loaded) -> str:
    """What the type checks scan: `data`, side by side with `source` when a column was cast."""
    base = f"{ident(TABLE)} AS {DATA_ALIAS}"
    return f"{base} POSITIONAL JOIN {ident(SOURCE)} AS {SOURCE_ALIAS}" if loaded.casts else base


# ---- scalars, on the typed column ---------------------------------------------------------------------------


def _scalar_rules(rules: _Rules, col: str, src: str | None, have: str, t: Type, typed: str) -> None:
    want = sql_type(t)
    what = _a(t)
    if src is not None:
        rules.add("missing", f"{src} IS NULL")
        if have == "JSON":
            rules.add(f"not {what}", _json_kind_differs(src, t))
        elif want == "VARCHAR" and have != "VARCHAR":
            rules.add(f"not {what}", "TRUE")  # a number or a boolean where text is required
        rules.add(f"not {what}", f"{col} IS NULL")  # did not parse
        if want == "BIGINT":
            # TRY_CAST rounds '2.5' to 3: compare with the value read as a number
            num = f"TRY_CAST({_text(src, have)} AS DOUBLE)"
            rules.add(f"not {what}", f"{num} IS DISTINCT FROM CAST({col} AS DOUBLE)")
    else:
        rules.add("missing", f"{col} IS NULL")
        if want == "BIGINT" and typed != "BIGINT":  # a DOUBLE column kept as read
            rules.add(f"not {what}", f"{col} <> trunc({col})")
    if want == "DOUBLE" and t.kind == "float":
        rules.add("not a finite number", f"NOT isfinite({col})")
    _domain_and_range(rules, col, t, want)


def _domain_and_range(rules: _Rules, col: str, t: Type, want: str | None) -> None:
    if t.kind in ("category", "enum") and t.values:
        values = [coerce(v, want) for v in t.values]
        rules.add(f"not one of {_listed(t.values)}", f"{col} NOT IN ({', '.join('?' * len(values))})", values)
    if t.kind in ("int", "float", "date") and t.low is not None and t.high is not None:
        cast = "DATE" if t.kind == "date" else "DOUBLE"
        rules.add(f"outside {_bound(t.low)}..{_bound(t.high)}",
                  f"{col} NOT BETWEEN CAST(? AS {cast}) AND CAST(? AS {cast})", [t.low, t.high])


def _derivation(rules: _Rules, col: str, f: Field, spec: Spec) -> None:
    c = _Compiler(column=lambda name: f"{DATA_ALIAS}.{ident(name)}")
    expr = c.sql(f.expr)
    if f.type.kind == "float":
        cond = (f"NOT coalesce(abs(CAST({col} AS DOUBLE) - ({expr})) <= {_TOLERANCE} * greatest(1, abs({expr})), "
                f"false)")
    else:
        cond = f"{col} IS DISTINCT FROM ({expr})"
    rules.add("differs from its expression", cond, c.params + (c.params if f.type.kind == "float" else []))


# ---- anything, as JSON ----------------------------------------------------------------------------------------


def _as_json(col: str, typed: str) -> str:
    if typed == "VARCHAR":  # a CSV cell, or text DuckDB did not parse: JSON text or nothing
        return f"TRY_CAST({col} AS JSON)"
    return f"to_json({col})"


def _json_rules(rules: _Rules, x: str, t: Type, subject: str = "", path: str = "", depth: int = 0) -> None:
    """Problems of the JSON value `x` against `t`. `subject` names the value in the reasons (a member, an item),
    `path` the member path. `x` is SQL without parameters (member names are identifiers, checked by the
    grammar, written as JSON paths), so a condition may repeat it."""

    def say(problem: str) -> str:
        return f"{subject} is {problem}" if subject else problem

    rules.add(say("missing"), f"coalesce(json_type({x}) = 'NULL', true)")
    rules.add(say(f"not {_a(t)}"), _json_kind_differs(x, t))
    if t.kind == "list" and t.item is not None:
        y = f"y{depth}"
        item = _Rules()
        _json_rules(item, y, t.item, f"an item of {subject}" if subject else "an item", "", depth + 1)
        for reason, cond, params in item.pairs:
            rules.add(reason, f"len(list_filter(CAST({x} AS JSON[]), lambda {y}: {cond})) > 0", params)
        return
    if t.kind == "object":
        for m in t.members:
            if not _NAME.fullmatch(m.name):
                raise ValueError(f"member name {m.name!r} is not an identifier")
            p = f"{path}.{m.name}" if path else m.name
            sub = f"`{p}`" if path or not subject else f"`{m.name}` of {subject}"
            _json_rules(rules, f"json_extract({x}, '$.\"{m.name}\"')", m.type, sub, p if not subject or path else "",
                        depth)
        return
    _json_scalar(rules, x, t, say)


def _json_scalar(rules: _Rules, x: str, t: Type, say) -> None:
    want = sql_type(t)
    text = f"json_extract_string({x}, '$')"
    if t.kind in ("category", "enum") and t.values:
        if want in ("BIGINT", "DOUBLE"):
            rules.add(say(f"not one of {_listed(t.values)}"),
                      f"TRY_CAST({x} AS DOUBLE) NOT IN ({', '.join('?' * len(t.values))})", list(t.values))
        elif want == "BOOLEAN":
            rules.add(say(f"not one of {_listed(t.values)}"),
                      f"TRY_CAST({x} AS BOOLEAN) NOT IN ({', '.join('?' * len(t.values))})", list(t.values))
        else:
            values = [coerce(v, "VARCHAR") for v in t.values]
            rules.add(say(f"not one of {_listed(t.values)}"),
                      f"{text} NOT IN ({', '.join('?' * len(values))})", values)
    if t.kind == "int":
        rules.add(say(f"not {_a(t)}"), f"TRY_CAST({x} AS DOUBLE) <> trunc(TRY_CAST({x} AS DOUBLE))")
    if t.kind == "date":
        rules.add(say(f"not {_a(t)}"), f"TRY_CAST({text} AS DATE) IS NULL")
    if t.kind in ("int", "float", "date") and t.low is not None and t.high is not None:
        v = f"TRY_CAST({text} AS DATE)" if t.kind == "date" else f"TRY_CAST({x} AS DOUBLE)"
        cast = "DATE" if t.kind == "date" else "DOUBLE"
        rules.add(say(f"outside {_bound(t.low)}..{_bound(t.high)}"),
                  f"{v} NOT BETWEEN CAST(? AS {cast}) AND CAST(? AS {cast})", [t.low, t.high])


def _json_kind_differs(x: str, t: Type) -> str:
    """TRUE when the JSON value `x` (not null) is of the wrong JSON kind for `t`."""
    want = sql_type(t)
    if t.kind == "list":
        kinds: tuple[str, ...] = ("ARRAY",)
    elif t.kind == "object":
        kinds = ("OBJECT",)
    elif want == "BOOLEAN":
        kinds = ("BOOLEAN",)
    elif want == "BIGINT":
        kinds = _NUMBER_JSON  # 3.0 is whole: the int rule judges it
    elif want == "DOUBLE":
        kinds = _NUMBER_JSON
    else:
        kinds = ("VARCHAR",)
    return f"json_type({x}) NOT IN ({', '.join(repr(k) for k in kinds)})"


def _text(src: str, have: str) -> str:
    return f"json_extract_string({src}, '$')" if have == "JSON" else src


def _a(t: Type) -> str:
    k = t.kind
    if k in ("category", "enum"):
        want = sql_type(t)
        return {"BIGINT": "an integer", "DOUBLE": "a number", "BOOLEAN": "true or false"}.get(want, "text")
    return {"int": "an integer", "float": "a number", "date": "a date (YYYY-MM-DD)", "bool": "true or false",
            "text": "text", "list": "a list", "object": "an object"}[k]


def _bound(v) -> str:
    """A range bound as the spec writes it: 0 rather than 0.0."""
    return str(int(v)) if isinstance(v, float) and v.is_integer() and abs(v) < 1e15 else sds_literal(v, "date")


def _listed(values) -> str:
    shown = ", ".join(sds_literal(v) for v in values[:6])
    return shown + (f" and {len(values) - 6} more" if len(values) > 6 else "")
