"""Rows and calls on demand: a plan stores quotas and batches; this turns them into row values and calls.

Row `index` of a stratum always gets the same id and the same sampled values, whatever N is, because both
are functions of (stratum values, index, seed) alone. In a stratum with cells (plan.identity) the values of
fields no prompt reads are not known by index: `deal` gives them to the rows kept, cell by cell.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

from .. import ir
from ..evaluate import NO_VALUE, value_of
from .dims import Bin, generation_fields, read_layout
from .fewshot import nearest_strata, stratum_inputs
from .model import Plan, PromptPlan, Stratum, row_id
from .numeric import NumericDist, is_numeric_sampled, numeric_dist, shift, unit_points


@dataclass(frozen=True)
class Call:
    prompt: str
    id: str
    rows: tuple[tuple[int, int], ...]  # (stratum number, row index)


def call_id(prompt: str, first_row: str, size: int) -> str:
    """Unique within a build: a row belongs to one call per prompt, and later rounds use fresh row indices."""
    return f"{prompt}:{first_row}:{size}"


def iter_calls(pp: PromptPlan, strata: Sequence[Stratum]) -> Iterator[Call]:
    for b in pp.batches:
        if b.calls > 1:
            seg = b.segments[0]
            per = seg.count // b.calls
            groups = [[(seg.stratum, seg.start + c * per + i) for i in range(per)] for c in range(b.calls)]
        else:
            groups = [[(seg.stratum, seg.start + i) for seg in b.segments for i in range(seg.count)]]
        for rows in groups:
            first = row_id(strata[rows[0][0]].key, rows[0][1])
            yield Call(pp.prompt, call_id(pp.prompt, first, len(rows)), tuple(rows))


class RowSource:
    """The sampled and derived values of any row of a plan (generated fields are not known yet)."""

    def __init__(self, spec: ir.Spec, plan: Plan):
        self.spec, self.plan = spec, plan
        self.numeric = [f for f in spec.fields if is_numeric_sampled(f)]
        self.derived = spec.derived_order()
        layout = read_layout(spec)
        self.bins: dict[str, dict[str, Bin]] = {d.field: {b.label: b for b in d.bins} for d in layout.dims if d.bins}
        gen = generation_fields(spec, layout)
        self.by_cell = [f for f in self.numeric if f.name not in gen]  # drawn per row by `finish` in split plans
        self._dists: dict[tuple, NumericDist | None] = {}

    def _dist(self, f: ir.Field, values: dict) -> NumericDist | None:
        on = values.get(f.given.on) if f.given is not None else None
        if (f.name, on) not in self._dists:
            try:
                self._dists[(f.name, on)] = numeric_dist(f, on)
            except ValueError:
                self._dists[(f.name, on)] = None
        return self._dists[(f.name, on)]

    def numeric_values(self, f: ir.Field, values: dict, key: str, start: int, count: int) -> list:
        """Values of numeric field f for rows start..start+count-1 of the stratum or cell with `values`, `key`."""
        return self._draw(f, values, unit_points(self.plan.seed, f.name, key, start, count))

    def _draw(self, f: ir.Field, values: dict, us: list[float]) -> list:
        """Field f's values at unit points `us`, inside the bin and condition `values` give it."""
        dist = self._dist(f, values)
        if dist is None:
            return [None] * len(us)
        lo, hi = 0.0, 1.0
        b = self.bins.get(f.name, {}).get(values.get(f.name))
        if b is not None:
            lo, hi = dist.cdf(b.low), dist.cdf(b.high)
        return [dist.value(dist.quantile(lo + u * (hi - lo))) for u in us]

    def rows(self, stratum_index: int, start: int, count: int, fields: Iterable[str] | None = None) -> list[dict]:
        """Rows start..start+count-1 of a stratum: `id`, then field values (all, or just `fields`)."""
        s = self.plan.strata[stratum_index]
        out = [{"id": row_id(s.key, start + i), **s.values} for i in range(count)]
        later = {f.name for f in self.by_cell} if self.plan.split else set()
        for f in self.numeric:
            if f.name not in later:
                for row, v in zip(out, self.numeric_values(f, s.values, s.key, start, count)):
                    row[f.name] = v
        self._derive(out)
        if fields is not None:
            keep = {"id", *fields}
            out = [{k: v for k, v in row.items() if k in keep} for row in out]
        return out

    def _derive(self, rows: list[dict]) -> None:
        for row in rows:
            for f in self.derived:
                if f.name in row:
                    continue
                v = value_of(f.expr, row, NO_VALUE)
                if v is not NO_VALUE:
                    row[f.name] = v

    def deal(self, stratum_index: int, rows: list[dict]) -> None:
        """Give the kept rows of a stratum with cells (as many as its quota) their cells' values: in the order
        of a hash of (seed, row id), cell 0 takes the first `cells[0].rows` rows, and so on. A row's place in
        that order is its own, so when quotas change (N, a share) the rows that leave are spread over the
        cells as the quotas shrink, and few rows change cell; dealing by row index would move a boundary."""
        _deal(self.plan.strata[stratum_index].cells, rows, self.plan.seed)

    def finish(self, rows: list[dict]) -> None:
        """After generation, on every kept row of a split plan (`Plan.split`): deal `Plan.dealt` over all rows
        as `deal` does within a stratum, draw the numeric fields no prompt reads (one point per row, from a
        hash of its id, inside its bin and condition: stable whatever other rows come and go), then compute
        the derived fields that read them."""
        for row, cell in zip(rows, self.dealt_cells([row["id"] for row in rows])):
            self.finish_row(row, int(cell))

    def dealt_cells(self, ids: Sequence[str]) -> np.ndarray:
        """`finish`'s deal from the kept rows' ids alone (in any order): for each, the index in `Plan.dealt` of the
        cell it is dealt into, -1 for none. So a caller can stream the rows: their ids first, then each row through
        `finish_row` (generate.select.iter_rows)."""
        digests = np.empty(len(ids), dtype="S32")
        for n, rid in enumerate(ids):
            digests[n] = _deal_key(self.plan.seed, rid)
        order = np.argsort(digests, kind="stable")  # equal-length byte strings: numpy's order is bytes order
        cells = np.full(len(ids), -1, dtype=np.int32)
        at = 0
        for n, c in enumerate(self.plan.dealt):
            cells[order[at: at + c.rows]] = n
            at += c.rows
        return cells

    def finish_row(self, row: dict, cell: int) -> None:
        """`finish` on one row dealt into `Plan.dealt[cell]` (-1: none): its cell's values, the numeric fields no
        prompt reads, the derived fields that read them."""
        if cell >= 0:
            row.update(self.plan.dealt[cell].values)
        for f in self.by_cell:
            row[f.name] = self._draw(f, row, [shift(self.plan.seed, f.name, row["id"])])[0]
        self._derive([row])

    def row(self, stratum_index: int, index: int, fields: Iterable[str] | None = None) -> dict:
        return self.rows(stratum_index, index, 1, fields)[0]


def _deal_key(seed: int, rid: str) -> bytes:
    return hashlib.sha256(f"{seed}\x1f{rid}".encode()).digest()


def _deal(cells, rows: list[dict], seed: int) -> None:
    order = sorted(rows, key=lambda r: _deal_key(seed, r["id"]))
    at = 0
    for c in cells:
        for row in order[at: at + c.rows]:
            row.update(c.values)
        at += c.rows


def nearest_calls(spec: ir.Spec, plan) -> list[dict]:
    """report.json `examples_nearest`: per prompt and stratum whose calls show rows of the nearest stratum,
    the two strata and the round-1 calls led by a row of it (top-ups of the stratum do the same)."""
    out = []
    for pp in plan.prompts:
        p = spec.prompt(pp.prompt)
        found = nearest_strata(spec, p, plan.strata)
        if not found:
            continue
        fields = stratum_inputs(spec, p)
        calls: dict[tuple, int] = {}
        for call in iter_calls(pp, plan.strata):
            values = plan.strata[call.rows[0][0]].values
            combo = tuple(values.get(n) for n in fields)
            calls[combo] = calls.get(combo, 0) + 1
        out += [{"prompt": p.name, "stratum": s, "from": n, "calls": calls.get(tuple(s.values()), 0)}
                for s, n in found]
    return out
