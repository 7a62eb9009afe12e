"""IR constraints compiled to DuckDB SQL.

Identifiers are always double-quoted (embedded quotes doubled) and every literal of the spec becomes a `?`
parameter, never text in the SQL: a field may be called `select` and a literal may hold `'; DROP TABLE x; --`.
The only constants written into the SQL are this module's own (regex character classes, 0, 0.5). Aggregate
columns are named by their spec text, e.g. "share((c == ""x""))": a literal can show up there, but only inside
a quoted identifier, quoted like any field name.

Semantics, chosen to agree with compiler/evaluate.py on every value it can compute:
  - a row breaks a constraint unless its predicate is TRUE: NULL (a missing value) counts as a violation;
  - `a / b` is `a / nullif(b, 0)`: division by zero gives NULL (evaluate.py gives NaN; see `divide`);
  - word_count is Python's `len(s.split())` and trim is `s.strip()`: whitespace is exactly `str.isspace`
    (macros sds_word_count / sds_trim: call install_macros(con) before running the SQL);
  - matches is a regex search anywhere (`regexp_matches`, RE2: no look-around or back-references);
  - length counts characters of text (code points, like Python `len`) and items of a list.
"""

from __future__ import annotations

import weakref

import json
import math
from typing import Callable, Mapping, Sequence

from ..evaluation import EVAL
from ..quality import QUALITY
from ..evaluate import AGGREGATES
from ..ir import Constraint, Expr, Value

# Python's whitespace (str.isspace: what str.split and str.strip use) as RE2 class bodies; OTHER_WS is all of it
# but the plain space. RE2's \s is narrower (no \x0b, \x1c-\x1f, \x85 or Unicode spaces). Written out rather
# than computed (a scan of every code point costs 0.3 s at import); tests compare both with Python's.
OTHER_WS = r"\x{9}-\x{d}\x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}-\x{2029}\x{202f}\x{205f}\x{3000}"
WS = OTHER_WS.replace(r"\x{1c}-\x{1f}", r"\x{1c}-\x{20}")

# word_count counts plain texts of up to this many bytes in one pass (hamming() against as many spaces); longer
# ones take the other way. A run of 1 MiB made the check 6% slower on texts of ~400 bytes.
PLAIN_MAX = 1 << 16

# Python's len(s.split()) and s.strip(), as macros so that a check's SQL stays readable.
# word_count is exactly len(s.split()) whichever way a text takes (tests compare it with Python):
#   - a plain text, ASCII words between single spaces, has one word more than spaces, and hamming() against a
#     run of spaces counts its other characters in one pass. Proving it plain takes json_quote, which escapes
#     every control character (and `"` and `\`: texts with those take the other way), and a search for two spaces.
#   - any other text: its whitespace becomes spaces, then the non-empty pieces between spaces are the words.
#     replace() does it when newlines are the only other whitespace (json_quote escapes nothing else, and the
#     text is ASCII): paragraph breaks, the common case. Else a regex turns each run of whitespace into one
#     space (a text of single spaces matches nothing, so the regex only scans it).
# (The figures behind these routes are in bench/RESULTS.md, "word_count and trim routes".)
# trim: text whose first and last characters are not whitespace is already stripped, the common case, and skips
# the regex; characters 33-132 (printable ASCII and a few controls) are never whitespace, which is cheaper to ask
# than the regex.
MACROS = (
    "CREATE OR REPLACE TEMP MACRO sds_word_count(s) AS\n"
    f"  CASE WHEN strlen(s) BETWEEN 1 AND {PLAIN_MAX} AND length(s) = strlen(s)\n"
    "            AND strlen(json_quote(s)) = strlen(s) + 2\n"
    "            AND NOT starts_with(s, ' ') AND NOT ends_with(s, ' ') AND NOT contains(s, '  ')\n"
    f"       THEN strlen(s) + 1 - hamming(s, substr(repeat(' ', {PLAIN_MAX}), 1, strlen(s)))\n"
    "       ELSE len(list_filter(string_split(\n"
    "              CASE WHEN length(s) = strlen(s)\n"
    "                        AND strlen(json_quote(s)) = 2 * strlen(s) + 2 - strlen(replace(s, chr(10), ''))\n"
    "                   THEN replace(s, chr(10), ' ')\n"
    f"                   ELSE regexp_replace(s, '[{WS}]{{2,}}|[{OTHER_WS}]', ' ', 'g') END, ' '),\n"
    "            lambda w: w <> '')) END",
    "CREATE OR REPLACE TEMP MACRO sds_trim(s) AS\n"
    "  CASE WHEN ascii(s) BETWEEN 33 AND 132 AND ascii(right(s, 1)) BETWEEN 33 AND 132 THEN s\n"
    f"       WHEN regexp_matches(left(s, 1) || right(s, 1), '[{WS}]')\n"
    f"       THEN regexp_replace(s, '^[{WS}]+|[{WS}]+$', '', 'g') ELSE s END",
)


_INSTALLED: "weakref.WeakSet" = weakref.WeakSet()  # connections that have them (the engine reuses one)


def install_macros(con) -> None:
    """Defines the sds_* macros the compiled SQL calls (word_count, trim) on a DuckDB connection, once per
    connection (they are TEMP macros: a connection keeps them; 7 ms a time)."""
    if con in _INSTALLED:
        return
    for m in MACROS:
        con.execute(m)
    _INSTALLED.add(con)


_COMPARE = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ARITH = {"+", "-", "*", "/"}


def ident(name: str) -> str:
    """A quoted SQL identifier: `we"ird` -> `"we""ird"`."""
    return '"' + name.replace('"', '""') + '"'


class _Compiler:
    """Renders one expression left to right, so `params` line up with the `?` in the text."""

    def __init__(self, aggregate: Callable[[Expr], str] | None = None, column: Callable[[str], str] = None):
        self.params: list = []
        self.aggregate = aggregate
        self.column = column or ident  # how a field is named: a table alias may qualify it

    def param(self, value) -> str:
        self.params.append(value)
        return "?"

    def sql(self, e: Expr) -> str:
        return getattr(self, "_" + e.kind)(e)

    def _lit(self, e: Expr) -> str:
        if e.value is None:
            return "NULL"
        if e.type == "date":
            return f"CAST({self.param(e.value)} AS DATE)"
        return self.param(e.value)

    def _ref(self, e: Expr) -> str:
        return self.column(e.field)

    def _list(self, e: Expr) -> str:
        return "[" + ", ".join(self.sql(a) for a in e.args) + "]"

    def _member(self, e: Expr) -> str:
        return f"({self.sql(e.args[0])}).{ident(e.field)}"  # a STRUCT's field, named like a column

    def _element(self, e: Expr) -> str:
        x, items = self.sql(e.args[0]), self.sql(e.args[1])
        return f"({'NOT ' if e.negated else ''}list_contains({items}, {x}))"

    def _if(self, e: Expr) -> str:
        cond, then, other = (self.sql(a) for a in e.args)
        return f"CASE WHEN {cond} THEN {then} ELSE {other} END"

    def _in(self, e: Expr) -> str:
        x = self.sql(e.args[0])
        items = ", ".join(self.sql(a) for a in e.args[1:])
        return f"({x} {'NOT IN' if e.negated else 'IN'} ({items}))"

    def _range(self, e: Expr) -> str:
        x, lo, hi = (self.sql(a) for a in e.args)
        return f"({x} {'NOT BETWEEN' if e.negated else 'BETWEEN'} {lo} AND {hi})"

    def _op(self, e: Expr) -> str:
        op = e.op
        if op == "not":
            return f"(NOT {self.sql(e.args[0])})"
        if op == "neg":
            return f"(- {self.sql(e.args[0])})"
        a = self.sql(e.args[0])
        b = self.sql(e.args[1])
        if op == "and":
            return f"({a} AND {b})"
        if op == "or":
            return f"({a} OR {b})"
        if op == "=>":
            return f"(NOT {a} OR {b})"
        if op in _COMPARE:
            return f"({a} {_COMPARE[op]} {b})"
        if op == "+" and e.type == "string":
            return f"({a} || {b})"
        if op == "/":
            return divide(a, b)
        if op in _ARITH:
            return f"({a} {op} {b})"
        raise ValueError(f"unknown operator {op}")

    def _call(self, e: Expr) -> str:
        if e.fn in AGGREGATES:
            if self.aggregate is None:
                raise ValueError(f"aggregate `{e.fn}` in a row-level expression")
            return self.aggregate(e)
        args = [self.sql(a) for a in e.args]
        fn = e.fn
        if fn == "length":
            return f"len({args[0]})" if e.args[0].type == "list" else f"length({args[0]})"
        if fn in ("word_count", "trim"):
            return f"sds_{fn}({args[0]})"  # see MACROS
        if fn == "matches":
            return f"regexp_matches({args[0]}, {args[1]})"
        if fn in ("lower", "upper", "abs", "contains", "starts_with", "ends_with"):
            return f"{fn}({', '.join(args)})"
        raise ValueError(f"unknown function {fn}")


def divide(a: str, b: str) -> str:
    """`a / b` with division by zero giving NULL, so a row that divides by zero never passes by accident."""
    return f"({a} / nullif({b}, 0))"


def row_predicate(expr: Expr) -> tuple[str, list]:
    """One DuckDB boolean expression for a row-level constraint, and its parameters in order."""
    c = _Compiler()
    return c.sql(expr), c.params


def violations_query(expr: Expr, table: str = "data") -> tuple[str, list]:
    """The rows of `table` that break a row-level constraint (NULL counts as broken)."""
    pred, params = row_predicate(expr)
    return f"SELECT *\nFROM {ident(table)}\nWHERE {pred} IS NOT TRUE", params


# ---- dataset-level ----------------------------------------------------------------


def aggregates(expr: Expr) -> list[Expr]:
    """The aggregate calls of a dataset expression, left to right, each once."""
    out: dict[str, Expr] = {}

    def walk(e: Expr):
        if e.kind == "call" and e.fn in AGGREGATES:
            out.setdefault(expr_text(e), e)
            return
        for a in e.args:
            walk(a)

    walk(expr)
    return list(out.values())


def aggregate_sql(call: Expr, table: str, targets: Mapping[str, Mapping[Value, float]],
                  all_distinct: bool = False) -> tuple[str, list]:
    """One aggregate as a scalar subquery over `table`. `all_distinct`: distinct_probe found the values of this
    distinct_ratio or unique all distinct, so the same value comes without collecting them."""
    if call.fn == "unique" and all_distinct:
        return "TRUE", []
    c = _Compiler()
    t = ident(table)
    fn = call.fn
    args = [c.sql(a) for a in call.args]
    if fn == "count":
        return f"(SELECT count(*) FROM {t})", c.params
    if fn in ("mean", "median", "min", "max"):
        name = {"mean": "avg"}.get(fn, fn)
        return f"(SELECT {name}({args[0]}) FROM {t})", c.params
    if fn == "quantile":
        return f"(SELECT quantile_cont({args[0]}, {args[1]}) FROM {t})", c.params
    if fn == "distinct_ratio":
        counted = args[0] if all_distinct else f"DISTINCT {args[0]}"
        return f"(SELECT count({counted}) / nullif(count(*), 0) FROM {t})", c.params
    if fn == "share":
        return f"(SELECT count(*) FILTER (WHERE {args[0]}) / nullif(count(*), 0) FROM {t})", c.params
    if fn == "unique":
        return (f"(SELECT count(*) = 0 FROM (SELECT 1 FROM {t} GROUP BY {', '.join(args)} HAVING count(*) > 1))",
                c.params)
    if fn in ("tvd", "drift"):
        field = call.args[0].field
        target = targets.get(field)
        if not target:
            raise KeyError(field)
        combine = "0.5 * sum" if fn == "tvd" else "max"
        rows = ", ".join(f"({c.param(v)}, {c.param(float(s))})" for v, s in target.items())
        return (f"(SELECT {combine}(abs(coalesce(a.share, 0) - coalesce(t.share, 0)))\n"
                f"     FROM (SELECT {args[0]} AS value, count(*) / sum(count(*)) OVER () AS share\n"
                f"           FROM {t} GROUP BY 1) AS a\n"
                f"     FULL JOIN (VALUES {rows}) AS t(value, share) ON a.value = t.value)", c.params)
    raise ValueError(f"unknown aggregate {fn}")


def distinct_probe(call: Expr, table: str = "data") -> tuple[str, list]:
    """For distinct_ratio(x) or unique(...): TRUE when the values it looks at (the non-NULL values of x, the
    tuples of unique) are all distinct. Equal values hash alike (DuckDB's grouping relies on it), so as many
    distinct hashes as values proves it without a hash table of the values themselves: on 1e6 texts of ~400 bytes
    this takes 0.15 s where count(DISTINCT x) takes 0.35 s. When it is FALSE (duplicates, or two values whose
    hashes collide) the exact query runs after it, so data with repeated values pays the probe on top."""
    c = _Compiler()
    args = ", ".join(c.sql(a) for a in call.args)
    if call.fn == "unique":
        return f"SELECT count(DISTINCT hash({args})) = count(*)\nFROM {ident(table)}", c.params
    return (f"SELECT count(DISTINCT hash(v)) = count(*)\nFROM (SELECT {args} AS v FROM {ident(table)})\n"
            f"WHERE v IS NOT NULL", c.params)


def dataset_query(constraint: Constraint, table: str = "data",
                  targets: Mapping[str, Mapping[Value, float]] | None = None,
                  all_distinct: frozenset[str] = frozenset(),
                  measured: Mapping[str, Value | None] | None = None) -> tuple[str, list]:
    """One row: each aggregate's value (named by its spec text) and `passed` (NULL counts as failed).

    `targets` gives the target shares of the fields that tvd/drift compare (see targets.target_shares);
    a missing one raises KeyError(field). `all_distinct` names (by spec text) the distinct_ratio and unique calls
    whose values distinct_probe found all distinct: the query gives the same row, faster (see aggregate_sql).
    `measured` holds the content-quality aggregates (QUALITY), computed in Python by quality.checks and named by
    spec text: SQL cannot compute them, so the query carries each figure as a parameter (NULL when missing).
    """
    params: list = []
    columns = []
    for call in aggregates(constraint.expr):
        if call.fn in QUALITY or call.fn in EVAL:
            v = (measured or {}).get(expr_text(call))
            sql, p = ("CAST(? AS BOOLEAN)" if call.fn == "near_unique" else "CAST(? AS DOUBLE)"), [v]
        else:
            sql, p = aggregate_sql(call, table, targets or {}, expr_text(call) in all_distinct)
        columns.append(f"    {sql} AS {ident(expr_text(call))}")
        params += p
    c = _Compiler(aggregate=lambda e: ident(expr_text(e)))
    verdict = c.sql(constraint.expr)
    body = ",\n".join(columns) if columns else "    1 AS nothing"
    sql = f"WITH measured AS (\n  SELECT\n{body}\n)\nSELECT *, coalesce({verdict}, false) AS passed\nFROM measured"
    return sql, params + c.params


def duplicates_query(call: Expr, table: str = "data") -> tuple[str, list]:
    """For unique(...): each repeated tuple with its number of copies, most repeated first."""
    c = _Compiler()
    cols = ", ".join(f"{c.sql(a)} AS {ident(expr_text(a))}" for a in call.args)
    return (f"SELECT {cols}, count(*) AS copies\nFROM {ident(table)}\nGROUP BY ALL\nHAVING count(*) > 1\n"
            f"ORDER BY copies DESC", c.params)


def marginal_query(field: str, target: Mapping[Value, float], table: str = "data") -> tuple[str, list]:
    """Each value of `field`, targeted or seen: its target share and its row count, targets in order first."""
    params: list = []
    cells = []
    for i, (v, s) in enumerate(target.items(), 1):
        params += [v, float(s), i]
        cells.append("(?, ?, ?)")
    sql = (f"SELECT t.value AS target_value, a.value AS actual_value, coalesce(t.share, 0) AS target,\n"
           f"       coalesce(a.n, 0) AS count\n"
           f"FROM (SELECT {ident(field)} AS value, count(*) AS n FROM {ident(table)} GROUP BY 1) AS a\n"
           f"FULL JOIN (VALUES {', '.join(cells)}) AS t(value, share, ord) ON a.value = t.value\n"
           f"ORDER BY t.ord NULLS LAST, count DESC, actual_value")
    return sql, params


# ---- display ------------------------------------------------------------------------------


def expr_text(e: Expr) -> str:
    """An expression as .sds source text: names aggregate columns and labels checks."""
    k = e.kind
    if k == "lit":
        return sds_literal(e.value, e.type)
    if k == "ref":
        return e.field
    if k == "list":
        return "[" + ", ".join(expr_text(a) for a in e.args) + "]"
    if k == "call":
        return f"{e.fn}({', '.join(expr_text(a) for a in e.args)})"
    if k == "if":
        c, a, b = (expr_text(x) for x in e.args)
        return f"(if {c} then {a} else {b})"
    if k == "in":
        items = ", ".join(expr_text(a) for a in e.args[1:])
        return f"({expr_text(e.args[0])} {'not in' if e.negated else 'in'} [{items}])"
    if k == "member":
        return f"{expr_text(e.args[0])}.{e.field}"
    if k == "element":
        return f"({expr_text(e.args[0])} {'not in' if e.negated else 'in'} {expr_text(e.args[1])})"
    if k == "range":
        x, lo, hi = (expr_text(a) for a in e.args)
        return f"({x} {'not in' if e.negated else 'in'} {lo}..{hi})"
    if e.op == "not":
        return f"(not {expr_text(e.args[0])})"
    if e.op == "neg":
        return f"(-{expr_text(e.args[0])})"
    return f"({expr_text(e.args[0])} {e.op} {expr_text(e.args[1])})"


def sds_literal(v, type_: str = "") -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str) and type_ != "date":
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def inline_sql(sql: str, params: Sequence) -> str:
    """`sql` with each `?` replaced by its parameter as a SQL literal (quotes doubled). For display only."""
    out = []
    it = iter(params)
    i, n = 0, len(sql)
    used = 0
    while i < n:
        ch = sql[i]
        if ch in "'\"":  # a string or quoted identifier: copy it whole (doubled quotes stay inside)
            j = i + 1
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i:j + 1])
            i = j + 1
            continue
        if sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(sql[i:j])
            i = j
            continue
        if ch == "?":
            try:
                out.append(sql_literal(next(it)))
            except StopIteration:
                raise ValueError("more `?` than parameters") from None
            used += 1
            i += 1
            continue
        out.append(ch)
        i += 1
    if used != len(params):
        raise ValueError(f"{len(params)} parameters for {used} `?`")
    return "".join(out)


def sql_literal(v) -> str:
    """A Python value as a DuckDB literal."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        # floats stay DOUBLE as they were as parameters (a bare 0.1 would be an exact DECIMAL); negatives in
        # parentheses so that `-?` never becomes a `--` comment
        text = str(v) if isinstance(v, int) else f"'{v}'::DOUBLE" if not math.isfinite(v) else f"{v!r}::DOUBLE"
        return f"({text})" if text.startswith("-") else text
    return "'" + str(v).replace("'", "''") + "'"
