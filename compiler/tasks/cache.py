"""`synthc cache stats` and `synthc cache gc`: the answer caches and the locks that keep their entries alive.

A spec's cache is `$SYNTHC_CACHE`, else `.synthc/` beside the spec; a lock `X.sds.lock` belongs to the spec
`X.sds` beside it. gc keeps every answer some given lock lists and removes the rest, including the answers of
a build that never finished (no lock lists them yet).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..emit.lock import LockError, call_keys, read_lock
from ..run.cache import ENV_VAR, AnswerCache, cache_root
from ..run.rowstore import RowStore

_SKIP = {"node_modules", "__pycache__", "build", "dist"}


def _walk(root: Path):
    for here, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP)
        yield Path(here), dirs, files


def find_roots(cwd: Path) -> list[Path]:
    """`$SYNTHC_CACHE`, else every `.synthc/` folder under `cwd` (hidden folders and build outputs skipped)."""
    if os.environ.get(ENV_VAR):
        return [Path(os.environ[ENV_VAR])]
    out = []
    for here, _, _ in _walk(cwd):
        if (here / ".synthc").is_dir():
            out.append(here / ".synthc")
    return out


def find_locks(cwd: Path) -> list[Path]:
    """Every `*.sds.lock` under `cwd`."""
    return [here / f for here, _, files in _walk(cwd) for f in sorted(files) if f.endswith(".sds.lock")]


@dataclass
class GcResult:
    root: Path
    kept: int
    removed: int


def gc(locks: list[Path]) -> list[GcResult]:
    """Per cache root: keep the answers the locks that use it list; remove the others. Raises LockError for a
    lock that cannot be read (removing what it lists would lose paid work)."""
    keep: dict[Path, set[str]] = {}
    for lock in locks:
        data = read_lock(lock)
        if data is None:
            raise LockError(f"{lock}: no such lock file")
        keep.setdefault(cache_root(Path(lock).parent), set()).update(call_keys(data))
    out = []
    for root, keys in sorted(keep.items()):
        removed = AnswerCache(root).gc(keys)
        RowStore(root).gc(keys)  # a stored row answer lives as long as the answer it came from
        out.append(GcResult(root, AnswerCache(root).stats().entries, removed))
    return out
