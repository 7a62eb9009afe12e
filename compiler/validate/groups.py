"""`per FIELD` on a dataset constraint (LANGUAGE.md, "Per stratum"): the constraint judged on each group of rows
sharing the values of the fields, each group's rows copied into a temporary table and checked by the same
dataset check as the whole table; the check fails when any group fails, and counts the failing groups."""

from __future__ import annotations

from typing import Callable

import duckdb

from ..ir import Constraint, Value
from .load import TABLE, Loaded
from .models import CheckResult
from .sql import ident

GROUP_TABLE = "data_group"
EXAMPLES = 3


def per_group_check(c: Constraint, loaded: Loaded, targets: dict[str, dict[Value, float]], seed: int,
                    check: Callable[..., CheckResult]) -> CheckResult:
    """`check` (checks.dataset_check) of `c` without `per` on every group of `c.per` present in the data."""
    whole = c.model_copy(update={"per": ()})
    if any(f not in loaded.columns for f in c.fields):
        return check(whole, loaded, targets, seed)  # reports the missing columns
    con = loaded.con
    cols = ", ".join(ident(f) for f in c.per)
    try:
        groups = con.execute(f"SELECT DISTINCT {cols} FROM {ident(TABLE)} ORDER BY ALL").fetchall()
    except duckdb.Error as e:
        return CheckResult(name=c.name, kind="dataset", passed=False, violations=None, sql="",
                           detail=f"DuckDB could not group the rows: {str(e).strip().splitlines()[0]}")
    if not groups:  # no rows: judged as the whole (empty) dataset is, where a figure is NULL and fails
        return check(whole, loaded, targets, seed)
    where = " AND ".join(f"{ident(f)} IS NOT DISTINCT FROM ?" for f in c.per)
    results = []
    try:
        for values in groups:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(GROUP_TABLE)} AS SELECT * FROM {ident(TABLE)} "
                        f"WHERE {where} ORDER BY rowid", list(values))
            results.append((dict(zip(c.per, values)), check(whole, loaded, targets, seed, table=GROUP_TABLE)))
    finally:
        con.execute(f"DROP TABLE IF EXISTS {ident(GROUP_TABLE)}")
    failed = [(g, r) for g, r in results if not r.passed]
    values = {f"{k} [{_label(g)}]": v for g, r in results for k, v in (r.values or {}).items()}
    examples = [{"group": {k: _plain(v) for k, v in g.items()}, "values": dict(r.values or {}),
                 **({"detail": r.detail} if r.detail else {})} for g, r in failed[:EXAMPLES]]
    detail = (f"{len(failed)} of {len(results)} groups fail: " + "; ".join(_label(g) for g, _ in failed[:EXAMPLES])
              + ("; ..." if len(failed) > EXAMPLES else "")) if failed else None
    sql = f"-- once per group of {', '.join(c.per)}, on the group's rows ({GROUP_TABLE}):\n{results[0][1].sql}"
    return CheckResult(name=c.name, kind="dataset", passed=not failed, violations=len(failed), sql=sql,
                       values=values, examples=tuple(examples), detail=detail)


def _plain(v):
    from .checks import jsonable

    return jsonable(v)


def _label(group: dict) -> str:
    return ", ".join(f"{k}={_plain(v)}" for k, v in group.items())
