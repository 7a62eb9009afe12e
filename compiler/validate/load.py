"""Rows into DuckDB: a data file (JSONL, JSON, Parquet, CSV) or Python dicts become the table `data`.

Columns of spec fields are typed as the spec says (category of strings -> VARCHAR, int -> BIGINT, date -> DATE,
...) with TRY_CAST where the file's own type differs, so a CSV or a JSON date string compares like the IR
expects; a value that does not parse becomes NULL, and the type checks (types.py) report it from the staged copy
of the file (`source`).
"""

from __future__ import annotations

import datetime
import decimal
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import duckdb

from ..ir import Spec, Type
from .sql import MACROS, ident, inline_sql, install_macros

TABLE = "data"
SOURCE = "source"  # the file as read, before typing (only when a column needs a cast)

_NUMERIC = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
            "UHUGEINT", "FLOAT", "DOUBLE"}
_COMPRESSED = (".gz", ".zst")


class DataError(Exception):
    """DATA cannot be read: no such file, an unknown format, or content DuckDB cannot parse."""


@dataclass
class Loaded:
    con: duckdb.DuckDBPyConnection
    rows: int
    columns: dict[str, str]  # name -> DuckDB type, after the casts
    casts: dict[str, str] = field(default_factory=dict)  # spec field -> type it was cast to
    reader: str = ""  # the table function that reads the source, with `?` for its path
    reader_params: list = field(default_factory=list)
    load_sql: str = ""  # display: creates `data` from the source
    source_types: dict[str, str] = field(default_factory=dict)  # name -> DuckDB type as the file was read


def sql_type(t: Type) -> str | None:
    """The DuckDB type a field's values are compared as; None to keep the file's own (lists, objects)."""
    k = t.kind
    if k in ("category", "enum"):
        vals = t.values or ()
        if vals and all(isinstance(v, bool) for v in vals):
            return "BOOLEAN"
        if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            return "BIGINT"
        if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            return "DOUBLE"
        return "VARCHAR"
    return {"bool": "BOOLEAN", "int": "BIGINT", "float": "DOUBLE", "date": "DATE", "text": "VARCHAR"}.get(k)


def coerce(value, type_: str | None):
    """A spec value in the form its column holds (mixed-type categories are compared as text)."""
    if type_ == "VARCHAR" and not isinstance(value, str):
        return "true" if value is True else "false" if value is False else str(value)
    return value


def _needs_cast(have: str, want: str | None) -> bool:
    if want is None or have == want:
        return False
    numeric = have in _NUMERIC or have.startswith("DECIMAL")
    return not (want in ("BIGINT", "DOUBLE") and numeric)


def reader_for(path: Path, sample_all: bool = False) -> str:
    """The DuckDB table function reading `path` (given as the parameter `?`), chosen by extension."""
    name = path.name.lower()
    for z in _COMPRESSED:
        name = name.removesuffix(z)
    sample = ", sample_size = -1" if sample_all else ""
    if name.endswith(".parquet"):
        return "read_parquet(?)"
    if name.endswith((".jsonl", ".ndjson")):
        return f"read_json_auto(?, format = 'newline_delimited'{sample})"
    if name.endswith(".json"):
        return f"read_json_auto(?{sample})"
    if name.endswith(".csv"):
        # every column read as text, then typed by the spec: no guessing from a sample of rows
        return "read_csv(?, header = true, all_varchar = true)"
    if name.endswith(".tsv"):
        return "read_csv(?, header = true, all_varchar = true, delim = '\t')"
    raise DataError(f"{path}: unknown data format (expected .jsonl, .json, .parquet or .csv)")


def load_file(spec: Spec, path: str | Path, con: duckdb.DuckDBPyConnection | None = None) -> Loaded:
    """Reads a data file into the table `data` of `con` (a new in-memory database by default)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    con = con or duckdb.connect()
    reader = reader_for(path)
    try:
        return _load(spec, con, reader, [str(path)])
    except duckdb.Error as first:
        if "read_json" not in reader:
            raise DataError(f"{path}: cannot read it: {_first_line(first)}") from None
        # a value past the rows DuckDB sampled did not fit the type it guessed: look at every row
        try:
            return _load(spec, con, reader_for(path, sample_all=True), [str(path)])
        except duckdb.Error as e:
            raise DataError(f"{path}: cannot read it: {_first_line(e)}") from None


def load_rows(spec: Spec, rows: Iterable[Mapping], con: duckdb.DuckDBPyConnection | None = None) -> Loaded:
    """Loads Python dicts (one per row, in order) into the table `data`, through a temporary JSONL file."""
    con = con or duckdb.connect()
    with tempfile.TemporaryDirectory(prefix="synthc-validate-") as tmp:
        path = Path(tmp) / "rows.jsonl"
        n = 0
        encode = json.JSONEncoder(ensure_ascii=False, default=_json_default).encode
        with path.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(encode(row) + "\n")
                n += 1
        if n == 0:
            return _empty(spec, con)
        loaded = load_file(spec, path, con)
    loaded.load_sql = ""  # the temporary file is gone: nothing a reviewer could rerun
    return loaded


def _load(spec: Spec, con, reader: str, params: list) -> Loaded:
    described = con.execute(f"DESCRIBE SELECT * FROM {reader}", params).fetchall()
    have = {row[0]: row[1] for row in described}
    if list(have.items()) == [("json", "JSON")] and "json" not in {f.name for f in spec.fields}:
        # DuckDB's answer for an empty JSON file: a dataset with no rows
        if con.execute(f"SELECT count(*) FROM {reader}", params).fetchone()[0] == 0:
            return _empty(spec, con)
    wanted = {f.name: sql_type(f.type) for f in spec.fields}
    casts = {c: wanted[c] for c in have if c in wanted and _needs_cast(have[c], wanted[c])}
    install_macros(con)
    shown = list(MACROS)
    source, source_params = reader, params
    if casts:
        # Staged in a table first: DuckDB pushes a TRY_CAST over read_csv down into the reader as a hard cast
        # that throws on a bad cell (duckdb/duckdb#23818). The staged copy also serves the bad-value counts.
        stage = f"CREATE OR REPLACE TEMP TABLE {ident(SOURCE)} AS\nSELECT * FROM {reader}"
        con.execute(stage, params)
        shown.append(inline_sql(stage, params))
        source, source_params = ident(SOURCE), []
    select = ",\n       ".join(f"TRY_CAST({_text_of(c, have[c])} AS {casts[c]}) AS {ident(c)}" if c in casts
                               else ident(c) for c in have)
    sql = f"CREATE OR REPLACE TABLE {ident(TABLE)} AS\nSELECT {select}\nFROM {source}"
    con.execute(sql, source_params)
    shown.append(inline_sql(sql, source_params))
    rows = con.execute(f"SELECT count(*) FROM {ident(TABLE)}").fetchone()[0]
    columns = {c: casts.get(c, t) for c, t in have.items()}
    return Loaded(con, rows, columns, casts, reader, params, ";\n".join(shown), dict(have))


def _text_of(column: str, have: str) -> str:
    """A column to cast: a JSON value (a column of mixed types) by its text, so "x" is x and not "x" quoted."""
    return f"json_extract_string({ident(column)}, '$')" if have == "JSON" else ident(column)


def _empty(spec: Spec, con) -> Loaded:
    install_macros(con)
    cols = {f.name: sql_type(f.type) or "JSON" for f in spec.fields}
    body = ", ".join(f"{ident(c)} {t}" for c, t in cols.items()) or '"nothing" INTEGER'
    con.execute(f"CREATE OR REPLACE TABLE {ident(TABLE)} ({body})")
    return Loaded(con, 0, cols)


def _json_default(v):
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, (set, frozenset, tuple)):
        return list(v)
    raise TypeError(f"cannot write {type(v).__name__} as JSON")


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
