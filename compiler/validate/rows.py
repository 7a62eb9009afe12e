"""validate_rows: the build's final rows (dicts held in memory) checked with the content figures of its report."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterable, Mapping

import duckdb

from ..ir import Spec
from ..quality.report import content
from .checks import run_checks
from .load import load_file, load_rows
from .models import ValidationReport


def validate_rows(spec: Spec, rows: Iterable[Mapping], real=None) -> ValidationReport:
    """Checks rows held in memory (one dict per row), with the content figures of a build's report; `real`
    (evaluation.checks.RealData) measures the evaluation aggregates."""
    rows = list(rows)
    loaded = load_rows(spec, rows)
    try:
        return run_checks(spec, loaded, real=real).model_copy(update={"content": content(spec, loaded.con)})
    finally:
        loaded.con.close()


MEMORY = "1GB"  # DuckDB's memory for the checks of a written dataset: beyond it, tables and sorts spill to disk


def validate_written(spec: Spec, path: Path, real=None) -> ValidationReport:
    """validate_rows for rows already written as the dataset's canonical JSONL (emit.outputs.DatasetFile): DuckDB
    reads the file, so no list of rows is held, in at most MEMORY; the report is the one validate_rows gives for
    the same rows (no load SQL: the file is a temporary one)."""
    with tempfile.TemporaryDirectory(prefix="synthc-checks-") as spill:
        con = duckdb.connect(config={"memory_limit": MEMORY, "temp_directory": spill})
        try:
            loaded = load_file(spec, path, con)
            loaded.load_sql = ""
            return run_checks(spec, loaded, real=real).model_copy(update={"content": content(spec, loaded.con)})
        finally:
            con.close()
