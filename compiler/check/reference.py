"""`reference NAME from "PATH" { COLUMN -> FIELD ... }`: a file of real rows, checked by DuckDB (LANGUAGE.md,
"Reference data").

The file is scanned by DuckDB into a temporary table once, never into Python: the checks (columns, types,
domains, missing values) and the facts the planner needs (row counts per stratum, a pool of few-shot rows) are
queries over that table. Row numbers are 1-based in file order (the table's insertion order).
"""

from __future__ import annotations

import datetime
import codecs
import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import duckdb

from .. import ast, ir
from ..diagnostics import Diagnostic, Span, did_you_mean
from .exprs import _show
from .modules import project_root
from .settings import settings_by_key

if TYPE_CHECKING:
    from . import Checker

SETTINGS = {"complete", "downsample", "holdout"}
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
MAX_EXAMPLES = 20
POOL_PER_K = 4
MAX_HOLDOUT = 0.9
SHOWN = 3  # data lines named per out-of-domain value
TABLE = "ref"
MEMORY_LIMIT = "1GB"  # a reference file of any size is read in bounded memory (issue 21; bench/RESULTS.md)

_INTEGER = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
_NUMBER = _INTEGER | {"FLOAT", "DOUBLE"}


def reader(fmt: str) -> str:
    """The DuckDB table function for a reference file (its path is the parameter `?`)."""
    if fmt == "jsonl":
        return "read_json(?, format = 'newline_delimited', sample_size = -1)"
    if fmt == "csv":
        return "read_csv(?, header = true, sample_size = -1)"
    return "read_parquet(?)"


def load(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> int:
    """The file into the table `ref` with a 1-based `_row` in file order; returns its row count. The connection's
    memory is bounded (MEMORY_LIMIT): DuckDB spills the table to a temp folder of this process past it."""
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    spill = str(Path(tempfile.gettempdir(), f"synthc-duckdb-{os.getpid()}")).replace("'", "''")
    con.execute(f"SET temp_directory = '{spill}'")
    con.execute(f"CREATE TEMP TABLE {TABLE} AS SELECT * FROM {reader(fmt)}", [str(path)])
    return con.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]


# The JSON types (DuckDB's json_type) that a field's values may have, per kind of field.
_JSON_TYPES = {"text": ("VARCHAR",), "int": ("BIGINT", "UBIGINT"), "number": ("BIGINT", "UBIGINT", "DOUBLE"),
               "bool": ("BOOLEAN",), "date": ("VARCHAR",)}
_JSON_WORDS = {"VARCHAR": "text", "BIGINT": "a number", "UBIGINT": "a number", "DOUBLE": "a number",
               "BOOLEAN": "true or false", "OBJECT": "an object", "ARRAY": "a list"}
_PROBE = 1 << 16


def _blank(path: Path) -> bool:
    """Whether the file holds nothing but white space (read only when it is small)."""
    try:
        size = path.stat().st_size
        return size == 0 or (size <= _PROBE and not path.read_bytes().strip())
    except OSError:
        return False


def _bad_utf8(path: Path) -> tuple[int, int] | None:
    """(line, byte) of the first byte that is not UTF-8, reading the file in chunks; None when it all decodes."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                return line + chunk[: e.start].count(b"\n"), chunk[e.start]
            line += chunk.count(b"\n")
    return None


def _unparsed(rel: str, path: Path, fmt: str, e: Exception) -> str:
    first = str(e).splitlines()[0]
    if "unicode" in str(e).lower() or "utf" in str(e).lower():
        bad = _bad_utf8(path)
        if bad is not None:
            return f"reference file `{rel}` is not UTF-8: line {bad[0]} has the byte 0x{bad[1]:02x}"
    if fmt == "jsonl" and "maximum_object_size" in str(e):
        return f"reference file `{rel}` has a line too long for the JSON reader"
    return f"reference file `{rel}` does not parse as {fmt}: {first}"


def _unparsed_hint(path: Path, fmt: str, e: Exception) -> str | None:
    text = str(e).lower()
    if "unicode" in text or "utf" in text:
        return "save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
    if fmt == "jsonl" and "maximum_object_size" in text:
        return "a line is one row: keep each under 16 MB (LANGUAGE.md, \"Reference data\")"
    return None


def content_sql(seed: int, columns, salt: str = "") -> str:
    """A row's content key, 0 .. 2^32-1: int(sha256("SEED:" + its values)[:8], 16), the values those of `columns`
    (the reference's mapped columns, in field order) as DuckDB writes them as text, each as `BYTES:TEXT` (its
    length in bytes first) or `-` when missing, joined by `,`. The same row has the same key in any order or
    copy of the file, so the holdout is chosen by content, never by position (LANGUAGE.md, "Holdout")."""
    parts = [f"coalesce(CAST(strlen(CAST({q(c)} AS VARCHAR)) AS VARCHAR) || ':' || CAST({q(c)} AS VARCHAR), '-')"
             for c in columns] or ["''"]
    values = " || ',' || ".join(parts)
    prefix = f"{int(seed)}:{salt}:" if salt else f"{int(seed)}:"  # a salt draws another order (eval's sample)
    return f"(('0x' || substr(sha256('{prefix}' || {values}), 1, 8))::UBIGINT)"


def held_limit(share: float) -> int:
    return int(share * 2**32)


def held_sql(seed: int, share: float, columns) -> str:
    """True for a held-out row: its content key (content_sql) < share * 2^32 (LANGUAGE.md, "Holdout"). The one
    held-out predicate: the counts, the few-shot pool, the completed dataset and `synthc eval` all use it."""
    if share <= 0:
        return "false"
    return f"({content_sql(seed, columns)} < {held_limit(share)})"


def content_key(seed: int, values) -> int:
    """content_sql in Python, for values already written as DuckDB writes them (str, or None when missing)."""
    text = ",".join("-" if v is None else f"{len(v.encode('utf-8'))}:{v}" for v in values)
    return int(hashlib.sha256(f"{int(seed)}:{text}".encode("utf-8")).hexdigest()[:8], 16)


def where_line(fmt: str, row: int) -> str:
    if fmt == "jsonl":
        return f"line {row}"
    if fmt == "csv":
        return f"line {row + 1}"
    return f"row {row}"


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _py(v):
    """A DuckDB value as an IR value: dates as ISO strings, decimals as floats."""
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()[:10]
    if v is not None and not isinstance(v, (bool, int, float, str)):
        return float(v)
    return v


class ReferenceChecker:
    def __init__(self, c: "Checker"):
        self.c = c

    def report(self, code, message, span, hint=None, severity="error"):
        self.c.report(Diagnostic(code, message, span, hint, severity=severity))

    def run(self, fields: list[ir.Field], prompts: list[ir.Prompt], seed: int) -> tuple[ir.Reference | None, bool]:
        """The checked reference (None without one) and whether it checked without errors."""
        for mod in self.c.modules.values():
            if mod is not self.c.root:
                for d in mod.ast.decls:
                    if isinstance(d, ast.Reference):
                        self.report("SDS085", "an imported module cannot declare a reference", d.name_span,
                                    "declare it in the spec that imports the module")
        decls = [d for d in self.c.root.ast.decls if isinstance(d, ast.Reference)]
        for extra in decls[1:]:
            self.report("SDS085", "a spec has at most one reference", extra.name_span)
        wanted = [p for p in prompts if p.real_examples is not None]
        if not decls:
            for p in wanted:
                self._no_such_reference(p, None)
            return None, not wanted
        try:
            return self._check(decls[0], {f.name: f for f in fields}, wanted, seed)
        except duckdb.Error as e:
            self.report("SDS080", f"reference file `{decls[0].path}` cannot be read: {str(e).splitlines()[0]}",
                        decls[0].path_span)
            return None, False

    def _no_such_reference(self, p: ir.Prompt, name: str | None) -> None:
        span = self.c.spans.get(f"examples:{p.name}") or self.c.spans.get(f"prompt:{p.name}")
        self.report("SDS086", f"`examples` of `{p.name}` names `{p.real_examples.reference}`, which is not a reference",
                    span, f"the spec's reference is `{name}`" if name else
                    'declare it: reference real from "data/rows.jsonl" { column -> field }')

    # ---- the declaration ---------------------------------------------------------------------------

    def _settings(self, d: ast.Reference):
        vals, _ = settings_by_key(d.settings, SETTINGS, "reference", self.report)
        out = {"complete": False, "downsample": False, "holdout": 0.0}
        ok = True
        for key in ("complete", "downsample"):
            s = vals.get(key)
            if s is None:
                continue
            if isinstance(s.value, ast.Lit) and s.value.kind == "bool":
                out[key] = s.value.value
            else:
                self.report("SDS007", f"`{key}` is true or false", s.span)
                ok = False
        s = vals.get("holdout")
        if s is not None:
            v = s.value
            if isinstance(v, ast.Lit) and v.kind in ("percent", "number") and 0 <= v.value <= MAX_HOLDOUT:
                out["holdout"] = float(v.value)
            else:
                self.report("SDS007", "`holdout` is a share from 0% to 90%", s.span, "e.g. holdout = 20%")
                ok = False
        if out["downsample"] and not out["complete"]:
            self.report("SDS085", "`downsample` needs `complete = true`", vals["downsample"].span)
            ok = False
        return out, ok

    def _path(self, d: ast.Reference) -> tuple[Path, str] | None:
        rel = d.path
        if not rel or Path(rel).is_absolute() or PurePosixPath(rel).is_absolute():
            self.report("SDS081", f"reference path `{rel}` is absolute", d.path_span,
                        'name the file relative to the spec, e.g. "data/rows.jsonl"')
            return None
        spec = self.c.root.path
        base = spec.resolve().parent if spec is not None else Path.cwd()
        try:
            target = (base / rel).resolve()
        except (RuntimeError, OSError):  # a symlink loop (RuntimeError before Python 3.13, OSError after)
            self.report("SDS080", f"reference file `{rel}` is a symbolic link that leads back to itself",
                        d.path_span, "point the link at the data file, or name the file itself")
            return None
        try:
            shown = target.relative_to(project_root(spec) if spec is not None else base).as_posix()
        except ValueError:
            self.report("SDS081", f"reference path `{rel}` leaves the project", d.path_span,
                        "keep the data file inside the project (the folder with synthc.toml or .git)")
            return None
        fmt = FORMATS.get(target.suffix.lower())
        if fmt is None:
            self.report("SDS080", f"reference file `{rel}` is of an unknown format", d.path_span,
                        "use .jsonl (one JSON object per line), .csv (with a header) or .parquet")
            return None
        if target.is_dir():
            self.report("SDS080", f"reference file `{rel}` is a folder, not a file", d.path_span,
                        f"name one data file in {shown}")
            return None
        if not target.is_file():
            self.report("SDS080", f"reference file `{rel}` not found", d.path_span, f"looked for {shown} in the project")
            return None
        return target, fmt

    # ---- the file ----------------------------------------------------------------------------------

    def _check(self, d: ast.Reference, fields: dict[str, ir.Field], wanted: list[ir.Prompt], seed: int):
        settings, ok = self._settings(d)
        located = self._path(d)
        maps: dict[str, ast.ColumnMap] = {}
        for m in d.maps:
            if m.field in maps:
                self.report("SDS005", f"field `{m.field}` is mapped twice", m.field_span)
                ok = False
            elif m.field not in fields:
                if m.field not in self.c.field_names:  # a field that failed to check was reported already
                    self.report("SDS010", f"undefined field `{m.field}`", m.field_span,
                                did_you_mean(m.field, self.c.field_names))
                ok = False
            elif fields[m.field].role == "derived":
                self.report("SDS085", f"`{m.field}` is derived: it is computed on real rows, not read", m.field_span)
                ok = False
            elif fields[m.field].type.kind in ("list", "object"):
                self.report("SDS083", f"`{m.field}` is a {fields[m.field].type.kind}: a reference maps scalar fields only",
                            m.field_span)
                ok = False
            else:
                maps[m.field] = m
        if settings["complete"]:
            missing = [f.name for f in fields.values() if f.role != "derived" and f.name not in maps]
            if missing:
                self.report("SDS085", f"`complete` needs every sampled and generated field from the file; "
                                      f"{', '.join(f'`{n}`' for n in missing)} {'is' if len(missing) == 1 else 'are'} not mapped",
                            d.name_span, f"map a column to it: COLUMN -> {missing[0]}")
                ok = False
        for p in wanted:
            if p.real_examples.reference != d.name:
                self._no_such_reference(p, d.name)
                ok = False
                continue
            unmapped = [o for o in p.outputs if o not in maps]
            if unmapped:
                self.report("SDS086", f"`examples` of `{p.name}` shows real rows, but the reference does not map "
                                      f"its output{'s' * (len(unmapped) > 1)} {', '.join(f'`{o}`' for o in unmapped)}",
                            self.c.spans.get(f"examples:{p.name}") or d.name_span,
                            f"map a column: COLUMN -> {unmapped[0]}")
                ok = False
        if located is None:
            return None, False
        path, fmt = located
        con = duckdb.connect()
        hashing = ThreadPoolExecutor(1)  # the file's sha256 while DuckDB scans it (both release the GIL)
        digest = hashing.submit(file_sha256, path)
        try:
            if fmt != "parquet" and _blank(path):
                self.report("SDS080", f"reference file `{d.path}` is empty: it has no rows"
                                      f"{' and no header' if fmt == 'csv' else ''}", d.path_span,
                            "fill it with the real rows: one JSON object per line (.jsonl), or a header and rows (.csv)")
                return None, False
            try:
                rows = load(con, path, fmt)
            except duckdb.Error as e:
                self.report("SDS080", _unparsed(d.path, path, fmt, e), d.path_span, _unparsed_hint(path, fmt, e))
                return None, False
            columns = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {TABLE})").fetchall())
            if not rows and maps:
                self.report("SDS140", f"reference file `{d.path}` has no rows, only a header: no real row is kept "
                                      "and `examples` shows none", d.path_span,
                            "add the real rows to the file, or remove the reference", severity="warning")
            typed_ok = True
            for name, m in maps.items():
                if m.column not in columns and fmt == "csv" and len(columns) == 1 and "," in next(iter(columns)):
                    self.report("SDS082", f"reference file `{d.path}` could not be split into columns: its rows do "
                                          f"not all have as many fields as its header, so it was read as one column "
                                          f"`{next(iter(columns))}`", m.column_span,
                                "give every row as many fields as the header (quote a field that holds a comma)")
                    typed_ok = False
                    break
                if m.column not in columns:
                    self.report("SDS082", f"reference file `{d.path}` has no column `{m.column}`", m.column_span,
                                did_you_mean(m.column, columns) or f"its columns: {', '.join(sorted(columns))}")
                    typed_ok = False
                elif not self._type_fits(fields[name], m, columns[m.column], fmt, con):
                    typed_ok = False
            if not typed_ok:
                return None, False
            for name, m in maps.items():
                ok &= self._domain(fields[name], m, fmt, d.path, con)
            self._missing(maps, rows, d.path, con, fields)
            if not ok:
                return None, False
            return self._facts(d, settings, fields, maps, wanted, seed, digest.result(), fmt, rows, con), True
        finally:
            con.close()
            hashing.shutdown(wait=True)

    def _type_fits(self, f: ir.Field, m: ast.ColumnMap, have: str, fmt: str, con) -> bool:
        t = f.type
        want = self._want(t)
        col = q(m.column)
        fits = have == "VARCHAR" if want == "text" else have in _INTEGER if want == "int" else \
            have in _NUMBER or have.startswith("DECIMAL") if want == "number" else have == "BOOLEAN" if want == "bool" \
            else have in ("DATE", "VARCHAR", "TIMESTAMP") if want == "date" else False
        if fits and want == "date" and have == "VARCHAR":
            bad = con.execute(f"SELECT min(rowid) + 1 FROM {TABLE} WHERE {col} IS NOT NULL "
                              f"AND TRY_CAST({col} AS DATE) IS NULL").fetchone()[0]
            if bad is not None:
                self.report("SDS083", f"column `{m.column}` holds text that is not a date ({where_line(fmt, bad)})",
                            m.column_span, "dates are written YYYY-MM-DD")
                return False
        if not fits and have == "JSON" and want in _JSON_TYPES:  # values of several JSON types: name the first odd one
            row, value, kind = con.execute(
                f"SELECT rowid + 1, CAST({col} AS VARCHAR), json_type({col}) FROM {TABLE} WHERE {col} IS NOT NULL "
                f"AND json_type({col}) NOT IN ({', '.join(repr(t) for t in _JSON_TYPES[want])}) "
                "ORDER BY rowid LIMIT 1").fetchone() or (None, None, None)
            if row is not None:
                self.report("SDS083", f"column `{m.column}` holds values of several JSON types: {where_line(fmt, row)} "
                                      f"has {value[:40]} ({_JSON_WORDS.get(kind, kind.lower())}); `{f.name}` needs {want}", m.column_span,
                            f"write every value of `{m.column}` as {want}")
                return False
        if not fits:
            self.report("SDS083", f"column `{m.column}` holds {have} values; `{f.name}` needs {want}", m.column_span,
                        "map a column of the field's type, or change the field's type")
        return fits

    @staticmethod
    def _want(t: ir.Type) -> str:
        if t.kind in ("category", "enum"):
            vals = t.values or ()
            if vals and all(isinstance(v, bool) for v in vals):
                return "bool"
            if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
                return "int"
            if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
                return "number"
            return "text"
        return {"text": "text", "int": "int", "float": "number", "bool": "bool", "date": "date"}[t.kind]

    def _domain(self, f: ir.Field, m: ast.ColumnMap, fmt: str, rel: str, con) -> bool:
        """Category values outside the field's values, numbers and dates outside its range: SDS084."""
        t = f.type
        col = q(m.column)
        if t.kind in ("category", "enum") and t.values:
            allowed = [v for v in t.values if not isinstance(v, bool)]
            if not allowed:
                return True
            cond = f"{col} NOT IN ({', '.join('?' for _ in allowed)})"
            params = list(allowed)
        elif t.kind in ("int", "float", "date") and t.low is not None:
            cast = f"CAST({col} AS DATE)" if t.kind == "date" else col
            cond = f"({cast} < ? OR {cast} > ?)"
            params = [datetime.date.fromisoformat(t.low), datetime.date.fromisoformat(t.high)] if t.kind == "date" \
                else [t.low, t.high]
        else:
            return True
        found = con.execute(
            f"SELECT {col}, count(*), list(rowid + 1 ORDER BY rowid)[1:{SHOWN}] FROM {TABLE} "
            f"WHERE {col} IS NOT NULL AND {cond} GROUP BY {col} ORDER BY min(rowid) LIMIT 6", params).fetchall()
        if not found:
            return True
        total = con.execute(f"SELECT count(*) FROM {TABLE} WHERE {col} IS NOT NULL AND {cond}", params).fetchone()[0]
        value, n, rows = found[0]
        value = _py(value)
        where = ", ".join(where_line(fmt, r) for r in rows) + (", ..." if n > len(rows) else "")
        others = [_show(_py(v)) for v, _, _ in found[1:]]
        more = f"; also {', '.join(others)}" + ("" if total == sum(x[1] for x in found) else ", ...") if others else ""
        what = f"a value of `{f.name}`" if t.kind in ("category", "enum") else f"in the range of `{f.name}`"
        hint = None
        if t.kind in ("category", "enum"):
            close = did_you_mean(str(value), [str(v) for v in t.values])
            hint = close and f"{close} `{f.name}` has that value: fix the data, or the field's values"
        if hint is None and t.kind in ("category", "enum"):
            hint = f"`{f.name}` takes {', '.join(_show(v) for v in t.values)}; add the value, or fix the data"
        self.report("SDS084", f"{_show(value)} in column `{m.column}` of `{rel}` ({where}) is not {what}"
                              f" ({total:,} row{'s' * (total != 1)} out of the domain{more})", m.column_span, hint)
        return False

    def _missing(self, maps: dict[str, ast.ColumnMap], rows: int, rel: str, con, fields) -> None:
        if not maps or not rows:
            return
        cols = list(maps.items())
        got = con.execute("SELECT " + ", ".join(f"count({q(m.column)})" for _, m in cols) + f" FROM {TABLE}").fetchone()
        for (name, m), present in zip(cols, got):
            if present < rows:
                miss = rows - present
                self.report("SDS140", f"column `{m.column}` of `{rel}` has no value in {miss:,} of {rows:,} rows "
                                      f"({100 * miss / rows:.1f}%)", m.column_span,
                            "rows missing it are not used (it is a stratum field)"
                            if fields[name].role == "sampled" and fields[name].categorical
                            else "real rows keep the missing value (null)", severity="warning")

    # ---- what the planner and the requests need ----------------------------------------------------

    def _facts(self, d, settings, fields, maps, wanted, seed, sha256: str, fmt: str, rows: int, con) -> ir.Reference:
        order = [f for f in fields]
        strata = tuple(n for n in order if n in maps and fields[n].role == "sampled" and fields[n].categorical)
        held = held_sql(seed, settings["holdout"], [maps[n].column for n in order if n in maps])
        usable = " AND ".join([f"NOT {held}"] + [f"{q(maps[n].column)} IS NOT NULL" for n in strata])
        key_cols = ", ".join(q(maps[n].column) for n in strata)
        k = max((p.real_examples.k for p in wanted), default=0)
        source = TABLE
        if k and settings["holdout"] > 0:  # the counts and the pool read the usable rows: one holdout test per row
            con.execute(f"CREATE TEMP TABLE usable AS SELECT rowid + 1 AS _row, * FROM {TABLE} WHERE {usable}")
            source, usable, row = "usable", "true", "_row"
        else:
            row = "rowid + 1"
        if strata:
            got = con.execute(f"SELECT {key_cols}, count(*) FROM {source} WHERE {usable} GROUP BY ALL "
                              f"ORDER BY ALL").fetchall()
            counts = tuple(ir.RealCount(values={n: _py(v) for n, v in zip(strata, r[:-1])}, rows=r[-1]) for r in got)
        else:
            n = con.execute(f"SELECT count(*) FROM {source} WHERE {usable}").fetchone()[0]
            counts = (ir.RealCount(values={}, rows=n),)
        pool: tuple[ir.RealRow, ...] = ()
        if k:
            names = [n for n in order if n in maps]
            part = f"PARTITION BY {key_cols}" if strata else ""
            shown_cond = " AND ".join([usable] + [f"{q(maps[n].column)} IS NOT NULL" for n in names])
            rank = f"md5('{int(seed)}:pool:' || CAST({row} AS VARCHAR))"
            got = con.execute(
                f"SELECT {row}, {', '.join(q(maps[n].column) for n in names)} FROM {source} WHERE {shown_cond} "
                f"QUALIFY row_number() OVER ({part} ORDER BY {rank}) <= {POOL_PER_K * k} "
                f"ORDER BY {key_cols + ', ' if strata else ''}{rank}").fetchall()
            pool = tuple(ir.RealRow(row=r[0], values={n: _py(v) for n, v in zip(names, r[1:])}) for r in got)
        return ir.Reference(
            name=d.name, path=PurePosixPath(*Path(d.path).parts).as_posix(), format=fmt,
            columns={n: maps[n].column for n in order if n in maps}, sha256=sha256, rows=rows,
            usable=sum(c.rows for c in counts), complete=settings["complete"], downsample=settings["downsample"],
            holdout=settings["holdout"], strata_fields=strata, counts=counts, pool=pool)
