"""A content-addressed, durable cache of answers, keyed by a hash of the canonical request.

One file per answer, `<root>/answers/ab/abcdef....json`, written atomically (temp file in the same folder,
fsync, rename, fsync of the folder) so that a build killed with `kill -9` leaves either the whole answer
or nothing. A file that does not parse or does not carry its own key counts as a miss.
The key and the stored request hold the endpoint's base URL and the request body, never an API key or headers.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Optional
from urllib.parse import urlsplit, urlunsplit

from .. import atomic

CACHE_VERSION = 1
ENV_VAR = "SYNTHC_CACHE"
# Body keys that could carry a credential: never part of a key or an entry, whatever a caller passes.
SECRET_KEYS = frozenset({"api_key", "authorization", "headers", "extra_headers", "extra_query", "extra_body"})
_TMP_PREFIX = ".tmp-"


def cache_root(spec_dir: Path) -> Path:
    """Where answers live: `$SYNTHC_CACHE` when set, else `.synthc/` beside the spec."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path(spec_dir) / ".synthc"


def endpoint_identity(base_url: str) -> str:
    """The endpoint as a non-secret string: the base URL without user:password, query or fragment."""
    parts = urlsplit(base_url.strip())
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme.lower(), host.lower(), parts.path.rstrip("/"), "", ""))


def canonical_request(endpoint: str, body: Mapping) -> dict:
    """What a key is a hash of: the endpoint's identity and the request body less any secret-bearing key."""
    clean = {k: v for k, v in body.items() if k.lower() not in SECRET_KEYS}
    return {"endpoint": endpoint_identity(endpoint), "body": clean}


def canonical_bytes(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def request_key(endpoint: str, body: Mapping) -> str:
    """sha256 (hex) of the canonical JSON of the request."""
    return hashlib.sha256(canonical_bytes(canonical_request(endpoint, body))).hexdigest()


@dataclass(frozen=True)
class CacheStats:
    entries: int
    bytes: int


class AnswerCache:
    """Answers on disk under `root/answers/`."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.dir = self.root / "answers"

    def path(self, key: str) -> Path:
        if len(key) < 3 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> Optional[dict]:
        """The stored answer, or None when absent, partial or corrupt."""
        try:
            entry = json.loads(self.path(key).read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("answer"), dict):
            return None
        return entry["answer"]

    def put(self, key: str, request: Mapping, answer: Mapping) -> None:
        """Store `answer` durably; `request` is kept beside it for inspection (secret-bearing keys dropped)."""
        req = dict(request)
        if "body" in req and isinstance(req["body"], Mapping):
            req["body"] = {k: v for k, v in req["body"].items() if k.lower() not in SECRET_KEYS}
        req = {k: v for k, v in req.items() if k.lower() not in SECRET_KEYS}
        entry = {"version": CACHE_VERSION, "key": key, "request": req, "answer": dict(answer)}
        _write_atomic(self.path(key), canonical_bytes(entry) + b"\n")

    def keys(self) -> Iterator[str]:
        for path in self._entry_files():
            yield path.stem

    def stats(self) -> CacheStats:
        n = size = 0
        for path in self._entry_files():
            try:
                size += path.stat().st_size
            except OSError:
                continue
            n += 1
        return CacheStats(entries=n, bytes=size)

    def gc(self, keep: set[str]) -> int:
        """Remove every entry whose key is not in `keep` (and leftover temp files); the number of entries removed."""
        return len(self.sweep(keep))

    def sweep(self, keep: set[str], min_age: float = 0.0, dry_run: bool = False, now: Optional[float] = None
              ) -> list[str]:
        """Remove every entry whose key is not in `keep` and that was written at least `min_age` seconds ago (and
        leftover temp files); the keys removed (with `dry_run`, those it would remove, and nothing is touched)."""
        removed: list[str] = []
        if not self.dir.is_dir():
            return removed
        now = time.time() if now is None else now
        for sub in sorted(self.dir.iterdir()):
            if not sub.is_dir():
                continue
            for path in sorted(sub.iterdir()):
                if path.name.startswith(_TMP_PREFIX):
                    if not dry_run:
                        path.unlink(missing_ok=True)
                elif path.suffix == ".json" and path.stem not in keep and _age(path, now) >= min_age:
                    if not dry_run:
                        path.unlink(missing_ok=True)
                    removed.append(path.stem)
            if not dry_run:
                try:
                    sub.rmdir()  # only succeeds when empty
                except OSError:
                    pass
        return removed

    def _entry_files(self) -> Iterator[Path]:
        if not self.dir.is_dir():
            return
        for sub in sorted(self.dir.iterdir()):
            if sub.is_dir():
                for path in sorted(sub.iterdir()):
                    if path.suffix == ".json" and not path.name.startswith(_TMP_PREFIX):
                        yield path


def _age(path: Path, now: float) -> float:
    try:
        return now - path.stat().st_mtime
    except OSError:
        return 0.0


def _write_atomic(path: Path, data: bytes) -> None:
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        _fsync_dir(path.parent.parent)  # the new shard folder's own entry must survive a crash too
    atomic.write_atomic(path, data, prefix=_TMP_PREFIX)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
