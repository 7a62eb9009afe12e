"""Constraint -> SQL pairs as data: every constraint of each specs/sql/NAME.sds compiles (validate/sql.py) to the
SQL and parameters in specs/sql/NAME.sql, and DuckDB accepts every query. A new case is a constraint line in a
spec; `--update-goldens` rewrites the golden (review the diff)."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import duckdb
import pytest

from synthc.check import check_file
from synthc.validate.load import load_rows
from synthc.validate.sql import dataset_query, violations_query
from synthc.validate.targets import target_shares

CASES = sorted((Path(__file__).resolve().parents[2] / "specs" / "sql").glob("*.sds"))


def targets_of(spec) -> dict:
    return {f.name: t for f in spec.fields for t in [target_shares(spec, f.name)] if t is not None}


def compiled(spec) -> str:
    targets = targets_of(spec)
    out = []
    for c in spec.constraints:
        sql, params = violations_query(c.expr) if c.kind == "row" else dataset_query(c, "data", targets)
        out.append(f"-- {c.name} ({c.kind})\n{sql}\n-- params: {json.dumps(params, default=str)}\n")
    return "\n".join(out)


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_constraints_compile_to_their_golden_sql(case, request):
    result = check_file(case, case.name)
    assert result.ok, [d.message for d in result.diagnostics]
    got = compiled(result.spec)
    golden = case.with_suffix(".sql")
    if request.config.getoption("--update-goldens"):
        golden.write_text(got, encoding="utf-8")
    want = golden.read_text(encoding="utf-8") if golden.exists() else ""
    assert got == want, "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), "golden", "now"))


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_duckdb_runs_every_compiled_query(case):
    spec = check_file(case, case.name).spec
    loaded = load_rows(spec, [])
    try:
        targets = targets_of(spec)
        for c in spec.constraints:
            sql, params = violations_query(c.expr) if c.kind == "row" else dataset_query(c, "data", targets)
            loaded.con.execute(sql, params).fetchall()
    except duckdb.Error as e:  # pragma: no cover - the failure message names the query
        pytest.fail(f"{c.name}: {e}")
    finally:
        loaded.con.close()
