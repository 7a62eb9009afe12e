"""validate: checks rows or a data file against a spec's constraints and targets, in DuckDB.

validate_rows(spec, rows) -> ValidationReport     the build's final rows (dicts, in order)
validate_file(spec, path) -> ValidationReport     a .jsonl/.json/.parquet/.csv file; raises DataError if unreadable
render.validate.render(report, console)            rich tables (the CLI side: synthc.render)

Rows go into the DuckDB table `data` (load.py), each spec field typed as the spec says. Each row constraint
compiles to one predicate (sql.py): a row breaks it unless the predicate is TRUE, so a NULL (missing value,
division by zero) is a violation; one scan counts them all. Dataset constraints and the marginals of categorical
sampled fields run as SQL on the same table (checks.py). Every check keeps its SQL, with literals inlined for
display, and ValidationReport.load_sql recreates `data`, so a reviewer can rerun any check in the duckdb shell.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from ..ir import Spec
from .checks import run_checks
from .completed import validate_completed
from .load import DataError, load_file, load_rows
from .models import CheckResult, MarginalResult, MarginalValue, ValidationReport
from .rows import validate_rows, validate_written
from .targets import target_shares

__all__ = ["validate_rows", "validate_written", "validate_file", "target_shares", "DataError", "CheckResult", "MarginalResult",
           "MarginalValue", "ValidationReport"]


def validate_file(spec: Spec, path: str | Path, real=None) -> ValidationReport:
    """Checks a dataset file without generating anything; raises DataError when it cannot be read.
    A completed dataset (a spec with `complete = true` and an `_origin` column) is judged as the build judges it
    (validate.completed): row and type checks over its synthetic rows, real rows that break one as findings."""
    loaded = load_file(spec, path)
    try:
        if spec.reference is not None and spec.reference.complete and "_origin" in loaded.columns:
            return _completed_file(spec, loaded, str(path), real)
        return run_checks(spec, loaded, source=str(path), real=real)
    finally:
        loaded.con.close()


def _completed_file(spec: Spec, loaded, source: str, real) -> ValidationReport:

    cur = loaded.con.execute("SELECT * FROM data ORDER BY rowid")
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r)) for r in cur.fetchall()]
    report, findings = validate_completed(spec, [r for r in rows if r.get("_origin") == "real"],
                                          [r for r in rows if r.get("_origin") != "real"], real)
    return report.model_copy(update={"source": source, "load_sql": loaded.load_sql or None, "content": None,
                                     "findings": findings})
