"""Which rows exist: the joint table of strata, fitted to every target and rounded to whole rows.

Per component (dimensions tied by a conditional, a joint table or a rule): enumerate the cells, drop those a
rule forbids or a target gives zero, start from the product of the marginals and rake; a fit that cannot reach
its targets is an SDS029 problem naming the targets and rules in conflict, with the nearest achievable shares.
Each component is rounded on its own (`rounding.round_table`) and the independent components are then paired
(`rounding.combine`), so a spec with many unrelated fields never builds one giant table to rake.

Guarantees: N rows in all; no row in a forbidden cell; every value of a sampled categorical field (and of a
numeric bin) within one row of N * share, exact when that is whole, for components of up to two dimensions
(larger ones: see `rounding`, a warning names any miss). A derived categorical field is a function of its
fields, rounded through their joint table: each of its cells is within a row, its marginal usually within a
row or two but not guaranteed.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from itertools import product
from typing import Mapping

from .. import ir
from ..evaluate import NO_VALUE, value_of
from ..ir import Value
from .dims import Layout, ShareTarget, generation_fields, ordered, read_layout
from .model import Marginal, MarginalValue, PlanProblem
from .rake import TOLERANCE, GroupFit, SliceFit, rake
from .rounding import bounds, combine, group_off, group_sums, misses as margin_misses, repair_groups, round_table

MAX_COMPONENT_CELLS = 200_000  # cells of one component: each is evaluated against every rule in Python
FEW_ROWS = 5  # a target cell with fewer rows than this shows little of its variety


@dataclass
class StratumAlloc:
    key: str
    values: dict[str, Value]  # sampled values, bin labels and derived categorical values, in field order
    rows: int
    expected: float


@dataclass
class Allocation:
    strata: list[StratumAlloc]
    marginals: list[Marginal]
    warnings: list[str]
    problems: list[PlanProblem]
    layout: Layout
    dealt: list[StratumAlloc] = field(default_factory=list)  # the table of the fields dealt after generation


def _sig(x: float) -> float:
    """Twelve significant digits: shares stay readable and identical across machines."""
    return float(f"{x:.12g}")


def _derive(layout: Layout, row: dict[str, Value]) -> None:
    """Add the derived categorical values `row` allows (in dependency order)."""
    for d in layout.derived:
        if d.name not in row:
            v = value_of(d.expr, row, NO_VALUE)
            if v is not NO_VALUE:
                row[d.name] = v


@dataclass
class Component:
    """One independent group of dimensions: its cells, fitted shares and whole counts."""

    layout: Layout
    dims: list[int]
    cells: list[tuple[int, ...]] = field(default_factory=list)
    labels: list[dict[str, Value]] = field(default_factory=list)  # per cell: field -> value (with derived)
    weights: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    problem: PlanProblem | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [self.layout.dims[d].field for d in self.dims]

    def _mine(self, names) -> bool:
        base: set[int] = set()
        for n in names:
            base |= self.layout.base_dims(n)
        return bool(base) and base <= set(self.dims)

    def fit(self) -> None:
        lay = self.layout
        targets = [t for t in lay.targets if self._mine(lay.target_fields(t))]
        rules = [r for r in lay.rules if self._mine(r.fields)]
        sizes = [len(lay.dims[d].values) for d in self.dims]
        if math.prod(sizes) > MAX_COMPONENT_CELLS:
            self.problem = PlanProblem(
                code="SDS030", subjects=tuple(f"field:{n}" for n in self.names),
                message=f"{' x '.join(map(str, sizes))} combinations of {', '.join(self.names)} are too many "
                        f"to fit jointly (the planner allows {MAX_COMPONENT_CELLS:,})",
                hint="tie fewer fields together with joint tables and constraints, or use fewer values")
            return
        init = self._initial(targets)
        cells, weights, labels = [], [], []
        broken_by: dict[str, list[tuple]] = {r.name: [] for r in rules}  # cells only that rule forbids
        for idx in product(*map(range, sizes)):
            w = math.prod(init[j][v] for j, v in enumerate(idx))
            if w <= 0:
                continue
            row = {lay.dims[d].field: lay.dims[d].values[v] for d, v in zip(self.dims, idx)}
            _derive(lay, row)
            if not all(self._allows(t, row) for t in targets):
                continue
            broken = [r.name for r in rules if self._breaks(r, idx, row)]
            if len(broken) == 1:
                broken_by[broken[0]].append((idx, w, row))
            if broken:
                continue
            cells.append(idx)
            weights.append(w)
            labels.append(row)
        total = sum(weights)
        self.cells, self.labels = cells, labels
        fits = self._fits(targets)
        start = [w / total for w in weights] if total else weights
        result = rake(start, fits)
        if not result.converged:
            result = self._prune_and_refit(start, result, fits) or result
        self.weights = result.weights
        if not result.converged or not cells:
            self._infeasible(targets, self._blame(rules, broken_by, weights, targets), result)

    def _initial(self, targets) -> list[list[float]]:
        """Per dimension, the starting share of each value: its marginal target, else its default shares,
        else uniform."""
        out = []
        for d in self.dims:
            dim = self.layout.dims[d]
            start = self.layout.starts.get(dim.field)
            out.append([start.get(v, 0.0) for v in dim.values] if start else [1.0 / len(dim.values)] * len(dim.values))
            for t in targets:
                if isinstance(t, ShareTarget) and t.fields == (dim.field,):
                    out[-1] = [t.shares.get((v,), 0.0) for v in dim.values]
        return out

    @staticmethod
    def _allows(t, row: dict) -> bool:
        """False when a target gives this cell zero mass (an unlisted joint cell, a zero conditional share)."""
        if isinstance(t, ShareTarget):
            key = tuple(row.get(f) for f in t.fields)
            return t.shares.get(key, 0.0) > 0
        on = row.get(t.on)
        if on not in t.probs:
            return True
        return t.probs[on].get(row.get(t.field), 0.0) > 0

    def _breaks(self, rule, idx: tuple[int, ...], row: dict) -> bool:
        """True when the rule fails at every point of the cell (bins are cut so that it cannot be mixed)."""
        lay = self.layout
        binned = [(lay.dims[d].field, lay.dims[d].points(v)) for d, v in zip(self.dims, idx)
                  if lay.dims[d].bins and lay.dims[d].field in rule.fields]
        verdicts = set()
        for pts in product(*(p for _, p in binned)):
            r = dict(row)
            r.update({name: p for (name, _), p in zip(binned, pts)})
            v = value_of(rule.expr, r, NO_VALUE)
            verdicts.add(None if v is NO_VALUE else bool(v))
        if len(verdicts) > 1:
            msg = f"constraint {rule.name} is only partly decided by the numeric bins; rows breaking it are rejected"
            if msg not in self.warnings:
                self.warnings.append(msg)
        return verdicts == {False}

    def _fits(self, targets) -> list:
        fits = []
        for t in targets:
            if isinstance(t, ShareTarget):
                keys = {k: i for i, k in enumerate(t.shares)}
                total = sum(t.shares.values()) or 1.0
                group = [keys[tuple(row.get(f) for f in t.fields)] for row in self.labels]
                fits.append(GroupFit(t.subject, group, [s / total for s in t.shares.values()]))
            else:
                subs: dict[tuple, int] = {}
                slices: dict[Value, int] = {}
                for on, probs in t.probs.items():
                    for v in probs:
                        subs.setdefault((on, v), len(subs))
                sub = [subs.setdefault((row.get(t.on), row.get(t.field)), len(subs)) for row in self.labels]
                for on, _ in subs:
                    slices.setdefault(on, len(slices))
                prob = [t.probs[on].get(v, 0.0) / (sum(t.probs[on].values()) or 1.0) if on in t.probs else None
                        for on, v in subs]
                fits.append(SliceFit(t.subject, [slices[on] for on, _ in subs], sub, prob))
        return fits

    def _prune_and_refit(self, start: list[float], result, fits):
        """Targets on the edge of feasibility make raking crawl (misses shrink like 1/sweeps) while the cells
        that must end at zero drain away. Drop the cells that lost 99% of their starting share and refit: if
        that converges, the targets are feasible, since the refit meets every one of them exactly."""
        keep = [i for i, (w, w0) in enumerate(zip(result.weights, start)) if w > 0.01 * w0]
        if not keep or len(keep) == len(self.cells):
            return None
        sub_fits = [GroupFit(f.subject, [f.group[i] for i in keep], f.target) if isinstance(f, GroupFit)
                    else SliceFit(f.subject, f.slice_of_sub, [f.sub[i] for i in keep], f.prob) for f in fits]
        w = [result.weights[i] for i in keep]
        again = rake([x / sum(w) for x in w], sub_fits)
        if not again.converged:
            return None
        self.cells = [self.cells[i] for i in keep]
        self.labels = [self.labels[i] for i in keep]
        return again

    def _blame(self, rules, broken_by, weights, targets) -> list:
        """The rules whose removal alone would make the targets feasible; all forbidding rules if none does."""
        forbidding = [r for r in rules if broken_by[r.name]]
        if len(forbidding) <= 1 or len(forbidding) > 8:
            return forbidding
        culprits = []
        cells, labels = self.cells, self.labels
        for r in forbidding:
            self.cells = cells + [c for c, _, _ in broken_by[r.name]]
            self.labels = labels + [row for _, _, row in broken_by[r.name]]
            w = weights + [x for _, x, _ in broken_by[r.name]]
            if rake([x / sum(w) for x in w], self._fits(targets)).converged:
                culprits.append(r)
        self.cells, self.labels = cells, labels
        return culprits or forbidding

    def _infeasible(self, targets, rules, result) -> None:
        bad = [t for t in targets if result.misses.get(t.subject, 0.0) > TOLERANCE]
        subjects = list(dict.fromkeys([t.subject for t in bad] + [f"constraint:{r.name}" for r in rules]))
        subjects = subjects or [f"field:{n}" for n in self.names]
        what = ", ".join(s.replace(":", " ", 1) for s in subjects)
        nearest = []
        for t in bad:
            if isinstance(t, ShareTarget) and len(t.fields) == 1:
                got: dict[Value, float] = {}
                for row, w in zip(self.labels, result.mean):
                    got[row[t.fields[0]]] = got.get(row[t.fields[0]], 0.0) + w
                shown = [f"{v[0]} {_pct(s)} -> {_pct(got.get(v[0], 0.0))}" for v, s in t.shares.items()
                         if abs(got.get(v[0], 0.0) - s) > 5e-4]
                if shown:
                    nearest.append(f"{t.fields[0]}: " + ", ".join(shown))
        self.problem = PlanProblem(
            code="SDS029", subjects=tuple(subjects),
            message=f"infeasible targets: {what} cannot all hold"
                    + (f" (off by {_pct(result.residual)} of rows)" if result.residual < 1 else ""),
            hint=("nearest achievable shares: " + "; ".join(nearest)) if nearest else
                 "relax a share or the constraint: no table of rows meets all of them")

    def round(self, total: int) -> list[str]:
        """Whole counts per cell; returns the margins it could not keep within a row."""
        lay = self.layout
        margin_targets = []
        for j, d in enumerate(self.dims):
            dim = lay.dims[d]
            declared = next((t for t in lay.targets if isinstance(t, ShareTarget) and t.fields == (dim.field,)),
                            None)
            if declared is not None:
                scale = total / (sum(declared.shares.values()) or 1.0)
                margin_targets.append([scale * declared.shares.get((v,), 0.0) for v in dim.values])
            else:
                fitted = [0.0] * len(dim.values)
                for c, w in zip(self.cells, self.weights):
                    fitted[c[j]] += w * total
                margin_targets.append(fitted)
        reals = [w * total for w in self.weights]
        self.counts, misses = round_table(self.cells, reals, total, margin_targets)
        out = self._round_groups(reals, margin_targets)
        if out is not None:  # the multi-field targets were repaired: the single margins are re-judged
            misses = margin_misses(self.cells, self.counts, [[bounds(t) for t in tj] for tj in margin_targets])
        else:
            out = []
        few = [(n, i) for i, n in enumerate(self.counts) if 0 < n < FEW_ROWS]
        if few:
            n, i = min(few)
            out.append(few_rows_message(len(few), len(self.dims), self.names, self.labels[i], n))
        for m in misses:
            j, v = map(int, m.split(":"))
            dim = lay.dims[self.dims[j]]
            out.append(f"could not keep {dim.field} = {dim.values[v]} within one row of its target "
                       f"({margin_targets[j][v]:.1f} rows): forbidden combinations of {', '.join(self.names)} "
                       f"leave no room")
        return out


    def _round_groups(self, reals: list[float], margin_targets: list[list[float]]) -> list[str] | None:
        """Joint tables and conditionals over this component's fields, kept within one row of the fitted
        table: rounding three or more dimensions keeps single margins only, so a joint whose member also
        conditions a `given` could miss its cells by several rows. None when nothing missed; else warnings
        for what could not be repaired (rounding.repair_groups)."""
        lay, names = self.layout, self.names
        multi = []
        for t in lay.targets:
            fields = lay.target_fields(t)
            if len(fields) > 1 and all(f in names for f in fields):
                dims = tuple(names.index(f) for f in fields)
                fitted: dict[tuple[int, ...], float] = {}
                for c, x in zip(self.cells, reals):
                    key = tuple(c[d] for d in dims)
                    fitted[key] = fitted.get(key, 0.0) + x
                multi.append((t, dims, fitted))
        groups = [(dims, {k: bounds(x) for k, x in fitted.items()}) for _, dims, fitted in multi]
        if not any(group_off(self.cells, self.counts, dims, bnds) for dims, bnds in groups):
            return None
        singles = [((j,), {(v,): bounds(t) for v, t in enumerate(tj)}) for j, tj in enumerate(margin_targets)]
        still = repair_groups(self.cells, self.counts, groups + singles)
        out = []
        for g in (g for g in still if g < len(multi)):
            t, dims, fitted = multi[g]
            sums = group_sums(self.cells, self.counts, dims)
            worst = max(fitted, key=lambda k: (abs(sums.get(k, 0) - fitted[k]), k))
            shown = ", ".join(f"{names[d]} = {lay.dims[self.dims[d]].values[v]}" for d, v in zip(dims, worst))
            out.append(f"could not keep {t.subject.replace(':', ' ', 1)} within one row of its target: {shown} "
                       f"gets {sums.get(worst, 0)} rows for a target of {fitted[worst]:.1f}")
        return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def stratum_key(sampled: dict[str, Value]) -> str:
    """sha256 of the stratum's sampled values (not the seed, not N): the stable prefix of its row ids."""
    text = json.dumps(sampled, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def planned_targets(spec: ir.Spec) -> dict[str, dict[Value, float]]:
    """{field: {value: target share}} of every categorical field as the plan states it (Plan.marginals): a
    declared share as declared, a default one (`category [..]`, a bare `bool`) as the constraints reshape it.
    Empty when the targets cannot be planned. The validator compares with these, so a build is judged
    against the targets it was planned for."""
    alloc = _allocated(spec)
    return {} if alloc.problems else {m.field: {v.value: v.target_share for v in m.values} for m in alloc.marginals}


def _allocated(spec: ir.Spec) -> Allocation:
    """allocate(spec, deal=False), kept for the last spec asked: check and validate ask twice."""
    key = spec.digest()
    if key not in _ALLOCATED:
        _ALLOCATED.clear()
        _ALLOCATED[key] = allocate(spec, deal=False)
    return _ALLOCATED[key]


_ALLOCATED: dict[str, Allocation] = {}


def allocate(spec: ir.Spec, deal: bool = True) -> Allocation:
    """Fit, round and pair every component; strata come back in declared value order. With deal=False every
    component is in the strata (none is dealt after generation): complete mode counts real rows per stratum."""
    layout = read_layout(spec)
    total = spec.dataset.rows
    comps = [Component(layout, dims) for dims in layout.components]
    warnings = list(layout.warnings)
    problems = []
    for c in comps:
        c.fit()
        warnings += c.warnings
        if c.problem:
            problems.append(c.problem)
    if problems:
        return Allocation([], [], warnings, problems, layout)
    if not comps:  # no categorical field: one stratum holds every row
        comps = [Component(layout, [], cells=[()], labels=[{}], weights=[1.0])]
    for c in comps:
        warnings += c.round(total)
    gen = generation_fields(spec, layout)
    # Components no prompt or judged constraint reads are paired on their own and dealt to the rows after
    # generation (plan.identity): they can change without changing the strata, the ids or the requests.
    rest = [c for c in comps if deal and c.dims and not any(layout.dims[d].field in gen for d in c.dims)]
    first = [c for c in comps if c not in rest]
    strata = _table(spec, layout, first, total)
    dealt = _table(spec, layout, rest, total) if rest else []
    _shorten_keys(strata)
    _shorten_keys(dealt)
    return Allocation(strata, _marginals(spec, layout, comps, strata + dealt, total), warnings, [], layout, dealt)


def _table(spec: ir.Spec, layout: Layout, comps: list[Component], total: int) -> list[StratumAlloc]:
    """The components paired into whole rows per combination of their cells, in declared value order."""
    paired = combine([c.counts for c in comps], total, spec.dataset.seed) if comps else {(): total}
    order = [f.name for f in spec.fields]
    out = []
    for combo in sorted(paired, key=lambda combo: tuple(v for c, k in zip(comps, combo) for v in c.cells[k])):
        sampled: dict[str, Value] = {}
        for c, k in zip(comps, combo):
            sampled.update({n: c.labels[k][n] for n in c.names})
        values = dict(sampled)
        _derive(layout, values)
        values = {n: values[n] for n in order if n in values}
        expected = total * math.prod(c.weights[k] for c, k in zip(comps, combo))
        out.append(StratumAlloc(stratum_key(sampled), values, paired[combo], _sig(expected)))
    return out


def short_keys(keys: list[str]) -> list[str]:
    """Ten hex digits per key, sixteen for the rare keys whose first ten collide."""
    seen: dict[str, int] = {}
    for k in keys:
        seen[k[:10]] = seen.get(k[:10], 0) + 1
    return [k[:10] if seen[k[:10]] == 1 else k[:16] for k in keys]


def _shorten_keys(strata: list[StratumAlloc]) -> None:
    for s, k in zip(strata, short_keys([s.key for s in strata])):
        s.key = k


def _fitted_shares(layout: Layout, comps: list[Component], name: str, limit: int = 1_000_000):
    """The share of each value of a field under the fitted tables of the components it depends on."""
    base = layout.base_dims(name)
    involved = [c for c in comps if set(c.dims) & base]
    if math.prod(len(c.cells) for c in involved) > limit:
        return None
    out: dict[Value, float] = {}
    for combo in product(*(range(len(c.cells)) for c in involved)):
        row: dict[str, Value] = {}
        for c, k in zip(involved, combo):
            row.update({n: c.labels[k][n] for n in c.names})
        _derive(layout, row)
        if name in row:
            w = math.prod(c.weights[k] for c, k in zip(involved, combo))
            out[row[name]] = out.get(row[name], 0.0) + w
    return out


def _marginals(spec: ir.Spec, layout: Layout, comps: list[Component], strata, total: int) -> list[Marginal]:
    """Target share and planned rows of every value of every categorical field (sampled and derived)."""
    out = []
    declared = {t.fields[0]: t for t in layout.targets if isinstance(t, ShareTarget) and len(t.fields) == 1}
    by_name = {f.name: f for f in spec.fields}
    for f in spec.fields:
        if not f.categorical:
            continue
        planned: dict[Value, int] = {}
        for s in strata:
            if f.name in s.values:
                planned[s.values[f.name]] = planned.get(s.values[f.name], 0) + s.rows
        fitted = _fitted_shares(layout, comps, f.name)
        if fitted is None:  # too many combinations to enumerate: estimate from the strata that got rows
            fitted = {}
            for s in strata:
                if f.name in s.values:
                    fitted[s.values[f.name]] = fitted.get(s.values[f.name], 0.0) + s.expected / max(total, 1)
        seen = list(dict.fromkeys(list(fitted) + list(planned)
                                  + ([k[0] for k in declared[f.name].shares] if f.name in declared else [])))
        values = [v for v in ordered(seen, by_name[f.name].type.values)]
        rows = []
        for v in values:
            share = declared[f.name].shares.get((v,), 0.0) if f.name in declared else fitted.get(v, 0.0)
            rows.append(MarginalValue(value=v, target_share=_sig(share), planned_rows=planned.get(v, 0)))
        out.append(Marginal(field=f.name, values=tuple(rows)))
    return out


def few_rows_message(count: int, dims: int, names, label: Mapping, n: int) -> str:
    """The warning for strata planned below FEW_ROWS rows. Without field names to show (a stratum that no named
    field sets) it says so in words, never `of  ... (e.g. : 3)`."""
    shown = ", ".join(f"{k}={v}" for k, v in label.items() if k in names)
    plural = count > 1
    if names:
        what = "value" if dims == 1 else "combination"
        head = f"{count} {what}{'s' * plural} of {', '.join(names)} get{'s' * (not plural)}"
    else:
        head = f"{count} strat{'a' if plural else 'um'} get{'s' * (not plural)}"
    example = f"e.g. {shown}: {n}" if shown else f"the smallest: {n}"
    return f"{head} fewer than {FEW_ROWS} rows ({example}); too few to show their variety"
