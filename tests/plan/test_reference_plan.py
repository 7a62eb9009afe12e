"""Complete mode in the planner (plan.complete): each stratum asks for exactly max(0, target - real) rows."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_plan_properties import random_specs

from synthc import ir
from synthc.plan import build_plan
from synthc.plan.allocate import allocate

SETTINGS = settings(max_examples=int(os.environ.get("PLAN_EXAMPLES", 100)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def with_reference(sp: ir.Spec, counts: dict[tuple, int], downsample: bool = False) -> ir.Spec:
    fields = tuple(f.name for f in sp.fields if f.role == "sampled" and f.categorical)
    ref = ir.Reference(
        name="real", path="data/real.jsonl", format="jsonl",
        columns={f.name: f.name for f in sp.fields if f.role != "derived"}, sha256="0" * 64,
        rows=sum(counts.values()), usable=sum(counts.values()), complete=True, downsample=downsample,
        strata_fields=fields,
        counts=tuple(ir.RealCount(values=dict(zip(fields, k)), rows=n) for k, n in sorted(counts.items(), key=str)))
    return sp.model_copy(update={"reference": ref})


@st.composite
def specs_with_real_counts(draw):
    sp = draw(random_specs())
    alloc = allocate(sp)
    fields = [f.name for f in sp.fields if f.role == "sampled" and f.categorical]
    targets = {tuple(s.values[f] for f in fields): s.rows for s in alloc.strata}
    counts = {}
    for combo, target in targets.items():
        kind = draw(st.sampled_from(["none", "under", "exact", "over"]))
        if kind == "under" and target > 0:
            counts[combo] = draw(st.integers(1, max(1, target - 1)))
        elif kind == "exact" and target > 0:
            counts[combo] = target
        elif kind == "over":
            counts[combo] = target + draw(st.integers(1, 50))
    return sp, targets, counts, draw(st.booleans())


@SETTINGS
@given(specs_with_real_counts())
def test_each_stratum_plans_exactly_the_rows_its_real_data_lacks(case):
    sp, targets, counts, downsample = case
    base = build_plan(sp)
    if not base.ok:
        return
    plan = build_plan(with_reference(sp, counts, downsample))
    assert plan.ok and plan.real is not None
    fields = plan.real.fields
    by_combo = {tuple(s.values[f] for f in fields): s for s in plan.real.strata}
    for combo, target in targets.items():
        s = by_combo[combo]
        real = counts.get(combo, 0)
        assert (s.target, s.real, s.synthetic) == (target, real, max(0, target - real))
        assert s.kept == (min(real, target) if downsample else real)
    planned = {tuple(s.values[f] for f in fields): s.rows for s in plan.strata}
    assert planned == {c: max(0, t - counts.get(c, 0)) for c, t in targets.items() if t - counts.get(c, 0) > 0}
    assert plan.rows == sum(planned.values())
    if downsample:  # the dataset meets N exactly: real rows kept plus synthetic rows
        assert plan.real.real_rows + plan.real.synthetic_rows == sp.dataset.rows
    over = [c for c, t in targets.items() if counts.get(c, 0) > t]
    assert any("over-filled" in w for w in plan.warnings) == bool(over)
    # the synthetic rows are packed like any quota: every prompt's calls write exactly the rows asked for
    for pp in plan.prompts:
        assert pp.rows == sum(s.requested for s in plan.strata)
