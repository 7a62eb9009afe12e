"""The check store: a finished build's checks and content figures, kept under a key that proves them current,
so a rebuild whose rows, spec and real data are unchanged reads them instead of measuring them again.

The key is the sha256 of: the dataset's canonical bytes (the JSONL the build writes), the spec's IR digest, the
reference file's sha256 (or nothing), the synthc version and STORE_VERSION. Every figure of a ValidationReport
is a function of exactly these (the content figures' samples are seeded by the spec's seed, which the IR holds),
so a hit gives the very report a measurement would. One file per key, `<root>/checks/<key>.json`, written
atomically; a missing or unreadable file is a miss. Nothing here holds a time, a path or a secret.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional

from .. import atomic
from ..version import __version__

STORE_VERSION = 1


def checks_key(dataset_sha256: str, ir_sha256: str, reference_sha256: Optional[str]) -> str:
    parts = ["synthc-checks", str(STORE_VERSION), __version__, dataset_sha256, ir_sha256, reference_sha256 or ""]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class CheckStore:
    """Stored ValidationReports (as their JSON dumps) under `root/checks/` (root: the answer cache's root)."""

    def __init__(self, root: Path):
        self.dir = Path(root) / "checks"

    def get(self, key: str) -> Optional[dict]:
        try:
            return json.loads((self.dir / f"{key}.json").read_bytes())
        except (OSError, ValueError):
            return None

    def put(self, key: str, dumped: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        data = json.dumps(dumped, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        atomic.write_atomic(self.dir / f"{key}.json", data)
