"""Atomic file writes: a temp file beside the target, fsynced, then renamed over it, so a kill at any point
leaves either the old file or the new one, never half of one. Used by the answer cache and the outputs.

Every file gets the mode a plain `open(path, "w")` would give it (0666 less the umask, so 0644 usually):
mkstemp's 0600 would make the lock, the reports and the JSONL private while DuckDB's Parquet is not."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path


@functools.cache
def file_mode() -> int:
    """0666 less the process umask (read once: os.umask can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, data: bytes, prefix: str | None = None) -> None:
    """Write `data` to `path` atomically (the folder must exist); a failed write leaves no temp file."""
    fd, tmp = tempfile.mkstemp(prefix=prefix or f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
