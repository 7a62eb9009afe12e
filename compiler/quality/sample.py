"""The rows a content figure is measured on (LANGUAGE.md, "Content quality"): every row up to SAMPLE, else a
seeded sample of SAMPLE rows, chosen by DuckDB from the table that holds them.

The sample is the SAMPLE rows with the lowest md5("SEED:lift:ROW"), ROW counting from 0 in row order over the
rows whose measured columns are all present (shortcuts.sample_rows is the same rule over a Python list). One
scan of the table and SAMPLE rows in Python, so a figure costs the same on 10^4 rows as on 10^6.
"""

from __future__ import annotations

from typing import Sequence

SAMPLE = 5000


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sampled(con, table: str, columns: Sequence[str], seed: int, present: Sequence[str] | None = None,
            k: int | None = None) -> tuple[list[tuple], int]:
    """(the measured rows as tuples of `columns`, in row order; how many rows qualified): the rows where every
    column of `present` (default: all of `columns`) is not null, all of them up to k (default SAMPLE), else the
    seeded k."""
    k = SAMPLE if k is None else k
    cols = ", ".join(_q(c) for c in columns)
    where = " AND ".join(f"{_q(c)} IS NOT NULL" for c in (columns if present is None else present)) or "TRUE"
    src = f"FROM {_q(table)} WHERE {where}"
    total = con.execute(f"SELECT count(*) {src}").fetchone()[0]
    if total <= k:
        return con.execute(f"SELECT {cols} {src} ORDER BY rowid").fetchall(), total
    ranked = (f"SELECT {cols}, rowid AS _r, row_number() OVER (ORDER BY rowid) - 1 AS _i {src}")
    sql = (f"SELECT {cols} FROM (SELECT * FROM ({ranked}) ORDER BY md5(? || ':lift:' || CAST(_i AS VARCHAR)) "
           f"LIMIT {int(k)}) ORDER BY _r")
    return con.execute(sql, [str(int(seed))]).fetchall(), total
