"""Rows and calls on demand: a plan stores quotas and batches; this turns them into row values and calls.

Row `index` of a stratum always gets the same id and the same sampled values, whatever N is, because both
are functions of (stratum values, index, seed) alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

from .. import ir
from ..evaluate import Unknown, evaluate
from .dims import Bin, read_layout
from .model import Plan, PromptPlan, Stratum, row_id
from .numeric import NumericDist, is_numeric_sampled, numeric_dist, unit_points


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
        self.derived = [f for f in spec.fields if f.role == "derived" and f.expr is not None]
        self.bins: dict[str, dict[str, Bin]] = {
            d.field: {b.label: b for b in d.bins} for d in read_layout(spec).dims if d.bins}
        self._dists: dict[tuple, NumericDist | None] = {}

    def _dist(self, f: ir.Field, stratum: Stratum) -> NumericDist | None:
        on = stratum.values.get(f.given.on) if f.given is not None else None
        if (f.name, on) not in self._dists:
            try:
                self._dists[(f.name, on)] = numeric_dist(f, on)
            except ValueError:
                self._dists[(f.name, on)] = None
        return self._dists[(f.name, on)]

    def numeric_values(self, f: ir.Field, stratum: Stratum, start: int, count: int) -> list:
        """Values of numeric field f for rows start..start+count-1 of the stratum."""
        dist = self._dist(f, stratum)
        if dist is None:
            return [None] * count
        lo, hi = 0.0, 1.0
        b = self.bins.get(f.name, {}).get(stratum.values.get(f.name))
        if b is not None:
            lo, hi = dist.cdf(b.low), dist.cdf(b.high)
        us = unit_points(self.plan.seed, f.name, stratum.key, start, count)
        return [dist.value(dist.quantile(lo + u * (hi - lo))) for u in us]

    def rows(self, stratum_index: int, start: int, count: int, fields: Iterable[str] | None = None) -> list[dict]:
        """Rows start..start+count-1 of a stratum: `id`, then field values (all, or just `fields`)."""
        s = self.plan.strata[stratum_index]
        out = [{"id": row_id(s.key, start + i), **s.values} for i in range(count)]
        for f in self.numeric:
            for row, v in zip(out, self.numeric_values(f, s, start, count)):
                row[f.name] = v
        for row in out:
            for f in self.derived:
                if f.name in row:
                    continue
                try:
                    row[f.name] = evaluate(f.expr, row)
                except (Unknown, TypeError, ValueError, KeyError, ZeroDivisionError):
                    pass
        if fields is not None:
            keep = {"id", *fields}
            out = [{k: v for k, v in row.items() if k in keep} for row in out]
        return out

    def row(self, stratum_index: int, index: int, fields: Iterable[str] | None = None) -> dict:
        return self.rows(stratum_index, index, 1, fields)[0]
