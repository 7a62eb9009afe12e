"""The row store: what each row's answer was, per prompt, so a later build can carry the row over without a call.

An entry is keyed by the row's id and its *row digest* (`plan.requests.RowDigest`: what asking for that row
alone would send, so the prompt's text, its schema, the row's input values, the model, the endpoint and the
seed) and holds the row's generated values (None: the answer lacked the row or got it wrong, and why), the request that
answered it and that answer's sha256 (so the lock can list it and `cache gc` can keep it).

Entries are written by a build that finished (exit 0 or 1), one file per build holding only the entries that
build's calls produced: `<root>/rows/<sha256 of the file>.json`, written atomically. A build that is killed
or stopped writes none, so a resumed build sees exactly the store the uninterrupted build would have seen and
asks the same requests. When two files hold the same key (two builds raced), the file whose name sorts first
wins, so every reader agrees.

Beside the entries, `<root>/rows/index/` holds the **index** (docs/BUILD.md, "Pricing round 1 from the row store's
index"): what a finished build's round engine decided per stage context (plan.carry) and stratum, as runs of row
indices, so a prediction can price round 1 without reading the entries. `IndexRecorder` collects it during the
build; `add` writes it with the entries; `index` reads back every index whose entries files are all still there.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

from .. import atomic
from ..plan.carry import RunBuilder, Runs, stratum_digest, union
from ..plan.model import Stratum
from .cache import canonical_bytes

STORE_VERSION = 1
INDEX_VERSION = 1
_TMP_PREFIX = ".tmp-"


def entry(values: Optional[Mapping[str, Any]], call: str, answer: str, reason: str = "", kind: str = "") -> dict:
    """values None: the answer lacked the row or got it wrong, for `reason` (of `kind`: run.salvage)."""
    e = {"values": dict(values) if values is not None else None, "call": call, "answer": answer}
    if values is None:
        e["reason"] = reason
        if kind:
            e["kind"] = kind
    return e


def entry_key(row_id: str, digest: str) -> str:
    return hashlib.sha256(f"{row_id}\x1f{digest}".encode()).hexdigest()


class RowStore:
    """Row entries under `root/rows/` (root: the answer cache's root). Read once, lazily."""

    def __init__(self, root: Path):
        self.dir = Path(root) / "rows"
        self._entries: Optional[dict[str, dict]] = None

    def _files(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(p for p in self.dir.iterdir() if p.suffix == ".json" and not p.name.startswith(_TMP_PREFIX))

    def _load(self) -> dict[str, dict]:
        if self._entries is None:
            self._entries = {}
            for path in self._files():
                for key, e in _read(path).items():
                    self._entries.setdefault(key, e)
        return self._entries

    def has_files(self) -> bool:
        return bool(self._files())

    def __len__(self) -> int:
        return len(self._load())

    def get(self, row_id: str, digest: str) -> Optional[dict]:
        return self._load().get(entry_key(row_id, digest))

    def add(self, entries: Mapping[str, dict], index: Optional[dict] = None) -> Optional[Path]:
        """Write the entries the store does not hold yet (keyed by `entry_key`) as one file; its path, or None.
        index: what the build decided (IndexRecorder.to_json), written after the entries it rests on."""
        return self.add_stream(((k, canonical_bytes(v).decode("utf-8")) for k, v in sorted(entries.items())), index)

    def add_stream(self, entries: Iterable[tuple[str, str]], index: Optional[dict] = None) -> Optional[Path]:
        """`add` for entries given as (key, the entry's canonical JSON) sorted by key, as a build's spool gives
        them (generate.spool): the file is written as they come, its bytes and name those `add` gives the same
        entries, so nothing holds them all. The store read so far is not updated (it is read again if asked)."""
        have = self._load()
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=".tmp", dir=self.dir)
        digest, n = hashlib.sha256(), 0
        try:
            os.fchmod(fd, atomic.file_mode())
            with os.fdopen(fd, "wb") as f:
                def put(text: str) -> None:
                    data = text.encode("utf-8")
                    digest.update(data)
                    f.write(data)

                put('{"rows":{')
                for key, e in entries:
                    if key in have:
                        continue
                    put(("," if n else "") + json.dumps(key) + ":" + e)
                    n += 1
                put('},"version":%d}\n' % STORE_VERSION)
                f.flush()
                os.fsync(f.fileno())
            path = None
            if n:
                path = self.dir / f"{digest.hexdigest()}.json"
                os.replace(tmp, path)
            else:
                Path(tmp).unlink()
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._entries = None  # read again, with the new file, if asked
        if index and (index.get("stages") or index.get("dead")):
            self._write_index(index)
        return path

    def _write_index(self, index: dict) -> Path:
        files = {p.name: p.stat().st_size for p in self._files()}
        data = canonical_bytes({"index_version": INDEX_VERSION, "files": files, **index}) + b"\n"
        folder = self.dir / "index"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{hashlib.sha256(data).hexdigest()}.json"
        atomic.write_atomic(path, data, prefix=_TMP_PREFIX)
        return path

    def index(self) -> "StoreIndex":
        """Every index whose entries files are all present with their sizes, merged (stale ones are left out)."""
        out = StoreIndex()
        folder = self.dir / "index"
        if not folder.is_dir():
            return out
        sizes = {p.name: p.stat().st_size for p in self._files()}
        for path in sorted(folder.iterdir()):
            if path.suffix != ".json" or path.name.startswith(_TMP_PREFIX):
                continue
            try:
                data = json.loads(path.read_bytes())
            except (OSError, ValueError):
                continue
            if not isinstance(data, dict) or data.get("index_version") != INDEX_VERSION:
                continue
            if not _rests_on(data.get("files"), sizes):
                continue
            out.merge(data)
        return out

    def _write(self, entries: Mapping[str, dict]) -> Path:
        data = canonical_bytes({"version": STORE_VERSION, "rows": dict(entries)}) + b"\n"
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{hashlib.sha256(data).hexdigest()}.json"
        atomic.write_atomic(path, data, prefix=_TMP_PREFIX)
        return path

    def gc(self, keep_calls: set[str]) -> int:
        """Drop the entries whose answering request is not in `keep_calls`; the number of entries removed."""
        removed = 0
        for path in self._files():
            rows = _read(path)
            kept = {k: e for k, e in rows.items() if e.get("call") in keep_calls}
            if len(kept) == len(rows) and rows:
                continue
            removed += len(rows) - len(kept)
            if kept:
                self._write(kept)
            path.unlink(missing_ok=True)
        self._entries = None
        self._drop_stale_indexes()
        return removed

    def _drop_stale_indexes(self) -> None:
        """Indexes resting on an entries file gc rewrote or removed no longer hold: deleted."""
        folder = self.dir / "index"
        if not folder.is_dir():
            return
        sizes = {p.name: p.stat().st_size for p in self._files()}
        for path in folder.iterdir():
            try:
                files = json.loads(path.read_bytes()).get("files")
            except (OSError, ValueError, AttributeError):
                files = None
            if not _rests_on(files, sizes):
                path.unlink(missing_ok=True)


def _rests_on(files, sizes: Mapping[str, int]) -> bool:
    """Whether an index's entries files (name -> size) are all in the store as they were when it was written."""
    return isinstance(files, dict) and all(sizes.get(name) == size for name, size in files.items())


def _read(path: Path) -> dict[str, dict]:
    """A file's entries; nothing from a file that is unreadable or of another version (a miss, not an error)."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != STORE_VERSION or not isinstance(data.get("rows"), dict):
        return {}
    return {k: e for k, e in data["rows"].items() if isinstance(e, dict) and "values" in e}


@dataclass
class StoreIndex:
    """The merged indexes: stages[context][stratum key] = (values digest, held runs, ok runs);
    dead[context][stratum key] = (values digest, dead runs). Runs of one key and digest are united."""

    stages: dict[str, dict[str, tuple[str, Runs, Runs]]] = field(default_factory=dict)
    dead: dict[str, dict[str, tuple[str, Runs]]] = field(default_factory=dict)

    def merge(self, data: dict) -> None:
        for ctx, strata in (data.get("stages") or {}).items():
            mine = self.stages.setdefault(ctx, {})
            for key, rec in strata.items():
                old = mine.get(key)
                if old is None or old[0] != rec["v"]:
                    mine[key] = (rec["v"], rec["held"], rec["ok"])
                else:
                    mine[key] = (rec["v"], union(old[1], rec["held"]), union(old[2], rec["ok"]))
        for ctx, strata in (data.get("dead") or {}).items():
            mine = self.dead.setdefault(ctx, {})
            for key, rec in strata.items():
                old = mine.get(key)
                runs = rec["dead"] if old is None or old[0] != rec["v"] else union(old[1], rec["dead"])
                mine[key] = (rec["v"], runs)


class IndexRecorder:
    """What a round engine decided, row by row, collected for the index: per stage context, the rows whose answer
    it took (a call's or the store's) and those that passed the stage; per ready context, the rows stage 0 rejected.
    Rows are (stratum number, row index)."""

    def __init__(self):
        self.held: dict[str, dict[int, RunBuilder]] = {}
        self.ok: dict[str, dict[int, RunBuilder]] = {}
        self.dead: dict[str, dict[int, RunBuilder]] = {}

    @staticmethod
    def _add(into: dict, ctx: Optional[str], rows: Sequence[tuple[int, int]]) -> None:
        if ctx is None:
            return
        by = into.setdefault(ctx, {})
        for si, i in rows:
            runs = by.get(si)
            if runs is None:
                runs = by[si] = RunBuilder()
            runs.add(i)

    def took(self, ctx: Optional[str], rows: Sequence[tuple[int, int]]) -> None:
        self._add(self.held, ctx, rows)

    def passed(self, ctx: Optional[str], rows: Sequence[tuple[int, int]]) -> None:
        self._add(self.ok, ctx, rows)

    def rejected(self, ctx: Optional[str], rows: Sequence[tuple[int, int]]) -> None:
        self._add(self.dead, ctx, rows)

    def to_json(self, strata: Sequence[Stratum]) -> dict:
        digests: dict[int, str] = {}

        def v(si: int) -> str:
            if si not in digests:
                digests[si] = stratum_digest(strata[si])
            return digests[si]

        def ok(ctx: str, si: int) -> Runs:
            runs = self.ok.get(ctx, {}).get(si)
            return runs.runs() if runs is not None else []

        stages = {ctx: {strata[si].key: {"v": v(si), "held": runs.runs(), "ok": ok(ctx, si)}
                        for si, runs in sorted(by.items())} for ctx, by in sorted(self.held.items())}
        dead = {ctx: {strata[si].key: {"v": v(si), "dead": runs.runs()} for si, runs in sorted(by.items())}
                for ctx, by in sorted(self.dead.items())}
        return {"stages": stages, "dead": dead}
