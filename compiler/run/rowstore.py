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
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from .. import atomic
from .cache import canonical_bytes

STORE_VERSION = 1
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

    def __len__(self) -> int:
        return len(self._load())

    def get(self, row_id: str, digest: str) -> Optional[dict]:
        return self._load().get(entry_key(row_id, digest))

    def add(self, entries: Mapping[str, dict]) -> Optional[Path]:
        """Write the entries the store does not hold yet (keyed by `entry_key`) as one file; its path, or None."""
        return self.add_stream((k, canonical_bytes(v).decode("utf-8")) for k, v in sorted(entries.items()))

    def add_stream(self, entries: Iterable[tuple[str, str]]) -> Optional[Path]:
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
            if not n:
                Path(tmp).unlink()
                return None
            path = self.dir / f"{digest.hexdigest()}.json"
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._entries = None  # read again, with the new file, if asked
        return path

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
        return removed


def _read(path: Path) -> dict[str, dict]:
    """A file's entries; nothing from a file that is unreadable or of another version (a miss, not an error)."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != STORE_VERSION or not isinstance(data.get("rows"), dict):
        return {}
    return {k: e for k, e in data["rows"].items() if isinstance(e, dict) and "values" in e}
