"""The real rows of a completed dataset (LANGUAGE.md, "Completing to the targets"): which rows of the reference
file the output keeps, read by DuckDB, as dataset rows.

A row is kept when it is usable (not held out, no stratum value missing: the rows `ir.Reference.counts` counted)
and, in a stratum the real data over-fills under `downsample = true`, when it is among the stratum's `kept` rows
with the lowest md5("SEED:keep:ROW"). Kept rows come in file order, each mapped value as DuckDB reads it from the
file (strings unchanged, dates as ISO text), under its field's name, with `_id` = `real-ROW` (ROW 1-based in
file order), `_origin` = `real` and the derived fields computed as on synthetic rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import duckdb

from .. import ir
from ..check.reference import TABLE, _py, held_sql, load, q
from ..generate.select import fill_derived
from ..plan.model import RealPlan

ORIGIN = "_origin"
REAL, SYNTHETIC = "real", "synthetic"


def real_id(row: int) -> str:
    return f"real-{row}"


def keep_sql(seed: int) -> str:
    """The downsampling order within a stratum: lowest md5("SEED:keep:ROW") first."""
    return f"md5('{int(seed)}:keep:' || CAST(rowid + 1 AS VARCHAR))"


def reference_file(spec_path: Path, ref: ir.Reference) -> Path:
    return Path(spec_path).resolve().parent / ref.path


def real_rows(spec: ir.Spec, real: RealPlan, path: Path, con: Optional[duckdb.DuckDBPyConnection] = None) -> list[dict]:
    """The real rows the completed dataset keeps, in file order, as dataset rows (with `_id` and `_origin`)."""
    ref = spec.reference
    own = con is None
    con = con or duckdb.connect()
    try:
        load(con, path, ref.format)
        return _select(spec, real, con)
    finally:
        if own:
            con.close()


def _select(spec: ir.Spec, real: RealPlan, con) -> list[dict]:
    """The kept rows, chosen in SQL: with `downsample`, a stratum's rows past its `kept` (in keep_sql order) never
    leave DuckDB, so a reference file of any size yields at most the completed dataset's real rows."""
    ref = spec.reference
    names = list(ref.columns)
    strata = list(ref.strata_fields)
    usable = " AND ".join([f"NOT {held_sql(spec.dataset.seed, ref.holdout, list(ref.columns.values()))}"]
                          + [f"{q(ref.columns[n])} IS NOT NULL" for n in strata])
    cols = ", ".join(f"{q(ref.columns[n])}" for n in names)
    limit: dict[tuple, int] = {}
    for s in real.strata:
        combo = tuple(s.values.get(n) for n in strata)
        limit[combo] = limit.get(combo, 0) + s.kept
    if ref.downsample:
        part = f"PARTITION BY {', '.join(q(ref.columns[n]) for n in strata)}" if strata else ""
        cases, params = [], []
        for combo, n in limit.items():
            cases.append("WHEN " + " AND ".join(f"{q(ref.columns[f])} = ?" for f in strata) + f" THEN {int(n)}"
                         if strata else f"WHEN true THEN {int(n)}")
            params += list(combo)
        cap = f"CASE {' '.join(cases)} ELSE 0 END" if cases else "0"
        got = con.execute(f"SELECT rowid + 1, {cols} FROM {TABLE} WHERE {usable} "
                          f"QUALIFY row_number() OVER ({part} ORDER BY {keep_sql(spec.dataset.seed)}) <= {cap} "
                          "ORDER BY rowid", params).fetchall()
    else:  # every usable row is kept
        got = con.execute(f"SELECT rowid + 1, {cols} FROM {TABLE} WHERE {usable} ORDER BY rowid").fetchall()
    out = []
    for r in got:
        row = fill_derived(spec, {n: _py(v) for n, v in zip(names, r[1:])})
        row["_id"] = real_id(r[0])
        row[ORIGIN] = REAL
        out.append(row)
    return out


def mark_synthetic(rows: list[dict]) -> list[dict]:
    for row in rows:
        row[ORIGIN] = SYNTHETIC
    return rows


def origin_counts(spec: ir.Spec, rows: list[dict]) -> list[dict]:
    """Per combination of the reference's stratum fields (in first-seen order of the output): real and synthetic
    rows the dataset holds."""
    fields = spec.reference.strata_fields
    counts: dict[tuple, dict] = {}
    for row in rows:
        combo = tuple(row.get(n) for n in fields)
        c = counts.setdefault(combo, {"values": dict(zip(fields, combo)), REAL: 0, SYNTHETIC: 0})
        c[row[ORIGIN]] += 1
    return list(counts.values())


def completed(spec: ir.Spec, real: RealPlan, kept: list[dict], synthetic: list[dict], reference=None):
    """The output of a complete-mode build from its real rows (`real_rows`) and its synthetic ones: the rows
    (real first, in file order), their checks (validate.completed) and the report's `real` and `findings`."""
    from ..validate.completed import validate_completed

    synthetic = mark_synthetic(synthetic)
    checks, findings = validate_completed(spec, kept, synthetic, reference)
    rows = [*kept, *synthetic]
    return rows, checks, {"real": real_section(spec, real, rows), "findings": findings}


def real_section(spec: ir.Spec, real: RealPlan, rows: list[dict]) -> dict:
    """report.json `real`: the reference file, and per stratum its target, the real rows the file has (usable),
    the real rows kept, the synthetic rows planned, and the real and synthetic rows the dataset holds."""
    fields = real.fields
    have = {tuple(c["values"].get(n) for n in fields): c for c in origin_counts(spec, rows)}
    strata, seen = [], set()
    for s in real.strata:
        combo = tuple(s.values.get(n) for n in fields)
        c = have.get(combo) if combo not in seen else None
        seen.add(combo)
        strata.append({"values": {n: s.values[n] for n in fields if n in s.values}, "target": s.target,
                       "real": s.real, "kept": s.kept, "synthetic_planned": s.synthetic,
                       "rows_real": c[REAL] if c else 0, "rows_synthetic": c[SYNTHETIC] if c else 0})
    return {"reference": real.reference, "path": real.path, "sha256": real.sha256, "file_rows": real.file_rows,
            "usable": real.usable, "holdout": real.holdout, "downsample": real.downsample,
            "rows_real": sum(1 for r in rows if r[ORIGIN] == REAL),
            "rows_synthetic": sum(1 for r in rows if r[ORIGIN] == SYNTHETIC), "strata": strata}
