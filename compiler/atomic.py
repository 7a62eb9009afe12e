"""Atomic file writes: a temp file beside the target, fsynced, then renamed over it, so a kill at any point
leaves either the old file or the new one, never half of one. Used by the answer cache and the outputs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, prefix: str | None = None) -> None:
    """Write `data` to `path` atomically (the folder must exist); a failed write leaves no temp file."""
    fd, tmp = tempfile.mkstemp(prefix=prefix or f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
