"""The spool: a build's accepted rows, and the row store entries its calls produced, on disk in DuckDB as they are
judged, so a build holds O(strata) counters in Python and not O(rows) rows (docs/BUILD.md, "The spool").

    spool = Spool.create(work_dir, strata keys)      # <cache>/work/spool-<pid>.duckdb; stale spools removed
    spool.accept(si, i, values)                      # a row accepted (its generated values)
    spool.remove([(si, i), ...])                     # rows a repair rejected
    spool.scan()                                     # (si, i, values) in (stratum key, index) order
    spool.entry(key, e) / spool.entries()            # row store entries, read back sorted by key
    spool.close()                                    # the file deleted

Writes are buffered (FLUSH rows) and go in as one Arrow batch; every read flushes first. Values are stored as
JSON in their own key order and read back equal (json round-trips str, int, float, bool, None, lists, dicts),
so a build reading its rows from the spool writes the bytes an in-memory build writes. Without a folder the
spool is an in-memory DuckDB database (predictions, tests).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

import duckdb
import pyarrow as pa

from ..validate.sql import sql_literal

WORK = "work"  # the cache folder's directory for a build's scratch files
PREFIX = "spool-"
FLUSH = 4096  # rows buffered before one INSERT
FETCH = 4096  # rows per fetch when reading back
MEMORY = "256MB"  # DuckDB's own memory for the spool: beyond it, it spills to the work folder

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=True).encode


def remove_stale(work: Path) -> list[Path]:
    """Spools of builds that are no longer running (killed: a finished build deletes its own); the paths removed."""
    gone = []
    if not work.is_dir():
        return gone
    for p in sorted(work.glob(f"{PREFIX}*")):
        pid = p.name[len(PREFIX):].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        try:
            if p.is_dir():
                for q in p.iterdir():
                    q.unlink(missing_ok=True)
                p.rmdir()
            else:
                p.unlink(missing_ok=True)
            gone.append(p)
        except OSError:
            pass
    return gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Spool:
    """Accepted rows keyed by (stratum number, row index), with per-stratum counts kept in Python."""

    def __init__(self, keys: Sequence[str], path: Optional[Path] = None, temp: Optional[Path] = None):
        self.path = path
        self.con = duckdb.connect(str(path) if path else ":memory:")
        self.con.execute(f"SET memory_limit = {sql_literal(MEMORY)}")
        self.con.execute("SET preserve_insertion_order = false")
        # where DuckDB spills: beside the file, or (in memory) a temp folder removed with the spool, never the
        # working directory's `.tmp` that an in-memory database would use by default
        self._spill = tempfile.TemporaryDirectory(prefix="synthc-spool-") if temp is None else None
        spill = temp if temp is not None else self._spill.name
        self.con.execute(f"SET temp_directory = {sql_literal(str(spill))}")
        self.con.execute("CREATE TABLE accepted (rank INTEGER, stratum INTEGER, idx BIGINT, row VARCHAR)")
        self.con.execute("CREATE TABLE entries (seq BIGINT, key VARCHAR, entry VARCHAR)")
        order = sorted(range(len(keys)), key=lambda si: keys[si])
        self._rank = [0] * len(keys)
        for r, si in enumerate(order):
            self._rank[si] = r
        self.counts = [0] * len(keys)  # accepted rows per stratum
        self._rows: list[tuple[int, int, str]] = []
        self._entries: list[tuple[str, str]] = []
        self._seq = 0

    @classmethod
    def create(cls, work: Path, keys: Sequence[str]) -> "Spool":
        """A spool file in `work` for this process, after removing the spools of builds that were killed."""
        work.mkdir(parents=True, exist_ok=True)
        remove_stale(work)
        path = work / f"{PREFIX}{os.getpid()}.duckdb"
        temp = work / f"{PREFIX}{os.getpid()}.tmp"
        for p in (path, Path(f"{path}.wal")):
            p.unlink(missing_ok=True)
        return cls(keys, path, temp)

    # ---- accepted rows -------------------------------------------------------------------------------

    def accept(self, si: int, i: int, values: dict) -> None:
        self.counts[si] += 1
        self._rows.append((si, i, _encode(values)))
        if len(self._rows) >= FLUSH:
            self._flush_rows()

    def count(self, si: int) -> int:
        return self.counts[si]

    def __len__(self) -> int:
        return sum(self.counts)

    def remove(self, rows: Iterable[tuple[int, int]]) -> None:
        rows = list(rows)
        if not rows:
            return
        self._flush_rows()
        gone = pa.table({"stratum": pa.array([si for si, _ in rows], pa.int32()),
                         "idx": pa.array([i for _, i in rows], pa.int64())})
        self.con.register("gone", gone)
        try:
            self.con.execute("DELETE FROM accepted USING gone WHERE accepted.stratum = gone.stratum "
                             "AND accepted.idx = gone.idx")
        finally:
            self.con.unregister("gone")
        for si, _ in rows:
            self.counts[si] -= 1

    def scan(self, fields: Optional[str] = None) -> Iterator[tuple[int, int, dict]]:
        """Every accepted row as (stratum number, index, generated values), strata in key order, rows by index.
        `fields`: only that field's value is parsed (values = {field: value})."""
        self._flush_rows()
        cur = self.con.cursor()
        try:
            col = "row" if fields is None else "json_extract(row, ?)::VARCHAR"
            cur.execute(f"SELECT stratum, idx, {col} FROM accepted ORDER BY rank, idx",
                        [] if fields is None else [f"$.{json.dumps(fields)}"])
            while True:
                batch = cur.fetchmany(FETCH)
                if not batch:
                    return
                for si, i, row in batch:
                    if fields is None:
                        yield si, i, json.loads(row)
                    else:
                        yield si, i, {fields: None if row is None else json.loads(row)}
        finally:
            cur.close()

    def order(self):
        """(stratum numbers, indices) of every accepted row in scan order, as two numpy arrays."""
        self._flush_rows()
        found = self.con.execute("SELECT stratum, idx FROM accepted ORDER BY rank, idx").fetchnumpy()
        return found["stratum"], found["idx"]

    def values(self, rows: Sequence[tuple[int, int]]) -> dict[tuple[int, int], dict]:
        """The generated values of the given accepted rows."""
        if not rows:
            return {}
        self._flush_rows()
        want = pa.table({"stratum": pa.array([si for si, _ in rows], pa.int32()),
                         "idx": pa.array([i for _, i in rows], pa.int64())})
        self.con.register("want", want)
        try:
            found = self.con.execute("SELECT a.stratum, a.idx, a.row FROM accepted a JOIN want w "
                                     "ON a.stratum = w.stratum AND a.idx = w.idx").fetchall()
        finally:
            self.con.unregister("want")
        return {(si, i): json.loads(row) for si, i, row in found}

    def _flush_rows(self) -> None:
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        batch = pa.table({"rank": pa.array([self._rank[si] for si, _, _ in rows], pa.int32()),
                          "stratum": pa.array([si for si, _, _ in rows], pa.int32()),
                          "idx": pa.array([i for _, i, _ in rows], pa.int64()),
                          "row": pa.array([r for _, _, r in rows], pa.string())})
        self._insert("accepted", batch)

    # ---- row store entries ---------------------------------------------------------------------------

    def entry(self, key: str, e: dict) -> None:
        """A row store entry a call produced (run.rowstore); a later one under the same key replaces it."""
        self._entries.append((key, json.dumps(e, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                                              allow_nan=False)))
        if len(self._entries) >= FLUSH:
            self._flush_entries()

    def entries(self) -> Iterator[tuple[str, str]]:
        """(key, the entry's canonical JSON), sorted by key, the last one written under each key."""
        self._flush_entries()
        cur = self.con.cursor()
        try:
            cur.execute("SELECT key, arg_max(entry, seq) FROM entries GROUP BY key ORDER BY key")
            while True:
                batch = cur.fetchmany(FETCH)
                if not batch:
                    return
                yield from batch
        finally:
            cur.close()

    def entry_count(self) -> int:
        self._flush_entries()
        return self.con.execute("SELECT count(DISTINCT key) FROM entries").fetchone()[0]

    def _flush_entries(self) -> None:
        if not self._entries:
            return
        entries, self._entries = self._entries, []
        seq = range(self._seq, self._seq + len(entries))
        self._seq += len(entries)
        batch = pa.table({"seq": pa.array(seq, pa.int64()), "key": pa.array([k for k, _ in entries], pa.string()),
                          "entry": pa.array([e for _, e in entries], pa.string())})
        self._insert("entries", batch)

    def _insert(self, table: str, batch: pa.Table) -> None:
        self.con.register("batch", batch)
        try:
            self.con.execute(f"INSERT INTO {table} SELECT * FROM batch")
        finally:
            self.con.unregister("batch")

    # ---- end -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the database and deletes its file (nothing in it is needed once the outputs are written: a
        rerun reads the cache)."""
        try:
            self.con.close()
        except duckdb.Error:
            pass
        if self._spill is not None:
            self._spill.cleanup()
        if self.path is not None:
            for p in (self.path, Path(f"{self.path}.wal")):
                p.unlink(missing_ok=True)
            temp = self.path.with_suffix(".tmp")
            if temp.is_dir():
                for q in temp.iterdir():
                    q.unlink(missing_ok=True)
                temp.rmdir()

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
