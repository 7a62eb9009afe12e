"""What each emitted batch asked: `<cache root>/batches/<sha256>.json` per batch file written by `plan --emit-batch`
or by a build that met calls a batch did not answer (docs/BUILD.md, "ingest"). A manifest maps each `custom_id`
to the request key and body it stands for at one endpoint and model, so `ingest` stores a top-up batch's
answers under the keys the build looks up, and says which endpoint and model a batch was emitted for when
`ingest` is given others. Holds request bodies as the cache does (never a key or a header).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from .. import atomic
from .cache import canonical_bytes, endpoint_identity, request_key

BATCH_VERSION = 1
FOLDER = "batches"


@dataclass(frozen=True)
class Emitted:
    """One call of an emitted batch."""

    endpoint: str
    model: str
    key: str
    body: dict


def write_manifest(root: Path, endpoint: str, model: str, lines: list[Mapping]) -> Optional[Path]:
    """Record the batch lines (`{"custom_id", "body", ...}`) emitted for this endpoint and model."""
    if not lines:
        return None
    ident = endpoint_identity(endpoint)
    calls = {str(line["custom_id"]): {"key": request_key(ident, line["body"]), "body": line["body"]} for line in lines}
    data = canonical_bytes({"batch_version": BATCH_VERSION, "endpoint": ident, "model": model, "calls": calls}) + b"\n"
    folder = Path(root) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(data).hexdigest()}.json"
    atomic.write_atomic(path, data, prefix=".tmp-")
    return path


def emitted(root: Path) -> dict[str, list[Emitted]]:
    """custom_id -> the calls emitted under it, newest manifest first."""
    folder = Path(root) / FOLDER
    if not folder.is_dir():
        return {}
    files = []
    for p in folder.glob("*.json"):
        try:
            files.append((p.stat().st_mtime, p.name, p))
        except OSError:
            continue
    out: dict[str, list[Emitted]] = {}
    for _, _, p in sorted(files, reverse=True):
        try:
            data = json.loads(p.read_bytes())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("batch_version") != BATCH_VERSION:
            continue
        for cid, call in (data.get("calls") or {}).items():
            if isinstance(call, dict) and isinstance(call.get("body"), dict):
                out.setdefault(cid, []).append(Emitted(str(data.get("endpoint")), str(data.get("model")),
                                                       str(call.get("key")), call["body"]))
    return out
