"""The paid-call ledger: every call a build paid for, across runs that stopped, were killed or were interrupted,
so that the build's ceiling, `--max-calls` and `--max-cost` count them (docs/BUILD.md, "What a build may spend").

One file per spec, endpoint and model: `<cache root>/ledger/<sha256 of (spec file name, dataset, endpoint, model)>.jsonl`,
one JSON line per paid call, appended (and flushed to disk) the moment its answer is stored in the cache:
`{"ledger_version", "ir_sha256", "key", "prompt_tokens", "completion_tokens"}` (and `"batch": true` for an answer
`ingest` stored from a Batch API output). It holds request keys and
token counts, never a request, a key or a header. Lines of another `ir_sha256` (the spec changed since: a new
build) are not counted; a half-written last line (a kill) is skipped. A build that finishes removes its file;
`cache gc` keeps the answers a ledger names (they were paid for).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

LEDGER_VERSION = 1
FOLDER = "ledger"


@dataclass(frozen=True)
class Paid:
    """What the earlier runs of a build paid: calls (distinct request keys) and their tokens per key."""

    tokens: dict[str, tuple[int, int]]
    batch: frozenset[str] = frozenset()  # of those, answers a batch gave (`ingest`), not a live call

    @property
    def calls(self) -> int:
        return len(self.tokens)

    @property
    def prompt_tokens(self) -> int:
        return sum(p for p, _ in self.tokens.values())

    @property
    def completion_tokens(self) -> int:
        return sum(c for _, c in self.tokens.values())


class Ledger:
    """The ledger of one build: spec file name and dataset, endpoint identity and model, at one IR."""

    def __init__(self, root: Path, spec_name: str, dataset: str, identity: str, model: str, ir_sha256: str):
        name = hashlib.sha256("\x1f".join((spec_name, dataset, identity, model)).encode()).hexdigest()[:32]
        self.path = Path(root) / FOLDER / f"{name}.jsonl"
        self.ir_sha256 = ir_sha256

    def paid(self) -> Paid:
        """The calls earlier runs of this build (same IR) paid for."""
        out: dict[str, tuple[int, int]] = {}
        batch = set()
        for line in _lines(self.path):
            if line.get("ir_sha256") == self.ir_sha256:
                out.setdefault(line["key"], (int(line.get("prompt_tokens") or 0),
                                             int(line.get("completion_tokens") or 0)))
                if line.get("batch"):
                    batch.add(line["key"])
        return Paid(out, frozenset(batch))

    def record(self, key: str, prompt_tokens: int, completion_tokens: int, batch: bool = False) -> None:
        """Append one paid call, durably (a kill after this line loses nothing the ceiling counts); `batch`:
        an answer `ingest` stored from a Batch API output."""
        line = json.dumps({"ledger_version": LEDGER_VERSION, "ir_sha256": self.ir_sha256, "key": key,
                           "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                           **({"batch": True} if batch else {})}, sort_keys=True, separators=(",", ":"))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def clear(self) -> None:
        """The build finished: its next run is a new build."""
        self.path.unlink(missing_ok=True)


def ledger_keys(root: Path) -> set[str]:
    """Every request key any ledger under `root` names (answers paid for by builds that have not finished)."""
    folder = Path(root) / FOLDER
    if not folder.is_dir():
        return set()
    return {line["key"] for p in sorted(folder.glob("*.jsonl")) for line in _lines(p)}


def _lines(path: Path) -> Iterator[dict]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue  # a line half-written when a run was killed
        if isinstance(line, dict) and line.get("ledger_version") == LEDGER_VERSION and isinstance(line.get("key"), str):
            yield line
