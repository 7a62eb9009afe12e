"""The two sides of an evaluation: the synthetic rows and the real rows, as columns by spec field.

Synthetic rows come from a data file (validate.load reads it, typed as the spec says) or from the build's rows in
memory; rows whose `_origin` is `real` are not synthetic and are left out. Real rows come from the spec's reference
file or any file given instead, read by DuckDB; a column is a field through the reference's mapping when the file
has the mapped column, else by the field's own name. Rows keep their 1-based row number in their file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import duckdb

from .. import ir

DEFAULT_HOLDOUT = 0.2  # held out for the evaluation only when the spec declares no holdout (docs/EVAL.md)
SAMPLE_ROWS = 20_000  # real rows read into Python at most (docs/EVAL.md, "Real files of any size")
_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}


class EvalError(Exception):
    """The evaluation cannot run on this input (a missing or unreadable file, no real rows, ...): exit 2."""


@dataclass(frozen=True)
class Source:
    """The real file a real side was read from, for what reads all of it (quality.realindex)."""

    path: str
    format: str
    columns: Mapping[str, str]  # field -> the file's column
    rows: int  # the file's rows

    def reader(self) -> str:
        from ..check.reference import reader

        return reader(self.format)


@dataclass(frozen=True)
class Side:
    path: str
    rows: tuple[int, ...]  # 1-based row numbers in the file
    columns: Mapping[str, tuple]  # field -> values, aligned with rows
    skipped: int = 0  # rows of the file left out (`_origin` real, on the synthetic side)
    keys: tuple[int, ...] = ()  # real rows: each row's content key (check.reference.content_sql), for the holdout
    missing: tuple[str, ...] = ()  # real rows: fields the reference maps that the file lacks (the keys differ)
    # a completed dataset (its file has real rows): per categorical field, each value's rows over every row of the
    # file, real and synthetic (key(value) -> rows), for the comparison with the targets; empty otherwise
    whole: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    source: Source | None = None  # real rows: the file; its rows are a sample when source.rows > len(rows)

    @property
    def sampled(self) -> bool:
        return self.source is not None and self.source.rows > len(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list:
        return list(self.columns[name])


@dataclass(frozen=True)
class Split:
    """Which real rows are held out for testing (aligned with the real side's rows)."""

    held: tuple[bool, ...]
    share: float
    declared: bool  # the spec's own holdout; False: DEFAULT_HOLDOUT for the evaluation only


def _fields(spec: ir.Spec) -> list[str]:
    return [f.name for f in spec.fields]


def _side(path: str, names: list[str], records: Sequence[Mapping], numbers: Sequence[int], skipped: int = 0,
          keys: Sequence[int] = (), missing: Sequence[str] = (), whole: Mapping | None = None,
          source: Source | None = None) -> Side:
    cols = {n: tuple(r.get(n) for r in records) for n in names}
    _finite(path, cols, numbers)
    return Side(path, tuple(numbers), cols, skipped, tuple(keys), tuple(missing), whole or {}, source)


def _categorical(spec: ir.Spec, names: Sequence[str]) -> list[str]:
    return [f.name for f in spec.fields if f.name in names and (f.categorical or f.type.kind in ("enum", "bool"))]


def _whole(spec: ir.Spec, rows: Sequence[Mapping], names: Sequence[str]) -> dict[str, dict[str, int]]:
    """Side.whole of rows held in memory: {} unless some row is real (a completed dataset)."""
    if not any(r.get("_origin") == "real" for r in rows):
        return {}
    out: dict[str, dict[str, int]] = {}
    for n in _categorical(spec, names):
        counts = out.setdefault(n, {})
        for r in rows:
            if r.get(n) is not None:
                counts[key(r[n])] = counts.get(key(r[n]), 0) + 1
    return out


def _finite(path: str, cols: Mapping[str, tuple], numbers: Sequence[int]) -> None:
    """Every number of a side is finite: NaN or Infinity in a data file (JSON's `NaN`, CSV's `inf`) is refused
    here, where files are loaded, as `synthc validate` refuses it ("not a finite number"), instead of reaching
    the figures (and JSON that cannot hold them)."""
    for name, values in cols.items():
        for i, v in enumerate(values):
            if isinstance(v, float) and not math.isfinite(v):
                raise EvalError(f"{path}: row {numbers[i]}: `{name}` is {v!r}, not a finite number; every number of "
                                "an evaluated file must be finite (remove or fix the row)")


def synthetic_file(spec: ir.Spec, path: str | Path) -> Side:
    """The synthetic rows of a data file (raises EvalError when it cannot be read)."""
    from ..validate.load import TABLE, DataError, load_file

    try:
        loaded = load_file(spec, path)
    except DataError as e:
        raise EvalError(str(e)) from None
    try:
        names = [n for n in _fields(spec) if n in loaded.columns]
        select = ", ".join(['rowid + 1', *(_q(n) for n in names)])
        where = f" WHERE {_q('_origin')} IS DISTINCT FROM 'real'" if "_origin" in loaded.columns else ""
        got = loaded.con.execute(f"SELECT {select} FROM {_q(TABLE)}{where} ORDER BY rowid").fetchall()
        whole: dict[str, dict[str, int]] = {}
        if where and len(got) < loaded.rows:  # a completed dataset: every row's values, for the targets
            for n in _categorical(spec, names):
                counts = loaded.con.execute(f"SELECT {_q(n)}, count(*) FROM {_q(TABLE)} WHERE {_q(n)} IS NOT NULL "
                                            "GROUP BY ALL").fetchall()
                whole[n] = {key(v): c for v, c in counts}
    finally:
        loaded.con.close()
    records = [dict(zip(names, r[1:])) for r in got]
    return _side(str(path), names, records, [r[0] for r in got], loaded.rows - len(got), whole=whole)


def synthetic_rows(spec: ir.Spec, rows: Iterable[Mapping], path: str = "") -> Side:
    """The synthetic rows among rows held in memory (the build's)."""
    rows = list(rows)
    keep = [(n, r) for n, r in enumerate(rows, 1) if r.get("_origin") != "real"]
    names = [n for n in _fields(spec) if keep and n in keep[0][1]]
    return _side(path, names, [r for _, r in keep], [n for n, _ in keep], len(rows) - len(keep),
                 whole=_whole(spec, rows, names))


def reference_file(spec: ir.Spec, spec_path: str | Path) -> Path | None:
    """The spec's reference file on disk (relative to the spec, LANGUAGE.md "Reference data"), None without one."""
    if spec.reference is None:
        return None
    return (Path(spec_path).resolve().parent / spec.reference.path).resolve()


def real_file(spec: ir.Spec, path: str | Path) -> Side:
    """The real rows of a file, columns named as fields (raises EvalError when it cannot be read). A file of more
    than SAMPLE_ROWS rows is read in bounded memory (DuckDB spills past its limit) and only a sample of its rows
    comes into Python: the SAMPLE_ROWS rows with the lowest content key salted `sample` (docs/EVAL.md), so any order
    or copy of the file gives the same sample; the side's `source` names the file for what reads all of it."""
    from ..check.reference import TABLE, content_sql, load

    p = Path(path)
    fmt = _FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise EvalError(f"{path}: unknown format (use .jsonl, .csv or .parquet)")
    if not p.is_file():
        raise EvalError(f"{path}: no such file")
    con = duckdb.connect()
    try:
        total = load(con, p, fmt)
        have = [d[0] for d in con.execute(f"SELECT * FROM {TABLE} LIMIT 0").description]
        mapping = spec.reference.columns if spec.reference is not None else {}
        chosen = {}
        for n in _fields(spec):
            col = mapping.get(n)
            if col in have:
                chosen[n] = col
            elif n in have:
                chosen[n] = n
        keyed = list(mapping) if mapping else list(chosen)  # the fields whose values make a row's content key
        missing = [n for n in keyed if n not in chosen]
        values = [chosen[n] for n in keyed if n in chosen]
        content = content_sql(spec.dataset.seed, values)
        pick = "" if total <= SAMPLE_ROWS else (
            f" WHERE rowid IN (SELECT rowid FROM {TABLE} ORDER BY {content_sql(spec.dataset.seed, values, 'sample')}, "
            f"rowid LIMIT {SAMPLE_ROWS})")
        select = ", ".join(["rowid + 1", content, *(f"{_q(c)} AS {_q(n)}" for n, c in chosen.items())])
        got = con.execute(f"SELECT {select} FROM {TABLE}{pick} ORDER BY rowid").fetchall()
    except duckdb.Error as e:
        raise EvalError(f"{path}: cannot be read: {str(e).strip().splitlines()[0]}") from None
    finally:
        con.close()
    names = list(chosen)
    return _side(str(path), names, [dict(zip(names, r[2:])) for r in got], [r[0] for r in got],
                 keys=[r[1] for r in got], missing=missing, source=Source(str(p), fmt, dict(chosen), total))


def split(spec: ir.Spec, real: Side) -> Split:
    """The spec's holdout rule (LANGUAGE.md "Holdout": by each row's content key) on the real rows; 20% by the same
    rule when it declares none."""
    from ..check.reference import held_limit

    declared = spec.reference is not None and spec.reference.holdout > 0
    share = spec.reference.holdout if declared else DEFAULT_HOLDOUT
    limit = held_limit(share)
    return Split(tuple(k < limit for k in real.keys), share, declared)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def key(v) -> str:
    """A categorical value as both sides compare it (JSON's spelling of booleans)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def rounded(v) -> float:
    return round(float(v), 4)
