"""Runs a spec's checks on the table `data`: schema, each constraint, and the marginals of categorical fields.

The row constraints are counted together in ONE scan of `data` (count_violations): a projection computes every
predicate per row and `count(*) FILTER` counts each. Besides reading the table once, this lets DuckDB compute an
expression several predicates share, e.g. sds_word_count(body) for two bounds on it, once per row (its common
subexpression elimination works within a projection, not across queries or in a WHERE). Each check still keeps
its own SQL, `SELECT * FROM data WHERE <predicate> IS NOT TRUE`, which a reviewer can run alone and which counts
the same rows.

A distinct_ratio or unique first runs distinct_probe (sql.py): when it proves the values all distinct, the query
run leaves out collecting them, and the report still keeps the exact query, which gives the same row.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
import uuid
from typing import Any

import duckdb

from ..ir import Constraint, Expr, Spec, Value
from ..evaluation.checks import calls as eval_calls, copies as real_copies, measure as measure_eval, undecided
from ..quality.checks import measure
from .load import TABLE, Loaded, coerce
from .models import CheckResult, MarginalResult, MarginalValue, ValidationReport
from .sql import (aggregates, dataset_query, distinct_probe, duplicates_query, expr_text, ident, inline_sql,
                  marginal_query, row_predicate, sql_literal, violations_query)
from .targets import target_shares
from .types import DATA_ALIAS, field_rules, from_clause

EXAMPLES = 3


def run_checks(spec: Spec, loaded: Loaded, source: str | None = None, real=None) -> ValidationReport:
    """Every check of `spec` on the rows `loaded` holds; `real` (evaluation.checks.RealData) for the evaluation
    aggregates, which fail without it."""
    targets = {f.name: {coerce(v, loaded.columns.get(f.name)): s for v, s in t.items()}
               for f in spec.fields if f.role == "sampled" and f.categorical
               for t in [target_shares(spec, f.name)] if t is not None}
    counted = iter(count_violations([c for c in spec.constraints if c.kind == "row"], loaded))
    checks = [schema_check(spec, loaded), *type_checks(spec, loaded)]
    for c in spec.constraints:
        if c.kind == "judge":  # a model's verdict, which no dataset file holds: the build reports judges itself
            continue
        checks.append(row_check(c, loaded, next(counted)) if c.kind == "row"
                      else dataset_check(c, loaded, targets, spec.dataset.seed, real))
    marginals = [marginal(name, t, loaded) for name, t in targets.items() if name in loaded.columns]
    return ValidationReport(rows=loaded.rows, checks=tuple(checks), marginals=tuple(marginals), source=source,
                            load_sql=loaded.load_sql or None)


def schema_check(spec: Spec, loaded: Loaded) -> CheckResult:
    """Every spec field is a column of DATA (whether its values fit their types: type_checks)."""
    missing = [f.name for f in spec.fields if f.name not in loaded.columns]
    examples = [{"column": m, "missing": True} for m in missing]
    return CheckResult(name="schema", kind="schema", passed=not missing, violations=len(missing),
                       sql=f"DESCRIBE {ident(TABLE)}", examples=tuple(examples[:2 * EXAMPLES]),
                       detail=_missing(missing) if missing else None)


def type_checks(spec: Spec, loaded: Loaded) -> list[CheckResult]:
    """`type:FIELD` for each spec field DATA has: the rows whose value does not fit the field's declared type,
    domain, range or derivation (types.py), all fields in one scan, split by problem, with the first few rows."""
    rules = field_rules(spec, loaded)
    if not rules:
        return []
    src = from_clause(loaded)
    flags = ", ".join(f"{r.case} AS t{i}" for i, r in enumerate(rules))
    params = [p for r in rules for p in r.params]
    aggs = ", ".join(f"count(t{i}), histogram(t{i}), min({DATA_ALIAS}_rowid, {EXAMPLES}) FILTER (WHERE t{i} IS NOT NULL)"
                     for i in range(len(rules)))
    sql = f"SELECT {aggs}\nFROM (SELECT {DATA_ALIAS}.rowid AS {DATA_ALIAS}_rowid, {flags}\n      FROM {src})"
    try:
        row = loaded.con.execute(sql, params).fetchone()
    except duckdb.Error as e:
        msg = _first_line(e)
        return [CheckResult(name=f"type:{r.field}", kind="type", passed=False, violations=None,
                            sql=_type_sql(r, src), detail=f"DuckDB could not run this check: {msg}") for r in rules]
    out = []
    for i, r in enumerate(rules):
        n, by_reason, first = row[3 * i], row[3 * i + 1] or {}, row[3 * i + 2] or []
        examples = []
        if n:
            cur = loaded.con.execute(
                f"SELECT {DATA_ALIAS}.rowid + 1, {r.value_sql}, {r.case} FROM {src} "
                f"WHERE {DATA_ALIAS}.rowid IN (SELECT unnest(?)) ORDER BY 1", [*r.params, first])
            examples = [{"row": k, "values": {r.field: _shown(v, r.json_value)}, "problem": r.reasons[p - 1]}
                        for k, v, p in cur.fetchall()]
        detail = "; ".join(f"{c} row{'s' * (c != 1)}: {r.reasons[k - 1]}" for k, c in sorted(by_reason.items()))
        out.append(CheckResult(name=f"type:{r.field}", kind="type", passed=n == 0, violations=n,
                               sql=_type_sql(r, src), examples=tuple(examples), detail=detail or None))
    return out


def _shown(v, is_json: bool):
    if is_json and isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return jsonable(v)


def _type_sql(r, src: str) -> str:
    """A type check's rows, to rerun on its own: each row with the number of its problem."""
    return inline_sql(f"SELECT * FROM (SELECT {DATA_ALIAS}.rowid + 1 AS row, {r.value_sql} AS value, {r.case} AS problem"
                      f"\n      FROM {src})\nWHERE problem IS NOT NULL", r.params)


def count_violations(constraints: list[Constraint], loaded: Loaded) -> list[tuple[int, list | None] | None]:
    """For each row constraint, in order: how many rows break it and the first few of their row ids, all from one
    scan; None for a constraint reading a missing column. All None when DuckDB cannot run the scan: each check
    then runs on its own, so the one it cannot run is reported as such and the others still count."""
    runnable = [i for i, c in enumerate(constraints) if all(f in loaded.columns for f in c.fields)]
    counted: list[tuple[int, list | None] | None] = [None] * len(constraints)
    if not runnable:
        return counted
    flags, params = [], []
    for i in runnable:
        pred, p = row_predicate(constraints[i].expr)
        flags.append(f"{pred} IS NOT TRUE AS b{i}")
        params += p
    counts = ", ".join(f"count(*) FILTER (WHERE b{i}), min(rowid, {EXAMPLES}) FILTER (WHERE b{i})"
                       for i in runnable)
    sql = f"SELECT {counts}\nFROM (SELECT rowid, {', '.join(flags)}\n      FROM {ident(TABLE)})"
    try:
        row = loaded.con.execute(sql, params).fetchone()
    except duckdb.Error:
        return counted
    for k, i in enumerate(runnable):
        counted[i] = (row[2 * k], row[2 * k + 1])
    return counted


def row_check(c: Constraint, loaded: Loaded, counted: tuple[int, list | None] | None = None) -> CheckResult:
    """Counts the rows whose predicate is not TRUE (false or NULL) and keeps the first few; `counted` is that
    count and the first row ids when count_violations already has them."""
    shown = inline_sql(*violations_query(c.expr, TABLE))
    missing = [f for f in c.fields if f not in loaded.columns]
    if missing:
        return CheckResult(name=c.name, kind="row", passed=False, violations=None, sql=shown, detail=_missing(missing))
    pred, params = row_predicate(c.expr)
    where = f"FROM {ident(TABLE)} WHERE {pred} IS NOT TRUE"
    try:
        # one pass of the predicate: the count and the first few offending row ids
        n, first = counted or loaded.con.execute(f"SELECT count(*), min(rowid, {EXAMPLES}) {where}",
                                                 params).fetchone()
        examples = []
        if n:
            cols = ", ".join(ident(f) for f in c.fields)
            cur = loaded.con.execute(f"SELECT rowid + 1, {cols} FROM {ident(TABLE)} WHERE rowid IN "
                                     f"(SELECT unnest(?)) ORDER BY rowid", [first])
            examples = [{"row": r[0], "values": {f: jsonable(v) for f, v in zip(c.fields, r[1:])}}
                        for r in cur.fetchall()]
    except duckdb.Error as e:
        return _could_not_run(c, shown, e)
    return CheckResult(name=c.name, kind="row", passed=n == 0, violations=n, sql=shown, examples=tuple(examples))


def dataset_check(c: Constraint, loaded: Loaded, targets: dict[str, dict[Value, float]],
                  seed: int = 1, real=None) -> CheckResult:
    """Measures the aggregates once and evaluates the constraint on them (NULL, e.g. no rows, fails).
    Content-quality aggregates are measured first, in Python (quality.checks), and enter the query as figures.
    A constraint with `per` is judged on each group of rows (per_group_check)."""
    if c.per and all(f in loaded.columns for f in c.fields):
        return per_group_check(c, loaded, targets, seed, real)
    return _dataset_check(c, loaded, targets, seed, TABLE, real)


GROUP = "per_group"


def per_group_check(c: Constraint, loaded: Loaded, targets: dict[str, dict[Value, float]],
                    seed: int = 1, real=None) -> CheckResult:
    """`CONSTRAINT per A, B` (LANGUAGE.md, "Per stratum"): the constraint judged on the rows of each combination of
    A, B that occurs (nulls a group of their own), each group copied in row order into the table `per_group`.
    Passes when every group passes; violations = the failing groups; values = every group's figures, named
    `FIGURE [A = a, B = b]`; examples = the failing groups; sql = one group's table and its query."""
    cols = ", ".join(ident(f) for f in c.per)
    groups = loaded.con.execute(f"SELECT DISTINCT {cols} FROM {ident(TABLE)} ORDER BY ALL NULLS LAST").fetchall()
    values: dict[str, Any] = {}
    failing: list[dict] = []
    shown = ""
    for group in groups:
        where = " AND ".join(f"{ident(f)} IS NOT DISTINCT FROM {sql_literal(v)}" for f, v in zip(c.per, group))
        make = (f"CREATE OR REPLACE TEMP TABLE {ident(GROUP)} AS\nSELECT * FROM {ident(TABLE)} WHERE {where}\n"
                f"ORDER BY rowid;\n")
        loaded.con.execute(make)
        r = _dataset_check(c, loaded, targets, seed, GROUP, real)
        label = ", ".join(f"{f} = {'null' if v is None else jsonable(v)}" for f, v in zip(c.per, group))
        values.update({f"{k} [{label}]": v for k, v in r.values.items()})
        if r.violations is None:
            loaded.con.execute(f"DROP TABLE IF EXISTS {ident(GROUP)}")
            return r.model_copy(update={"sql": make + r.sql, "detail": f"in the group {label}: {r.detail}"})
        if not r.passed:
            failing.append({**{f: jsonable(v) for f, v in zip(c.per, group)}, **r.values})
        if not shown or (not r.passed and len(failing) == 1):
            shown = make + r.sql  # the first failing group's query, else the first group's
    loaded.con.execute(f"DROP TABLE IF EXISTS {ident(GROUP)}")
    if not groups:
        return CheckResult(name=c.name, kind="dataset", passed=False, violations=None, sql="",
                           detail="no rows to group")
    return CheckResult(name=c.name, kind="dataset", passed=not failing, violations=len(failing), sql=shown,
                       values=values, examples=tuple(failing[:EXAMPLES]), groups=len(groups))


def _dataset_check(c: Constraint, loaded: Loaded, targets: dict[str, dict[Value, float]], seed: int,
                   table: str, real=None) -> CheckResult:
    missing = [f for f in c.fields if f not in loaded.columns]
    measured, pairs = ({}, []) if missing else measure(c.expr, loaded.con, table, seed)
    if not missing and eval_calls(c.expr):
        measured.update(measure_eval(c.expr, loaded.con, table, real))
    try:
        sql, params = dataset_query(c, table, targets, measured=measured)
    except KeyError as e:
        return CheckResult(name=c.name, kind="dataset", passed=False, violations=None, sql="",
                           detail=f"the spec sets no target shares for `{e.args[0]}`")
    shown = inline_sql(sql, params)
    if missing:
        return CheckResult(name=c.name, kind="dataset", passed=False, violations=None, sql=shown,
                           detail=_missing(missing))
    try:
        # the report keeps the exact query; the one run skips collecting values the probe found all distinct
        distinct = frozenset(expr_text(a) for a in aggregates(c.expr) if _all_distinct(a, loaded, table))
        cur = loaded.con.execute(*(dataset_query(c, table, targets, distinct, measured) if distinct
                                   else (sql, params)))
        row = cur.fetchone()
        names = [d[0] for d in cur.description]
        values = {n: jsonable(v) for n, v in zip(names[:-1], row[:-1])}
        passed = bool(row[-1])
        violations, examples = (0 if passed else 1), []
        if c.expr.kind == "call" and c.expr.fn == "unique" and not passed:  # passed: no duplicates to list
            violations, examples = _duplicates(c, loaded)
        if c.expr.kind == "call" and c.expr.fn == "near_unique" and not passed:
            violations, examples = len(pairs), pairs[:EXAMPLES]
        if not passed and real is not None and eval_calls(c.expr):
            found, listed = real_copies(c, loaded.con, table, real, EXAMPLES)
            if found:  # a max_similarity_to_real bound: the rows above it, with their nearest real rows
                violations, examples = found, listed
    except duckdb.Error as e:
        return _could_not_run(c, shown, e)
    detail = ("needs the real rows of the spec's reference" if real is None and eval_calls(c.expr) else None)
    if not passed and real is not None and eval_calls(c.expr):
        detail = undecided(c.expr, loaded.con, table, real)
    return CheckResult(name=c.name, kind="dataset", passed=passed, violations=violations, sql=shown,
                       values=values, examples=tuple(examples), detail=detail)


def _all_distinct(call: Expr, loaded: Loaded, table: str = TABLE) -> bool:
    """distinct_probe for a distinct_ratio or unique call (False for other aggregates, or if the probe fails)."""
    if call.fn not in ("distinct_ratio", "unique"):
        return False
    try:
        return bool(loaded.con.execute(*distinct_probe(call, table)).fetchone()[0])
    except duckdb.Error:
        return False


def _duplicates(c: Constraint, loaded: Loaded) -> tuple[int, list[dict]]:
    sql, params = duplicates_query(c.expr, TABLE)
    extra = loaded.con.execute(f"SELECT coalesce(sum(copies - 1), 0) FROM ({sql})", params).fetchone()[0]
    cur = loaded.con.execute(f"{sql}\nLIMIT {EXAMPLES}", params)
    names = [d[0] for d in cur.description]
    return int(extra), [{n: jsonable(v) for n, v in zip(names, r)} for r in cur.fetchall()]


def marginal(field: str, target: dict[Value, float], loaded: Loaded) -> MarginalResult:
    """Target vs actual share of each value of a categorical field (values seen but not targeted: target 0)."""
    sql, params = marginal_query(field, target, TABLE)
    values = []
    for tv, av, share, count in loaded.con.execute(sql, params).fetchall():
        actual = count / loaded.rows if loaded.rows else 0.0
        values.append(MarginalValue(value=jsonable(tv if tv is not None else av), target=share, actual=actual,
                                    count=count))
    tvd = 0.5 * sum(abs(v.actual - v.target) for v in values)
    return MarginalResult(field=field, values=tuple(values), tvd=tvd, sql=inline_sql(sql, params))


def jsonable(v) -> Any:
    """A DuckDB result value as plain JSON data."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, (datetime.date, datetime.datetime, datetime.time)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (uuid.UUID, datetime.timedelta)):
        return str(v)
    return str(v)


def _missing(cols: list[str]) -> str:
    names = ", ".join(f"`{c}`" for c in cols)
    return f"column{'s' * (len(cols) != 1)} {names} {'are' if len(cols) != 1 else 'is'} missing from DATA"


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _could_not_run(c: Constraint, sql: str, e: Exception) -> CheckResult:
    msg = _first_line(e)
    return CheckResult(name=c.name, kind=c.kind, passed=False, violations=None, sql=sql,
                       detail=f"DuckDB could not run this check: {msg}")

