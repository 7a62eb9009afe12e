"""`synthc cache stats` and `synthc cache gc`: the answer caches and the locks that keep their entries alive.

A spec's cache is `$SYNTHC_CACHE`, else `.synthc/` beside the spec; a lock `X.sds.lock` belongs to the spec
`X.sds` beside it. gc keeps every answer some given lock lists (for any endpoint and model), those the ledger of an
unfinished build names, and those younger than an age limit; `--all` removes every answer no lock lists.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..emit.lock import LockError, call_keys, read_lock
from ..run.cache import ENV_VAR, AnswerCache, cache_root
from ..run.ledger import ledger_keys
from ..run.rowstore import RowStore
from ..quality.realindex import FOLDER as INDEX_DIR

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


def _indexes_gc(folder: Path, named: set, min_age: float) -> None:
    """Remove the indexes of real texts (quality.realindex, `realindex/SHA256-TAG/`) of reference files no lock
    names, older than `min_age` seconds: a later eval or build rebuilds one it needs."""
    if not folder.is_dir():
        return
    now = time.time()
    for d in sorted(folder.iterdir()):
        if d.is_dir() and d.name.split("-", 1)[0] not in named and now - d.stat().st_mtime >= min_age:
            shutil.rmtree(d, ignore_errors=True)


# An answer no lock names is kept this long by default: a build that stopped, or was built against another
# endpoint before locks kept every build, paid for it (docs/BUILD.md, "cache gc").
KEEP_DAYS = 14.0
DAY = 86400.0


@dataclass
class GcResult:
    root: Path
    kept: int
    removed: int
    young: int = 0  # unlisted answers kept because they are younger than the age limit
    paid: int = 0  # answers kept because the ledger of an unfinished build names them


def gc(locks: list[Path], older_than_days: float = KEEP_DAYS, everything: bool = False,
       dry_run: bool = False) -> list[GcResult]:
    """Per cache root: keep the answers any build in the locks that use it lists (every endpoint and model), those
    an unfinished build's ledger names and those younger than `older_than_days`; remove the others.
    `everything`: remove every answer no lock lists, whatever its age or ledger. `dry_run`: remove nothing, count
    what would go. Raises LockError for a lock that cannot be read (removing what it lists would lose paid work)."""
    keep: dict[Path, set[str]] = {}
    files: dict[Path, set[str]] = {}  # the reference files (sha256) the locks name, per cache root
    for lock in locks:
        data = read_lock(lock)
        if data is None:
            raise LockError(f"{lock}: no such lock file")
        keep.setdefault(cache_root(Path(lock).parent), set()).update(call_keys(data))
        files.setdefault(cache_root(Path(lock).parent), set()).add((data.get("reference") or {}).get("sha256"))
    out = []
    for root, listed in sorted(keep.items()):
        cache = AnswerCache(root)
        paid = set() if everything else ledger_keys(root) - listed
        min_age = 0.0 if everything else older_than_days * DAY
        removed = cache.sweep(listed | paid, min_age=min_age, dry_run=dry_run)
        unlisted = set(cache.keys()) - listed - paid
        young = len(unlisted) - len(removed) if dry_run else len(unlisted)
        if not dry_run:
            RowStore(root).gc(set(cache.keys()))  # a stored row answer lives as long as the answer it came from
            _indexes_gc(root / INDEX_DIR, files.get(root, set()), min_age)
        total = cache.stats().entries
        out.append(GcResult(root, total - len(removed) if dry_run else total, len(removed), young,
                            len(paid & set(cache.keys()))))
    return out
