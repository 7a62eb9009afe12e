"""Complete to the targets (LANGUAGE.md, "Completing to the targets"): with a reference marked `complete`, every
stratum's target (from the usual allocation) is met by real and synthetic rows together.

`fill_to_targets` runs between the allocation and the batching: it takes the real rows of each stratum (counted
by the checker with DuckDB, `ir.Reference.counts`) off its quota, so the stratum asks for exactly
`max(0, target - real)` synthetic rows, and the batcher packs those into the fewest calls as always. Strata the
real data over-fills are reported; with `downsample` only `target` of their real rows are kept (emit.reference
picks them by the seed). Real combinations no stratum has (a value a rule forbids, a zero share) have target 0.
"""

from __future__ import annotations

from typing import Optional

from .. import ir
from ..limits import MAX_ROWS
from .allocate import Allocation, stratum_key
from .model import Marginal, MarginalValue, PlanProblem, RealPlan, RealStratum


def completing(spec: ir.Spec) -> bool:
    return spec.reference is not None and spec.reference.complete


def synthetic_quota(target: int, real: int) -> int:
    """What a stratum asks the model for: exactly the rows its real data lacks."""
    return max(0, target - real)


def fill_to_targets(spec: ir.Spec, alloc: Allocation) -> tuple[Optional[RealPlan], list[str], list[PlanProblem]]:
    """Lower each allocated stratum's quota to its synthetic rows (in place); the real plan, notes and problems."""
    ref = spec.reference
    fields = ref.strata_fields
    by_name = {f.name: f for f in spec.fields}
    binned = sorted({n for s in alloc.strata for n in s.values
                     if by_name[n].role == "sampled" and not by_name[n].categorical})
    if binned:
        return None, [], [PlanProblem(
            code="SDS085", subjects=tuple(f"field:{n}" for n in binned),
            message=f"complete mode cannot count real rows into the numeric bins of {', '.join(binned)}",
            hint="the planner cuts these fields into bins for a rule; relate them to no categorical field, or "
                 "drop `complete`")]
    real = {tuple(c.values.get(f) for f in fields): c.rows for c in ref.counts}
    out: list[RealStratum] = []
    seen = set()
    for s in alloc.strata:
        combo = tuple(s.values.get(f) for f in fields)
        have = real.get(combo, 0) if combo not in seen else 0  # a combination is counted once
        seen.add(combo)
        target = s.rows
        s.rows = synthetic_quota(target, have)
        kept = min(have, target) if ref.downsample else have
        out.append(RealStratum(key=s.key, values=dict(s.values), target=target, real=have, kept=kept,
                               synthetic=s.rows))
    for combo, n in sorted(real.items(), key=lambda kv: [str(v) for v in kv[0]]):
        if combo not in seen:
            values = dict(zip(fields, combo))
            out.append(RealStratum(key=stratum_key(values)[:10], values=values, target=0, real=n,
                                   kept=0 if ref.downsample else n, synthetic=0))
    size = sum(s.kept + s.synthetic for s in out)
    if size > MAX_ROWS:  # the completed dataset is held and written whole: the limit of `rows` bounds it too
        kept = sum(s.kept for s in out)
        return None, [], [PlanProblem(
            code="SDS090", subjects=("dataset",),
            message=f"the completed dataset would hold {size:,} rows ({kept:,} real and {size - kept:,} synthetic), "
                    f"above the limit of {MAX_ROWS:,} rows",
            hint="set `downsample = true` in the reference to keep at most each stratum's target of real rows"
            if not ref.downsample else "lower `rows`")]
    alloc.strata = [s for s in alloc.strata if s.rows > 0]
    plan = RealPlan(reference=ref.name, path=ref.path, sha256=ref.sha256, file_rows=ref.rows, usable=ref.usable,
                    downsample=ref.downsample, holdout=ref.holdout, fields=fields, strata=tuple(out))
    return plan, _notes(plan), []


def _notes(plan: RealPlan) -> list[str]:
    over = [s for s in plan.strata if s.overfilled]
    if not over:
        return []
    extra = sum(s.real - s.target for s in over)
    shown = "; ".join(f"{_label(s.values)}: {s.real:,} real for {s.target:,}" for s in over[:5])
    more = f" and {len(over) - 5} more" if len(over) > 5 else ""
    what = (f"downsample keeps {sum(s.kept for s in over):,} of their real rows, chosen by the seed"
            if plan.downsample else f"every real row is kept, so the dataset has {extra:,} rows more than its targets "
                                    f"(set `downsample = true` to sample them down)")
    return [f"{len(over)} strat{'um' if len(over) == 1 else 'a'} over-filled by the real data ({shown}{more}): {what}"]


def _label(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "all rows"


def marginals(plan: RealPlan, old: list[Marginal]) -> list[Marginal]:
    """The marginals' planned rows counted over real rows kept and synthetic rows together."""
    out = []
    for m in old:
        planned: dict = {}
        for s in plan.strata:
            if m.field in s.values:
                planned[s.values[m.field]] = planned.get(s.values[m.field], 0) + s.kept + s.synthetic
        if not planned:
            out.append(m)
            continue
        out.append(Marginal(field=m.field, values=tuple(
            MarginalValue(value=v.value, target_share=v.target_share, planned_rows=planned.get(v.value, 0))
            for v in m.values)))
    return out


def stratum_costs(plan_strata, prompts) -> dict[int, tuple[int, Optional[float]]]:
    """Per planned stratum index: calls that write some of its rows, and its share of the cost by rows."""
    calls: dict[int, int] = {}
    cost: dict[int, Optional[float]] = {}
    for pp in prompts:
        for b in pp.batches:
            for seg in b.segments:
                calls[seg.stratum] = calls.get(seg.stratum, 0) + (b.calls if b.calls > 1 else 1)
                if pp.cost_est_usd is None or not pp.rows:
                    cost[seg.stratum] = None
                elif cost.get(seg.stratum, 0.0) is not None:
                    cost[seg.stratum] = cost.get(seg.stratum, 0.0) + pp.cost_est_usd * seg.count / pp.rows
    return {i: (calls.get(i, 0), cost.get(i, 0.0 if i in calls else 0.0)) for i in range(len(plan_strata))}

