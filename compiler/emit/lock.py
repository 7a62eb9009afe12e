"""SPEC.lock (`<spec file>.lock`, beside the spec, for git): what a build was made from and what it made.

`calls` maps every request the dataset needed to the sha256 of its answer, so `cache gc` knows what to keep.
`builds` keeps those facts per model and endpoint (a spec built against two endpoints keeps both).
`acceptance` is what the build measured; the next plan of a changed spec sizes its spares from it. An
unchanged spec is planned again with `planned_with` (the stats its last plan used), so its rebuild asks the
very same requests and makes no call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Optional

from ..plan import AcceptanceStats
from .outputs import write_atomic

LOCK_VERSION = 1


class LockError(Exception):
    """The lock file exists but cannot be used (not JSON, or another lock_version)."""


def lock_path(spec_path: str | Path) -> Path:
    p = Path(spec_path)
    return p.with_name(p.name + ".lock")


def read_lock(path: str | Path) -> Optional[dict]:
    """The lock, None when there is none; raises LockError when it is unreadable."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a device or a pipe could stream without end
        raise LockError(f"{path}: not a regular file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise LockError(f"{path}: {e.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise LockError(f"{path}: not JSON ({e})") from None
    if not isinstance(data, dict) or data.get("lock_version") != LOCK_VERSION:
        raise LockError(f"{path}: lock_version {data.get('lock_version') if isinstance(data, dict) else None!r} "
                        f"is not {LOCK_VERSION}")
    return data


def _stats_json(s: AcceptanceStats) -> dict:
    return {"rate": s.rate, "by_stratum": dict(sorted(s.by_stratum.items()))}


def build_name(endpoint: str, model: str) -> str:
    """The key of a build in the lock's `builds`: the model at the endpoint identity (never a credential)."""
    return f"{model} @ {endpoint}"


_PER_BUILD = ("ir_sha256", "model", "endpoint", "calls", "dataset_sha256", "acceptance", "planned_with", "profile")


def _builds(previous: Optional[Mapping]) -> dict:
    """The `builds` of an earlier lock; a lock written before `builds` existed counts as its one build."""
    if not previous:
        return {}
    builds = previous.get("builds")
    if isinstance(builds, dict):
        return {k: v for k, v in builds.items() if isinstance(v, dict)}
    if isinstance(previous.get("model"), str) and isinstance(previous.get("endpoint"), str):
        return {build_name(previous["endpoint"], previous["model"]): {k: previous[k] for k in _PER_BUILD
                                                                        if k in previous}}
    return {}


def make_lock(*, spec_sha256: str, ir_sha256: str, model: str, endpoint: str, seed: int, calls: Mapping[str, str],
              dataset_sha256: str, acceptance: AcceptanceStats, planned_with: AcceptanceStats,
              profile: str | None = None, reference: Mapping | None = None,
              previous: Optional[Mapping] = None) -> dict:
    """The lock of the build that just finished. Its top-level keys describe that build (as always); `builds`
    keeps the facts of every endpoint and model this spec was built against (`previous`: the lock it replaces)."""
    top = {
        "ir_sha256": ir_sha256,
        "model": model,
        "endpoint": endpoint,
        "calls": dict(sorted(calls.items())),
        "dataset_sha256": dataset_sha256,
        "acceptance": _stats_json(acceptance),
        "planned_with": _stats_json(planned_with),
        **({"profile": profile} if profile else {}),
    }
    builds = _builds(previous) | {build_name(endpoint, model): top}
    return {
        "lock_version": LOCK_VERSION,
        "spec_sha256": spec_sha256,
        "ir_sha256": ir_sha256,
        "model": model,
        "endpoint": endpoint,
        "seed": seed,
        "calls": dict(sorted(calls.items())),
        "dataset_sha256": dataset_sha256,
        "acceptance": _stats_json(acceptance),
        "planned_with": _stats_json(planned_with),
        **({"profile": profile} if profile else {}),  # the model profile that sized the plan
        **({"reference": dict(reference)} if reference else {}),  # the real rows' file (reference_entry)
        "builds": dict(sorted(builds.items())),
    }


def reference_entry(ref) -> dict:
    """The lock's `reference`: the file a build read its real rows from, its sha256 and rows."""
    return {"name": ref.name, "path": ref.path, "sha256": ref.sha256, "rows": ref.rows}


def reference_changed(lock: Mapping, ref) -> str | None:
    """Why `--frozen` refuses when the reference file differs from the one the lock names; None if it does not."""
    locked = lock.get("reference")
    if ref is None and not locked:
        return None
    if ref is None:
        return f"the reference `{locked.get('path')}` the lock names is no longer declared"
    if not isinstance(locked, Mapping):  # a lock written before locks named the file: the IR's sha256 covers it
        return None
    if locked.get("sha256") != ref.sha256:
        return (f"the reference file {ref.path} has changed since the lock was written (sha256 {ref.sha256[:12]}, "
                f"{ref.rows:,} rows; locked {str(locked.get('sha256'))[:12]}, {locked.get('rows', 0):,} rows)")
    return None


def lock_bytes(lock: Mapping) -> bytes:
    return (json.dumps(lock, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_lock(path: str | Path, lock: Mapping) -> None:
    write_atomic(Path(path), lock_bytes(lock))


def _stats(d) -> AcceptanceStats:
    if not isinstance(d, dict):
        return AcceptanceStats()
    try:
        return AcceptanceStats(rate=d.get("rate"), by_stratum=d.get("by_stratum") or {})
    except ValueError:
        return AcceptanceStats()


def build_of(lock: Optional[Mapping], endpoint: Optional[str] = None, model: Optional[str] = None) -> Optional[Mapping]:
    """The facts of the build against this endpoint and model (None: never built there); with neither given,
    the last build's (the lock's top level)."""
    if not lock:
        return None
    if endpoint is None and model is None:
        return lock
    if "builds" not in lock and not (isinstance(lock.get("model"), str) and isinstance(lock.get("endpoint"), str)):
        return lock  # a lock that names no endpoint or model: its one build is the only one known
    return _builds(lock).get(build_name(endpoint, model))


def plan_stats(lock: Optional[Mapping], ir_sha256: str, endpoint: Optional[str] = None,
               model: Optional[str] = None) -> AcceptanceStats:
    """The acceptance stats to plan with, from the build against the same endpoint and model: its last plan's
    own when the spec is unchanged (same requests, no calls), else what it measured, else the planner's
    default (another endpoint's figures say nothing about this one)."""
    build = build_of(lock, endpoint, model)
    if not build:
        return AcceptanceStats()
    if build.get("ir_sha256") == ir_sha256:
        return _stats(build.get("planned_with"))
    return _stats(build.get("acceptance"))


def call_keys(lock: Mapping, endpoint: Optional[str] = None, model: Optional[str] = None) -> set[str]:
    """The request keys a build used: the one against this endpoint and model, or (neither given) every build
    the lock keeps (what `cache gc` keeps)."""
    if endpoint is None and model is None:
        builds = [lock, *_builds(lock).values()]
    else:
        builds = [b for b in (build_of(lock, endpoint, model),) if b]
    out: set[str] = set()
    for b in builds:
        calls = b.get("calls")
        out |= set(calls) if isinstance(calls, dict) else set()
    return out
