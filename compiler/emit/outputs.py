"""The dataset files: `<dataset>.jsonl` in canonical form, `.parquet` and `.csv` through DuckDB COPY."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import duckdb

from .. import atomic
from ..ir import Spec
from ..validate.load import load_file
from ..validate.sql import ident, sql_literal

ID = "_id"
ORIGIN = "_origin"  # complete mode only (emit.reference): `real` or `synthetic`


def canonical_line(row: Mapping) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def jsonl_bytes(rows: Iterable[Mapping]) -> bytes:
    """Rows as given (callers pass them in `_id` order), keys sorted, one per line, UTF-8."""
    return "".join(canonical_line(r) + "\n" for r in rows).encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a temp file beside `path`, fsync it, and rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_atomic(path, data)


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _select(spec: Spec, columns) -> str:
    """The dataset's columns as every copy holds them: `_id`, `_origin` (complete mode), the fields in order."""
    cols = [c for c in [ID, ORIGIN, *(f.name for f in spec.fields)] if c in columns]
    return f"SELECT {', '.join(ident(c) for c in cols)} FROM data" if cols else "SELECT * FROM data"


def read_arrow(spec: Spec, jsonl: Path):
    """The canonical JSONL as a pyarrow Table with the spec's column types, columns as in the copies."""
    con = duckdb.connect()
    try:
        loaded = load_file(spec, jsonl, con)
        # a cursor: the connection may still hold load_file's last result, which a relation may not interleave with
        return con.cursor().sql(_select(spec, loaded.columns)).to_arrow_table()
    finally:
        con.close()


def write_copies(spec: Spec, jsonl: Path, targets: Mapping[str, Path]) -> None:
    """`targets`: format (parquet | csv) -> path. The canonical JSONL is read back with the spec's column types
    (as `synthc validate` reads it) and copied out with `_id` first, then the fields in declaration order."""
    if not targets:
        return
    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")  # one writer thread: the same rows give the same bytes
        select = _select(spec, load_file(spec, jsonl, con).columns)
        for fmt, path in targets.items():
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            try:
                options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER true"
                con.execute(f"COPY ({select}) TO {sql_literal(tmp)} ({options})")
                _fsync(Path(tmp))
                os.chmod(tmp, atomic.file_mode())  # like every other output
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    finally:
        con.close()


class DatasetFile(Sequence):
    """The dataset's canonical JSONL, written as a stream of rows to a temp file beside its output (hashed as it
    is written) and renamed over the output by `install`. As a Sequence it reads the rows back from the file:
    len(), iteration (one row at a time) and a slice from the start, which is what the report page and the
    evaluation read, so no list of every row is held."""

    def __init__(self, target: Path, rows: Iterable[Mapping]):
        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=f".tmp{self.target.suffix}",
                                   dir=self.target.parent)
        self.path = Path(tmp)
        digest, n = hashlib.sha256(), 0
        try:
            os.fchmod(fd, atomic.file_mode())
            with os.fdopen(fd, "wb") as f:
                buf = []
                for row in rows:
                    buf.append(canonical_line(row) + "\n")
                    n += 1
                    if len(buf) == 1024:
                        _write(f, digest, buf)
                        buf = []
                _write(f, digest, buf)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            self.path.unlink(missing_ok=True)
            raise
        self.sha256, self.rows = digest.hexdigest(), n

    def __len__(self) -> int:
        return self.rows

    def __iter__(self) -> Iterator[dict]:
        with self.path.open("rb") as f:
            for line in f:
                yield json.loads(line)

    def __getitem__(self, at):
        if isinstance(at, slice) and at.start in (None, 0) and at.step in (None, 1):
            return list(itertools.islice(self, at.stop if at.stop is not None else self.rows))
        if isinstance(at, int) and 0 <= at < self.rows:
            return next(itertools.islice(self, at, None))
        raise IndexError(at)

    def install(self) -> Path:
        """Renames the temp file over the output (it was fsynced when written)."""
        os.replace(self.path, self.target)
        self.path = self.target
        return self.target

    def discard(self) -> None:
        if self.path != self.target:
            self.path.unlink(missing_ok=True)


def _write(f, digest, lines: list[str]) -> None:
    data = "".join(lines).encode("utf-8")
    digest.update(data)
    f.write(data)
