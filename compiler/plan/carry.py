"""The contexts of the row store's index (docs/BUILD.md, "Pricing round 1 from the row store's index").

A round's verdicts on a row are functions of the row's stratum, its index and a few parts of the spec: for stage 0
(the constraints over planned values) the constraints and the fields they read; for a prompt's stage, what its
row digest is made of (plan.requests.RowDigest) and the constraints it makes decidable, and the stages before it.
A *context* is the sha256 of those parts, the stratum and index left out, so a build can record its verdicts per
(context, stratum) as runs of row indices, and a prediction that finds the same context reads them back instead
of judging every row again. The build (generate.executor) and the prediction (generate.predict) both take the
contexts from here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

from .. import ir
from ..version import __version__
from .dims import read_layout
from .model import Plan, Stratum
from .requests import RowDigest
from .stages import Schedule

CONTEXT_VERSION = 1


@dataclass(frozen=True)
class Contexts:
    """ready: the context of stage 0 (None: no constraint over planned values, so no row is dead); stages: one per
    stage of the schedule, None from the first prompt whose digest reads the reference's rows (real examples) on."""

    ready: Optional[str]
    stages: tuple[Optional[str], ...]


def contexts(spec: ir.Spec, plan: Plan, identity: str, sched: Schedule) -> Contexts:
    """The contexts of a round's stages. spec: the engine spec (plan.judges), as the round engine runs it."""
    bins = {d.field: [[b.low, b.high, b.label] for b in d.bins] for d in read_layout(spec).dims if d.bins}
    base = [CONTEXT_VERSION, __version__, plan.seed, plan.split]
    ready = None
    if sched.ready:
        ready = _sha(base + ["ready", _constraints(sched.ready), _fields(spec, _read(sched.ready), bins)])
    stages: list[Optional[str]] = []
    before: list[Optional[str]] = [ready]
    for st in sched.stages:
        prompt = spec.prompt(st.pp.prompt)
        if prompt.real_examples is not None or (stages and stages[-1] is None):
            stages.append(None)
            continue
        digest = RowDigest(spec, plan, st.pp, identity)
        reads = set(prompt.inputs) | _read(st.newly)
        stages.append(_sha(base + ["stage", digest.fixed, prompt.model_dump(mode="json"),
                                   _constraints(st.newly), _fields(spec, reads, bins), before]))
        before = before + [stages[-1]]
    return Contexts(ready, tuple(stages))


def stratum_digest(stratum: Stratum) -> str:
    """What the index keeps of a stratum's values, so a record is read only for the same values."""
    return _sha(sorted(stratum.values.items()))[:16]


def _read(constraints: Iterable[ir.Constraint]) -> set[str]:
    return {f for c in constraints for f in c.fields}


def _constraints(constraints: Sequence[ir.Constraint]) -> list:
    return [c.model_dump(mode="json") for c in constraints]


def _fields(spec: ir.Spec, names: set[str], bins: dict) -> list:
    """The IR of the fields `names` (the spec's fields among them), closed over the fields they are drawn `given`
    or derived from, with the bins the planner draws their values in."""
    by_name = {f.name: f for f in spec.fields}
    todo, seen = [n for n in names if n in by_name], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        f = by_name[name]
        todo += [d for d in f.depends_on if d in by_name]
        if f.given is not None and f.given.on in by_name:
            todo.append(f.given.on)
    return [[by_name[n].model_dump(mode="json"), bins.get(n)] for n in sorted(seen)]


def _sha(value) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---- runs of row indices: [[start, end), ...], sorted, disjoint, not touching ------------------------------------

Runs = list  # of [start, end) pairs


class RunBuilder:
    """Row indices added one by one, held as runs: memory grows with the runs, not the rows (rows mostly come in
    order within a stratum; runs out of order are merged whenever they have doubled)."""

    def __init__(self):
        self._runs: Runs = []
        self._merged = 64

    def add(self, i: int) -> None:
        runs = self._runs
        if runs and runs[-1][1] == i:
            runs[-1][1] = i + 1
            return
        runs.append([i, i + 1])
        if len(runs) > 2 * self._merged:
            self._runs = union(runs, [])
            self._merged = max(64, len(self._runs))

    def runs(self) -> Runs:
        return union(self._runs, [])


def union(a: Runs, b: Runs) -> Runs:
    out: Runs = []
    for s, e in sorted([list(r) for r in a] + [list(r) for r in b]):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def intersect(a: Runs, b: Runs) -> Runs:
    out: Runs = []
    i = j = 0
    while i < len(a) and j < len(b):
        s, e = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if s < e:
            out.append([s, e])
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Runs, b: Runs) -> Runs:
    return intersect(a, complement(b))


def complement(a: Runs) -> Runs:
    out: Runs = []
    at = 0
    for s, e in a:
        if s > at:
            out.append([at, s])
        at = max(at, e)
    out.append([at, 1 << 62])
    return out


def count(a: Runs) -> int:
    return sum(e - s for s, e in a)
